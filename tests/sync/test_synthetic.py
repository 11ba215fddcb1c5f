"""The synthetic generator: deterministic, documented shapes, realistic dirt, and a usable ground truth."""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import unicodedata
from decimal import Decimal
from pathlib import Path

import phonenumbers
import pytest

from synthetic import ALL_OBJECTS, OBJECTS, generate, write_dataset
from synthetic.ids import SF_PREFIX, USCC_CHARS, sf_checksum_ok

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "synthetic-data.md"
N = 2000
SEED = 7

TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
DATE = re.compile(r"\d{4}-\d\d-\d\d\Z")
MONEY = re.compile(r"-?\d+\.\d\d\Z")
NOW = "2026-11-01T00:00:00Z"
CJK = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture(scope="module")
def records() -> list[tuple[str, str, dict]]:
    return list(generate(N, SEED))


@pytest.fixture(scope="module")
def by_object(records) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = collections.defaultdict(list)
    for _system, obj, rec in records:
        out[obj].append(rec)
    return out


@pytest.fixture(scope="module")
def links(by_object) -> list[dict]:
    return by_object["links"]


def _digest(customers: int, seed: int) -> str:
    h = hashlib.sha256()
    for system, obj, rec in generate(customers, seed):
        h.update(json.dumps([system, obj, rec], ensure_ascii=False).encode())
    return h.hexdigest()


# -- determinism ------------------------------------------------------------------------------------
def test_same_seed_same_records_in_another_process_with_another_hash_seed():
    here = _digest(300, 11)
    code = ("import hashlib, json; from synthetic import generate; h = hashlib.sha256()\n"
            "for s, o, r in generate(300, 11): h.update(json.dumps([s, o, r], ensure_ascii=False).encode())\n"
            "print(h.hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                           check=True).stdout.strip()
    assert here == there
    assert _digest(300, 12) != here


def test_files_are_byte_identical_whatever_the_number_of_workers(tmp_path):
    seen: list[int] = []
    one = write_dataset(tmp_path / "one", 1500, SEED, workers=1, progress=lambda done, total: seen.append(done))
    two = write_dataset(tmp_path / "two", 1500, SEED, workers=2)
    again = write_dataset(tmp_path / "again", 1500, SEED, workers=1)
    assert one == two == again
    assert seen[-1] == 1500 and seen == sorted(seen)
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.jsonl"))
    assert Path("truth.jsonl") in files and Path("salesforce/Account.jsonl") in files
    for rel in files:
        data = (tmp_path / "one" / rel).read_bytes()
        assert data == (tmp_path / "two" / rel).read_bytes() == (tmp_path / "again" / rel).read_bytes(), rel
    counted = {str(rel.with_suffix("")): sum(1 for _ in (tmp_path / "one" / rel).open("rb")) for rel in files}
    assert counted.pop("truth") == one["truth/links"]
    assert all(counted[key] == n for key, n in one.items() if key != "truth/links")


def test_the_files_hold_the_generated_records(tmp_path):
    write_dataset(tmp_path, 200, SEED)
    from_files = [json.loads(line) for line in (tmp_path / "finance" / "invoices.jsonl").open(encoding="utf-8")]
    assert from_files == [r for _, o, r in generate(200, SEED) if o == "invoices"]


def test_an_object_filter_yields_exactly_the_unfiltered_records(records):
    for chosen in ({"Account", "customers", "accounts", "links"}, {"invoices", "Case"}, {"order_lines"}):
        filtered = list(generate(N, SEED, objects=chosen))
        assert filtered == [r for r in records if r[1] in chosen]
        assert filtered


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match=r"unknown object 'Acount' \(did you mean 'Account'\?\)"):
        generate(10, objects={"Acount"})
    with pytest.raises(ValueError, match="negative"):
        generate(-1)
    with pytest.raises(ValueError, match="workers"):
        write_dataset(Path("/nonexistent"), 10, 1, workers=0)


