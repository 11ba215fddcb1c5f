"""`crm2 migrate erase`: after erasing a contact, their name, e-mail and phone are nowhere in the
store (every text and JSON column of every table) or in the archive (every row of every file),
other contacts are untouched, every erased record has an audit entry without values, the archive
still checks, and verify still accounts for every source record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_migrate_support import Org, copy_store, crm2, execute, find_values, rows, start_org

from sync.migrate.archive_files import Manifest, read_rows


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    org = start_org(tmp_path_factory.mktemp("migrate-erase"))
    try:
        result = crm2(org, "migrate", "run", "--config", org.config)
        assert result.returncode in (0, 3), result.stderr
        yield org
    finally:
        org.stop()


@dataclass
class Person:
    refs: list[str]
    golden_id: str
    needles: list[str]
    """Their full name, e-mail and phone, as crm2 stores them and as the source spelled them."""


def _contacts(store: Path) -> list[tuple[str, dict]]:
    return [(gid, json.loads(data)) for gid, data in rows(store, "SELECT golden_id, data FROM golden WHERE "
                                                                 "entity = 'contact' AND merged_into IS NULL "
                                                                 "ORDER BY golden_id")]


def _person(org: Org, store: Path, archive: Path, *, skip: set[str] = frozenset()) -> Person:
    """A contact known to Salesforce and to the sales system, with a name, e-mail and phone of their own."""
    contacts = _contacts(store)
    emails = [d.get("email") for _, d in contacts]
    entries = {(e.source, e.stream): e for e in Manifest.load(archive).files}
    raw_sf = {r["Id"]: r for r in read_rows(archive, entries[("salesforce", "Contact")])}
    raw_sales = {r["id"]: r for r in read_rows(archive, entries[("sales", "accounts")])}
    for gid, data in contacts:
        systems = {(s["system"], s["object"]): s["id"] for s in data["sources"]}
        if gid in skip or ("salesforce", "Contact") not in systems or ("sales", "account_contacts") not in systems:
            continue
        if not (data.get("email") and data.get("phone") and data.get("first_name")) or emails.count(data["email"]) > 1:
            continue
        sf, sales = raw_sf[systems[("salesforce", "Contact")]], raw_sales[systems[("sales", "account_contacts")]]
        full = f"{data['first_name']} {data['last_name']}"
        if sum(1 for _, d in contacts if f"{d.get('first_name')} {d.get('last_name')}" == full) > 1:
            continue
        needles = [full, data["email"], data["phone"], data["phone"].lstrip("+"), sf.get("Email"), sf.get("Name"),
                   sf.get("MobilePhone"), sales["contact"].get("name"), sales["contact"].get("email"),
                   sales["contact"].get("phone")]
        refs = [f"{s['system']}/{s['object']}/{s['id']}" for s in data["sources"]]
        return Person(refs, gid, sorted({n for n in needles if n}))
    raise AssertionError("the demo org has no contact known to both systems")


def _archive(org: Org, config: Path, out: Path, *args: str) -> Path:
    result = crm2(org, "migrate", "archive", "--config", config, "--out", out, *args)
    assert result.returncode == 0, result.stderr
    return out


def test_erasing_a_contact_leaves_their_data_nowhere(org: Org, tmp_path: Path):
    store = copy_store(org.store, tmp_path / "erase.sqlite")
    config = org.config_for(store, "erase")
    jsonl = _archive(org, config, tmp_path / "jsonl", "--gzip")
    parquet = _archive(org, config, tmp_path / "parquet", "--format", "parquet")
    person = _person(org, store, jsonl)
    witness = _person(org, store, jsonl, skip={person.golden_id})
    assert find_values(store, [jsonl, parquet], person.needles)  # the search finds them before
    witness_before = find_values(store, [jsonl, parquet], witness.needles)
    subject = next(r for r in person.refs if r.startswith("salesforce/"))

    dry = crm2(org, "migrate", "erase", "--config", config, "--subject", subject, "--archive", jsonl,
               "--archive", parquet)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing was changed" in dry.stderr
    assert all(ref in dry.stdout for ref in person.refs)
    assert not any(n.casefold() in (dry.stdout + dry.stderr).casefold() for n in person.needles)
    assert find_values(store, [jsonl, parquet], person.needles)  # still there: it was a dry run
    assert crm2(org, "migrate", "archive", "--check", jsonl).returncode == 0

    done = crm2(org, "migrate", "erase", "--config", config, "--subject", subject, "--archive", jsonl,
                "--archive", parquet, "--apply", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert sorted(report["records"]) == sorted(person.refs) and report["golden"] == {person.golden_id: "anonymise"}
    assert find_values(store, [jsonl, parquet], person.needles) == []
    assert find_values(store, [jsonl, parquet], witness.needles) == witness_before  # others stay intact

    audits = rows(store, "SELECT system, object, record_id, field, old, new, run_id FROM audit_log "
                         "WHERE action = 'erase'")
    erased = {f"{a.system}/{a.object}/{a.record_id}" for a in audits}
    assert set(person.refs) <= erased and f"crm2/golden_contact/{person.golden_id}" in erased
    assert all(a.old in (None, "null") and json.loads(a.new)["action"] == "anonymise" for a in audits)
    assert all(a.run_id == report["run_id"] for a in audits)
    for folder in (jsonl, parquet):
        assert crm2(org, "migrate", "archive", "--check", folder).returncode == 0  # checksums were updated
        (erasure,) = Manifest.load(folder).erasures
        assert sorted(erasure["records"]) == sorted(person.refs) and erasure["run_id"] == report["run_id"]

    verify = crm2(org, "migrate", "verify", "--config", config, "--json")
    assert verify.returncode == 0, verify.stdout[-2000:]  # anonymised records are accounted for, not mismatches


def test_erasing_with_delete_leaves_erased_crosswalk_rows_that_verify_counts(org: Org, tmp_path: Path):
    store = copy_store(org.store, tmp_path / "delete.sqlite")
    config = org.config_for(store, "delete")
    archive = _archive(org, config, tmp_path / "a")
    person = _person(org, store, archive)
    subject = next(r for r in person.refs if r.startswith("salesforce/"))
    done = crm2(org, "migrate", "erase", "--config", config, "--subject", subject, "--delete", "--apply",
                "--archive", archive)
    assert done.returncode == 0, done.stderr
    assert find_values(store, [archive], person.needles) == []
    statuses = {f"{s}/{o}/{i}": st for s, o, i, st in rows(store, "SELECT source_system, source_object, source_id, "
                                                                  "status FROM crosswalk")}
    assert all(statuses[r] == "erased" for r in person.refs)
    assert not rows(store, "SELECT 1 FROM golden WHERE golden_id = :g", g=person.golden_id)
    sf_id = subject.rsplit("/", 1)[1]
    entries = {(e.source, e.stream): e for e in Manifest.load(archive).files}
    assert sf_id not in {r["Id"] for r in read_rows(archive, entries[("salesforce", "Contact")])}
    xw = {r["source_id"]: r for r in read_rows(archive, entries[("salesforce", None)])}
    assert xw[sf_id]["status"] == "erased" and xw[sf_id]["golden_id"] is None

    verify = crm2(org, "migrate", "verify", "--config", config, "--json", "--source", "salesforce")
    assert verify.returncode == 0, verify.stdout[-2000:]
    contact = next(o for o in json.loads(verify.stdout)["objects"] if o["name"] == "Contact")
    assert contact["erased"] == 1 and contact["adds_up"]


def test_retention_rules_choose_what_to_erase(org: Org, tmp_path: Path):
    store = copy_store(org.store, tmp_path / "rules.sqlite")
    config = org.config_for(store, "rules")
    policy = tmp_path / "retention.yml"
    policy.write_text("version: 1\n"
                      "personal: {entities: {contact: [first_name, last_name, email, phone, title],"
                      " interaction: [subject]}}\n"
                      "rules:\n"
                      "  - {name: old_activity, entity: interaction, older_than: {field: occurred_at, days: 365},"
                      " action: delete}\n"
                      "  - {name: former_customers, entity: contact, customer_stage: [churned, terminated],"
                      " action: anonymise}\n")
    old = {f"salesforce/{o}/{i}" for o, i, d in rows(store, "SELECT source_object, source_id, data FROM staging "
                                                            "WHERE entity = 'interaction' AND deleted = 0")
           if json.loads(d)["occurred_at"] < "2025-11-02"}
    assert old
    ((contact, account),) = rows(store, "SELECT s.source_id, json_extract(s.data, '$.customer') FROM staging s "
                                        "JOIN crosswalk c USING (source_system, source_object, source_id) WHERE "
                                        "s.source_object = 'Contact' AND c.status = 'loaded' AND "
                                        "json_extract(s.data, '$.customer') IS NOT NULL ORDER BY s.source_id LIMIT 1")
    execute(store, "UPDATE golden SET data = json_set(data, '$.lifecycle_stage', 'churned') WHERE golden_id = "
                   "(SELECT golden_id FROM crosswalk WHERE source_object = 'Account' AND source_id = :a)", a=account)
    dry = crm2(org, "migrate", "erase", "--config", config, "--policy", policy, "--as-of", "2026-11-01", "--json")
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert {r for r, a in planned["records"].items() if a == "delete"} == old
    assert planned["records"][f"salesforce/Contact/{contact}"] == "anonymise"  # their customer churned
    assert not planned["applied"] and rows(store, "SELECT count(*) FROM audit_log WHERE action = 'erase'")[0][0] == 0

    done = crm2(org, "migrate", "erase", "--config", config, "--policy", policy, "--as-of", "2026-11-01", "--apply",
                "--json")
    assert done.returncode == 0, done.stderr
    reasons = {json.loads(n)["reason"] for (n,) in rows(store, "SELECT new FROM audit_log WHERE action = 'erase'")}
    assert {"old_activity", "former_customers"} <= reasons
    ((data,),) = rows(store, "SELECT data FROM staging WHERE source_object = 'Contact' AND source_id = :i", i=contact)
    assert json.loads(data)["last_name"].startswith("erased:")
    assert rows(store, "SELECT count(*) FROM crosswalk WHERE status = 'erased'")[0][0] == len(old)
    again = crm2(org, "migrate", "erase", "--config", config, "--policy", policy, "--as-of", "2026-11-01", "--json")
    assert json.loads(again.stdout)["records"] == {}  # what is erased is not chosen again


def test_a_bad_retention_policy_stops_with_file_line_column(org: Org, tmp_path: Path):
    policy = tmp_path / "retention.yml"
    policy.write_text("version: 1\npersonal:\n  entities:\n    contact: [first_name, emial]\nrules: []\n")
    result = crm2(org, "migrate", "erase", "--config", org.config, "--policy", policy)
    assert result.returncode == 2
    assert result.stderr.startswith(f"{policy}:4:27: contact has no field 'emial' (did you mean 'email'?)")
    assert "Traceback" not in result.stderr


def test_an_unknown_subject_is_refused(org: Org):
    result = crm2(org, "migrate", "erase", "--config", org.config, "--subject", "salesforce/Contact/003NOPE")
    assert result.returncode == 2 and "crm2 holds no record salesforce/Contact/003NOPE" in result.stderr