# -- documented shapes ------------------------------------------------------------------------------
def _documented_fields() -> dict[str, set[str]]:
    """Field names per object from the tables in docs/synthetic-data.md (the contract)."""
    fields: dict[str, set[str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or cells[0] in ("object", "") or set(cells[0]) <= {"-"}:
            continue
        depth, part, names = 0, "", set()
        for ch in cells[1] + ",":
            if ch in "({":
                depth += 1
            elif ch in ")}":
                depth -= 1
            if ch == "," and depth == 0:
                names.add(re.match(r"\s*([A-Za-z_]\w*)", part).group(1))
                part = ""
            else:
                part += ch
        fields[cells[0]] = names
    return fields


def test_every_record_carries_exactly_the_documented_fields(by_object):
    documented = _documented_fields()
    writeback = set(re.findall(r"(CRM2_\w+__c)", DOC.read_text(encoding="utf-8")))
    assert set(documented) == ALL_OBJECTS - {"links"}
    for obj, expected in documented.items():
        assert by_object[obj], f"no {obj} generated"
        extra = writeback if obj == "Account" else set()
        for rec in by_object[obj]:
            assert set(rec) == expected | extra, (obj, set(rec) ^ (expected | extra))
    for rec in by_object["Account"]:
        assert all(rec[name] is None for name in writeback)
    assert {c for rec in by_object["accounts"] if rec["contact"] for c in rec["contact"]} == {"name", "email", "phone"}


def test_salesforce_ids_have_the_key_prefix_and_a_valid_case_safe_suffix(by_object):
    for obj in OBJECTS["salesforce"]:
        ids = [rec["Id"] for rec in by_object[obj]]
        assert len(ids) == len(set(ids))
        for sfid in ids:
            assert len(sfid) == 18 and sfid.startswith(SF_PREFIX[obj]) and sf_checksum_ok(sfid), sfid
    accounts = {rec["Id"] for rec in by_object["Account"]}
    assert {rec["AccountId"] for rec in by_object["Contact"]} <= accounts
    assert {rec["ParentId"] for rec in by_object["Account"] if rec["ParentId"]} <= accounts


def test_the_case_safe_suffix_is_salesforces_own():
    assert sf_checksum_ok("0017000000Lg8WhAAJ")  # a documented 15 → 18 character conversion
    assert not sf_checksum_ok("0017000000Lg8WhAAA")


def _values(by_object, names: set[str]):
    for recs in by_object.values():
        for rec in recs:
            for name in names & rec.keys():
                if rec[name] is not None:
                    yield name, rec[name]


def test_money_is_decimal_text_and_times_are_utc_before_now(by_object):
    money = {"Amount", "net_amount", "tax_amount", "total_amount", "amount", "total", "cost", "unit_price",
             "line_total"}
    for name, value in _values(by_object, money):
        assert isinstance(value, str) and MONEY.match(value), (name, value)
    stamps = {"CreatedDate", "LastModifiedDate", "SystemModstamp", "First_Response_At__c", "ClosedDate",
              "StartDateTime", "EndDateTime", "Responded_At__c", "created_at", "updated_at", "paid_at", "issued_at",
              "placed_at"}
    for name, value in _values(by_object, stamps):
        assert TS.match(value) and value < NOW, (name, value)
    for name, value in _values(by_object, {"CloseDate", "ActivityDate", "issue_date", "due_date", "paid_date",
                                           "expected_close"}):
        assert DATE.match(value), (name, value)
    for rec in by_object["Account"] + by_object["Contact"] + by_object["Case"]:
        assert rec["CreatedDate"] <= rec["LastModifiedDate"] <= rec["SystemModstamp"]


def test_invoices_add_up_and_payments_settle_paid_invoices(by_object):
    paid = collections.defaultdict(Decimal)
    for p in by_object["payments"]:
        paid[p["invoice_no"]] += Decimal(p["amount"])
    statuses = collections.Counter()
    for inv in by_object["invoices"]:
        statuses[inv["status"]] += 1
        net, tax, total = (Decimal(inv[k]) for k in ("net_amount", "tax_amount", "total_amount"))
        assert net + tax == total
        if inv["status"] == "paid":
            assert paid[inv["invoice_no"]] == total and inv["paid_date"] >= inv["issue_date"]
        elif inv["issue_date"]:
            assert inv["invoice_no"] not in paid and inv["paid_date"] is None
        if inv["status"] == "overdue":
            assert inv["due_date"] < NOW[:10]
    assert statuses["paid"] > statuses["overdue"] > 0 and statuses["open"] > 0 and statuses["void"] > 0
    lines = collections.defaultdict(Decimal)
    for line in by_object["order_lines"]:
        assert Decimal(line["unit_price"]) * line["quantity"] == Decimal(line["line_total"])
        lines[line["order_id"]] += Decimal(line["line_total"])
    for order in by_object["orders"]:
        if order["id"] in lines:
            assert lines[order["id"]] == Decimal(order["total"])


def test_revenue_is_skewed_and_some_customers_stop_buying(by_object, links):
    real = {r["source_id"]: r["real_id"] for r in links if r["object"] == "customers"}
    rate = {"CNY": 7, "TWD": 31, "HKD": 8, "JPY": 150}
    revenue: dict[str, float] = collections.defaultdict(float)
    last: dict[str, str] = {}
    for inv in by_object["invoices"]:
        if inv["customer_no"] in real and inv["issue_date"]:
            who = real[inv["customer_no"]]
            revenue[who] += float(inv["net_amount"]) / rate.get(inv["currency"], 1)
            last[who] = max(last.get(who, ""), inv["issue_date"])
    ranked = sorted(revenue.values(), reverse=True)
    top = sum(ranked[: len(ranked) // 5]) / sum(ranked)
    assert top > 0.6, f"top fifth of customers brings only {top:.0%} of revenue"
    invoices = collections.Counter(real[inv["customer_no"]] for inv in by_object["invoices"]
                                   if inv["customer_no"] in real)
    regulars = [who for who, n in invoices.items() if n >= 6]
    churned = sum(1 for who in regulars if last[who] < "2026-03-01")  # eight months of silence
    assert 0.05 < churned / len(regulars) < 0.25
    assert all(inv["issue_date"] >= "2023-10-01" for inv in by_object["invoices"] if inv["issue_date"])


def test_cases_and_surveys_carry_what_service_scores_need(by_object):
    cases = by_object["Case"]
    closed = [c for c in cases if c["Status"] == "Closed"]
    assert len(closed) > len(cases) / 2
    assert all(c["CreatedDate"] <= c["First_Response_At__c"] <= c["ClosedDate"] for c in closed)
    assert {c["Type"] for c in cases} == {"Complaint", "Question", "Problem"}
    scores = collections.defaultdict(set)
    for s in by_object["Survey_Response__c"]:
        scores[s["Survey_Type__c"]].add(s["Score__c"])
    assert scores["CSAT"] == {1, 2, 3, 4, 5}
    assert set(range(11)) <= scores["NPS"] <= set(range(12))  # 11 only on the planted broken rows


# -- ground truth and dirt --------------------------------------------------------------------------
def _key(system: str, obj: str, source_id: str) -> tuple[str, str, str]:
    return system, obj, source_id


def test_every_customer_and_contact_record_has_exactly_one_truth_row(by_object, links):
    refs = [_key(r["system"], r["object"], r["source_id"]) for r in links]
    assert len(refs) == len(set(refs))
    truth = {_key(r["system"], r["object"], r["source_id"]): r for r in links}
    for obj, system, key in (("Account", "salesforce", "Id"), ("Contact", "salesforce", "Id"),
                             ("customers", "finance", "customer_no"), ("accounts", "sales", "id")):
        for rec in by_object[obj]:
            assert truth[_key(system, obj, rec[key])]["entity"] == ("contact" if obj == "Contact" else "customer")
    with_contact = {rec["id"] for rec in by_object["accounts"] if rec["contact"]}
    assert {r["source_id"] for r in links if r["object"] == "account_contacts"} == with_contact


def test_the_same_customer_appears_in_several_systems_under_different_spellings(links, by_object):
    systems = collections.defaultdict(set)
    for r in links:
        if r["entity"] == "customer":
            systems[r["real_id"]].add(r["system"])
    everywhere = [real for real, s in systems.items() if len(s) == 3]
    assert len(everywhere) > N / 3
    assert any(len(s) == 1 for s in systems.values())
    names = collections.defaultdict(list)
    for obj, field, id_field in (("Account", "Name", "Id"), ("customers", "name", "customer_no"),
                                 ("accounts", "company", "id")):
        ids = {r["source_id"]: r["real_id"] for r in links if r["object"] == obj}
        for rec in by_object[obj]:
            if rec[field]:
                names[ids[rec[id_field]]].append(rec[field])
    mixed = [n for n in names.values() if any(CJK.search(x) for x in n) and any(x.isascii() for x in n)]
    assert len(mixed) > N / 10, "Chinese and English names of one company across systems"
    differently = sum(1 for n in names.values() if len(set(n)) > 1)
    assert differently > len(everywhere)
    every_name = [x for n in names.values() for x in n]
    assert any("華" in x or "臺" in x or "貿" in x for x in every_name), "traditional characters"
    assert any(any(0xFF01 <= ord(ch) <= 0xFF5E for ch in x) for x in every_name), "full-width letters"
    assert any(x != x.strip() or "\u200b" in x for x in every_name)


def test_distinct_real_customers_never_share_a_tax_id_or_web_domain(by_object, links):
    real = {(r["object"], r["source_id"]): r["real_id"] for r in links if r["entity"] == "customer"}
    owner: dict[str, set[str]] = collections.defaultdict(set)
    for obj, field, id_field in (("Account", "Tax_Id__c", "Id"), ("customers", "tax_id", "customer_no"),
                                 ("accounts", "vat_or_tax_id", "id")):
        for rec in by_object[obj]:
            if rec[field]:
                code = "".join(ch for ch in unicodedata.normalize("NFKC", rec[field]) if ch.isalnum()).upper()
                owner[code].add(real[(obj, rec[id_field])])
    shared = {code: ids for code, ids in owner.items() if len(ids) > 1}
    assert not shared
    domains: dict[str, set[str]] = collections.defaultdict(set)
    for rec in by_object["customers"]:
        email = (rec["email"] or "").strip().lower()
        if "@" in email and not email.endswith(("qq.com", "163.com", "126.com", "sina.com", "foxmail.com",
                                                "gmail.com", "outlook.com", "yahoo.com", "hotmail.com")):
            domains[email.rsplit("@", 1)[1]].add(real[("customers", rec["customer_no"])])
    group_domains = [d for d, ids in domains.items() if len(ids) > 1]
    assert len(group_domains) <= len(domains) // 200, "only subsidiaries may share their group's domain"


def test_tax_ids_and_phones_are_well_formed_where_they_are_meant_to_be(by_object):
    chinese = [rec["tax_id"].upper() for rec in by_object["customers"]
               if rec["tax_id"] and rec["tax_id"].startswith("91") and len(rec["tax_id"]) == 18]
    assert len(chinese) > N / 5
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    valid = 0
    for code in chinese:
        total = sum(USCC_CHARS.index(ch) * w for ch, w in zip(code[:17], weights, strict=True))
        valid += USCC_CHARS[(31 - total % 31) % 31] == code[17]
    assert valid / len(chinese) > 0.97  # the rest carry a planted one-character typo
    parsed = good = 0
    for rec in by_object["Account"]:
        region = {"China": "CN", "Taiwan": "TW", "Hong Kong": "HK", "United Kingdom": "GB", "Germany": "DE",
                  "United States": "US", "Japan": "JP"}.get(rec["BillingCountry"] or "")
        if region and rec["Phone"]:
            parsed += 1
            with contextlib.suppress(phonenumbers.NumberParseException):  # junk like "call reception"
                good += phonenumbers.is_valid_number(phonenumbers.parse(rec["Phone"], region))
    assert parsed > N / 3 and 0.8 < good / parsed < 0.99, "mostly valid numbers, some junk and local-only forms"


def test_broken_rows_are_in_the_truth_and_really_broken(by_object, links):
    broken = [r for r in links if r.get("broken")]
    reasons = collections.Counter(r["broken"] for r in broken)
    assert set(reasons) == {"malformed email", "customer_no does not exist", "negative amount", "missing issue date",
                            "missing name", "blank account name", "account_id does not exist",
                            "score outside the survey's scale"}
    finance_customers = {rec["customer_no"] for rec in by_object["customers"]}
    sales_accounts = {rec["id"] for rec in by_object["accounts"]}
    keys = {"invoices": "invoice_no", "customers": "customer_no", "accounts": "id", "orders": "id"}
    index = {(obj, rec[keys.get(obj, "Id")]): rec for obj, recs in by_object.items() if obj in keys or obj[0].isupper()
             for rec in recs}
    for row in broken:
        obj = row["object"] if row["object"] != "account_contacts" else "accounts"
        rec = index[(obj, row["source_id"])]
        why = row["broken"]
        if why == "customer_no does not exist":
            assert rec["customer_no"] not in finance_customers
        elif why == "account_id does not exist":
            assert rec["account_id"] not in sales_accounts
        elif why == "negative amount":
            assert Decimal(rec["total_amount"]) < 0
        elif why == "missing issue date":
            assert rec["issue_date"] is None
        elif why == "missing name":
            assert rec["name"] is None
        elif why == "blank account name":
            assert not rec["Name"].strip()
        elif why == "score outside the survey's scale":
            assert rec["Score__c"] > 10
        elif why == "malformed email":
            email = rec.get("Email") or rec.get("email") or (rec.get("contact") or {}).get("email")
            assert email.count("@") != 1 or "." not in email.rsplit("@", 1)[1] or "," in email
        else:
            pytest.fail(f"unexpected reason {why}")
    assert sum(reasons.values()) < N / 10, "a few broken rows, not a broken dataset"


# -- consumers --------------------------------------------------------------------------------------
def test_finance_records_load_into_a_sqlite_ledger(tmp_path, records):
    from connectors.finance.standin import write_ledger

    counts = write_ledger(tmp_path / "ledger.sqlite", ((o, r) for s, o, r in records if s == "finance"))
    expected = collections.Counter(o for s, o, _ in records if s == "finance")
    assert counts == {name: expected[name] for name in OBJECTS["finance"]}


def test_sales_records_load_into_the_sales_stand_in(records):
    from connectors.sales.standin import SalesStandIn

    api = SalesStandIn()
    try:
        counts = api.load((o, r) for s, o, r in records if s == "sales")
    finally:
        api.stop()
    expected = collections.Counter(o for s, o, _ in records if s == "sales")
    assert counts == {name: expected[name] for name in OBJECTS["sales"]}


# -- uniqueness by construction ---------------------------------------------------------------------
def test_every_number_space_holds_the_largest_dataset():
    from synthetic import names as nm
    from synthetic.companies import MAX_PERSONS, Universe

    u = Universe(10_000_000, 1)
    places = collections.Counter(p.country for p in nm.PLACES)
    for k, place in enumerate(nm.PLACES):
        assert u.phone[k].size >= 2 * u.per_place, place.city_en
    for cc, n in places.items():
        assert u.mobile[cc].size >= n * u.per_place * MAX_PERSONS, cc
    assert u.tax7.size >= places["TW"] * u.per_place and u.tax8.size >= places["HK"] * u.per_place
    assert u.tax9.size >= max(places.values()) * u.per_place
    assert 10 ** u.account_digits >= 4 * 10_000_000
    with pytest.raises(ValueError, match="at most"):
        Universe(nm.CAPACITY + 1, 1)


def test_registered_names_and_credit_codes_are_unique_and_valid():
    from sync.resolve.normalize import uscc_valid
    from synthetic.companies import Universe

    u = Universe(N, SEED)
    companies = [u.company(i) for i in range(N)]
    names = collections.Counter((c.place.country, c.name_en.lower()) for c in companies)
    assert names.most_common(1)[0][1] == 1
    assert len({c.tax_id for c in companies}) == len(companies)
    assert len({(c.place.calling_code, c.phone_main) for c in companies}) == len(companies)
    codes = [c.tax_id for c in companies if c.place.country == "CN"]
    assert len(codes) > N / 3 and all(uscc_valid(code) for code in codes)
    ubns = [c.tax_id for c in companies if c.place.country == "TW"]
    assert ubns and all(sum(int(d) * w // 10 + int(d) * w % 10 for d, w in zip(code, (1, 2, 1, 2, 1, 2, 4, 1),
                                                                               strict=True)) % 10 == 0
                        for code in ubns)
