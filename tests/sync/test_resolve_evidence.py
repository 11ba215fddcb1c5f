"""What counts as evidence: free-mail domains, role mailboxes, names across scripts, tax ids by
kind, phone spellings, and re-scoring when the rules change. Shipped rules, real store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sync.resolve import load_match_config, resolve
from sync.resolve.comparators import COMPARATORS
from sync.resolve.scoring import PairScore, Scorer
from sync.resolve.spec import MatchConfig
from sync.resolve.tax_ids import classify
from sync.store.schema import crosswalk
from sync.store.store import StagedRecord, Store
from sync.yamlconf import ConfigError

CONFIG = Path(__file__).resolve().parents[2] / "config" / "match.yml"


@pytest.fixture(scope="module")
def config() -> MatchConfig:
    return load_match_config(CONFIG)


@pytest.fixture(scope="module")
def scorer(config: MatchConfig) -> Scorer:
    return Scorer(config.rules_for("customer"))


def score(scorer: Scorer, a: dict[str, Any], b: dict[str, Any]) -> PairScore:
    return scorer.score(scorer.features(a), scorer.features(b))


def level(result: PairScore, comparison: str) -> str:
    return next(lv for name, lv, _ in result.levels if name == comparison)


def similarity(comparator: str, a: Any, b: Any) -> float | None:
    c = COMPARATORS[comparator]
    return c.similarity(c.prepare(a), c.prepare(b))


# -- free-mail and role mailboxes -----------------------------------------------------------------
def test_a_shared_free_mail_domain_is_no_evidence(scorer: Scorer) -> None:
    a = {"name": "Triamark Agriculture Ltd", "email": "karen.j@hotmail.com", "domain": "hotmail.com", "country": "GB"}
    b = {"name": "Quaarworth Biotech LLC", "email": "oliver.l@hotmail.com", "domain": "hotmail.com", "country": "US"}
    result = score(scorer, a, b)
    assert level(result, "domain") == "null"  # a free-mail domain is no company's domain
    assert level(result, "email") == "different"
    assert result.decision == "no_match"


def test_two_mailboxes_of_one_company_domain_are_evidence(scorer: Scorer) -> None:
    a = {"name": "Acme Trading", "email": "ap@acme-trading.co.uk"}
    b = {"name": "ACME Trading Ltd", "email": "jane.smith@acme-trading.co.uk"}
    assert level(score(scorer, a, b), "email") == "same_domain"


def test_role_mailboxes_at_two_companies_are_not_the_same_mailbox() -> None:
    assert similarity("email", "ap@huateng.com.cn", "ap@norvale.co.uk") == 0.0
    assert similarity("email", "finance.cn@a.com", "finance.cn@b.com") == 0.0
    assert similarity("email", "147533030@qq.com", "147533030@foxmail.com") == 0.7  # one person's handle
    assert similarity("email", "wei.zhang@huateng.com.cn", "wei.zhang@norvale.co.uk") == 0.0  # two employers
    assert similarity("email", "AP@Acme.com", "ap@acme.com") == 1.0  # the same address is the same address


def test_free_mail_domains_make_no_blocking_key_either(config: MatchConfig) -> None:
    from sync.resolve.blocking import keys_for

    keys = keys_for({"name": "X", "domain": "qq.com", "email": "a@qq.com"}, config.rules_for("customer").blocking)
    assert not [k for k in keys if k.startswith("domain:")]


# -- names in two scripts ---------------------------------------------------------------------------
def test_a_translated_name_is_incomparable_not_different(scorer: Scorer) -> None:
    zh = {"name": "北京华腾科技有限公司", "country": "CN"}
    en = {"name": "Beijing Huateng Technology Co., Ltd.", "country": "CN"}
    result = score(scorer, zh, en)
    assert level(result, "name") == "incomparable"
    assert dict((n, w) for n, _, w in result.levels)["name"] == 0.0


def test_a_pinyin_spelling_is_still_compared() -> None:
    assert similarity("company_name", "上海明远贸易有限公司", "Shanghai Mingyuan Maoyi Co., Ltd.") == 1.0
    same_script = similarity("company_name", "Norvale Logistics Ltd", "Kelarcor Textile GmbH")
    assert same_script is not None and same_script < 0.8  # Latin against Latin: a real difference


def test_translated_name_with_the_same_tax_id_matches(scorer: Scorer) -> None:
    # a Taiwanese company: Chinese name in the ledger, English in sales, the same business number
    ledger = {"name": "新北燦盛印刷股份有限公司", "tax_id": "21921571", "phone": "+886263943974", "country": "TW",
              "address": {"city": "新北"}}
    sales = {"name": "New Taipei Cansheng Printing Co., Ltd.", "tax_id": "21921571", "phone": "+886939488250",
             "country": "TW", "address": {"city": "New Taipei"}}
    result = score(scorer, ledger, sales)
    assert level(result, "city") == "incomparable"
    assert result.decision == "match"


# -- tax ids by kind -----------------------------------------------------------------------------------
USCC_A = "91350100M000100Y43"
USCC_B = "91110108722613459U"
REG15 = "110108000000016"  # a pre-2015 registration number with a valid ISO 7064 check digit


def test_tax_id_kinds() -> None:
    assert classify(USCC_A).kind == "CN-USCC" and classify(USCC_A).verified
    assert classify(REG15).kind == "CN-REG15" and classify(REG15).verified
    vat = classify("nl 5696.41892 b01")
    assert vat is not None and (vat.kind, vat.number) == ("VAT-NL", "569641892B01")
    assert classify("GB980780684").verified  # a VAT number with a correct check
    assert classify("21921571").kind == "digits-8"
    assert classify("000000000") is None and classify("123456789") is None and classify("n/a") is None


def test_a_vat_number_without_its_country_prefix_is_the_same(scorer: Scorer) -> None:
    result = score(scorer, {"name": "Galedell Textile B.V.", "tax_id": "NL569641892B01"},
                   {"name": "Galedell Textile B.V.", "tax_id": "569641892B01"})
    assert level(result, "tax_id") == "same"
    assert result.decision == "match"


def test_ids_of_different_kinds_do_not_contradict(scorer: Scorer) -> None:
    assert similarity("tax_id", USCC_A, REG15) is None
    assert similarity("tax_id", "DE102807685", "GB175497048") is None  # VAT numbers of two countries
    result = score(scorer, {"name": "北京华腾科技有限公司", "tax_id": USCC_A, "phone": "+861062881234"},
                   {"name": "北京华腾科技", "tax_id": REG15, "phone": "010 6288 1234"})
    assert level(result, "tax_id") == "incomparable"
    assert result.rule == "score" and result.decision == "match"


def test_two_different_verified_ids_of_one_kind_are_two_companies(scorer: Scorer) -> None:
    result = score(scorer, {"name": "北京华腾科技有限公司", "tax_id": USCC_A, "phone": "+861062881234"},
                   {"name": "北京华腾科技有限公司", "tax_id": USCC_B, "phone": "+861062881234"})
    assert (level(result, "tax_id"), result.rule, result.decision) == (
        "different_valid", "different_valid_tax_ids", "no_match")


def test_unverified_ids_that_differ_are_evidence_but_not_proof(scorer: Scorer) -> None:
    result = score(scorer, {"name": "Huanben Pharma", "tax_id": "19664793", "phone": "+886424577220"},
                   {"name": "Huanben Pharma", "tax_id": "29664731", "phone": "+886424577220"})
    assert level(result, "tax_id") == "different"
    assert result.rule == "score"
    assert similarity("tax_id", "19664793", "19664798") == 0.5  # one character apart: a typo


# -- phones --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("a", "b", "expected"), [
    ("+861062881234", "010 6288 1234", 0.95),  # national spelling, area code included
    ("+865926996248", "6996248", 0.9),  # a 7-digit local number without its area code
    ("0086 10 62881234", "+86 10 6288 1234", 1.0),
    ("+861062881234", "+862162881234", 0.0),  # two full numbers: same last digits, other city
])
def test_phone_spellings(a: str, b: str, expected: float) -> None:
    assert similarity("phone", a, b) == expected


def test_a_local_number_meets_its_full_form_in_a_block(config: MatchConfig) -> None:
    from sync.resolve.blocking import keys_for

    rules = config.rules_for("customer").blocking
    full = {k for k in keys_for({"name": "A", "phone": "+865926996248"}, rules) if k.startswith("phone:")}
    local = {k for k in keys_for({"name": "A", "phone": "699 6248"}, rules) if k.startswith("phone:")}
    assert full & local


# -- the incomparable level in rules -------------------------------------------------------------------
def test_rules_may_name_the_incomparable_level(tmp_path: Path) -> None:
    path = tmp_path / "match.yml"
    path.write_text("""
version: 1
entities:
  customer:
    blocking: [{name: n, key: ["name | company_latin"]}]
    comparisons:
      - {name: name, field: name, comparator: company_name, incomparable_weight: -1.5,
         levels: [{name: same, at_least: 1.0, weight: 10}, {name: other, weight: -5}]}
    rules:
      - {name: translated, when: {name: incomparable}, decision: review}
    threshold: 8
""", encoding="utf-8")
    rules = load_match_config(path).rules_for("customer")
    result = Scorer(rules).score(Scorer(rules).features({"name": "华腾科技"}),
                                 Scorer(rules).features({"name": "Huateng Technology"}))
    assert (result.rule, result.decision, result.weight) == ("translated", "review", -1.5)
    path.write_text(path.read_text(encoding="utf-8").replace("name: incomparable", "name: incomparabel"),
                    encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_match_config(path)
    assert "no level 'incomparabel'" in str(err.value) and "incomparable" in str(err.value)


# -- re-scoring after a rules change -------------------------------------------------------------------
def golden_ids(store: Store) -> dict[str, str | None]:
    with store.engine.connect() as conn:
        return {r.source_id: r.golden_id for r in conn.execute(sa.select(crosswalk.c.source_id, crosswalk.c.golden_id))}


def test_edited_rules_rescore_every_record_and_keep_golden_ids(tmp_path: Path, config: MatchConfig) -> None:
    store = Store.open(f"{tmp_path}/crm2.sqlite")
    records = [StagedRecord("finance", "customers", "C1", "customer", {"name": "Globex Corporation", "country": "US"}),
               StagedRecord("sales", "accounts", "A1", "customer", {"name": "Globex Corp", "country": "US"}),
               StagedRecord("sales", "accounts", "A2", "customer", {"name": "Initech", "country": "US"})]
    with store.begin() as conn:
        store.stage(conn, records, None)
    first = resolve(store, config, "customer")
    before = golden_ids(store)
    assert first.changed == 3 and before["C1"] != before["A1"]  # a name alone is only worth a review
    assert resolve(store, config, "customer").changed == 0  # unchanged rules and data: nothing to do

    laxer = config.model_copy(update={"entities": {"customer": config.rules_for("customer").model_copy(
        update={"threshold": 8.0, "review_threshold": 6.0})}})
    again = resolve(store, laxer, "customer")
    after = golden_ids(store)
    assert again.changed == 3 and again.pairs_scored >= 1
    assert after["C1"] == after["A1"] and after["A2"] == before["A2"]
    assert after["C1"] in (before["C1"], before["A1"])  # a merge keeps one of the old ids
    assert resolve(store, laxer, "customer").changed == 0


# -- contacts: a person's whole name across scripts and fields ----------------------------------------
@pytest.fixture(scope="module")
def contacts(config: MatchConfig) -> Scorer:
    return Scorer(config.rules_for("contact"))


@pytest.mark.parametrize(("a", "b"), [
    ({"first_name": "伟", "last_name": "张"}, {"first_name": "Wei", "last_name": "Zhang"}),
    ({"last_name": "张伟"}, {"first_name": "wei", "last_name": "ZHANG"}),  # whole name in one field
    ({"last_name": "蒋志伟"}, {"first_name": "Zhiwei", "last_name": "Jiang"}),
    ({"first_name": "Martin,", "last_name": "Robert"}, {"first_name": "Robert", "last_name": "Martin"}),
    ({"first_name": "Yuki van", "last_name": "Dijk"}, {"first_name": "Yuki", "last_name": "van Dijk"}),
    ({"last_name": "欧阳娜娜"}, {"first_name": "Nana", "last_name": "Ouyang"}),  # a two-character surname
])
def test_one_persons_name_in_other_scripts_and_fields(contacts: Scorer, a: dict, b: dict) -> None:
    assert level(score(contacts, a, b), "name") == "same"


def test_namesakes_at_two_employers_are_two_people(contacts: Scorer) -> None:
    a = {"first_name": "Wei", "last_name": "Zhang", "email": "wei.zhang@huateng.com.cn", "phone": "+8613800138000"}
    b = {"first_name": "伟", "last_name": "张", "email": "wei.zhang@norvale.com.cn", "phone": "+8613911112222"}
    result = score(contacts, a, b)
    assert level(result, "email") == "different" and result.decision != "match"


def test_a_name_and_a_colleagues_address_at_the_same_company_match(contacts: Scorer) -> None:
    a = {"last_name": "张伟", "email": "ap@huateng.com.cn"}
    b = {"first_name": "Wei", "last_name": "Zhang", "email": "wei.zhang@huateng.com.cn"}
    assert score(contacts, a, b).decision == "match"


def test_a_blocking_key_may_join_several_fields(config: MatchConfig) -> None:
    from sync.resolve.blocking import keys_for

    rules = config.rules_for("contact").blocking
    name_rule = next(r for r in rules if r.name == "name")
    assert name_rule.key[0].field == ["first_name", "last_name"]
    assert keys_for({"last_name": "张伟"}, rules) == keys_for({"first_name": "Wei", "last_name": "Zhang"}, rules)


def test_a_tax_id_veto_holds_for_the_cluster_not_just_the_pair(tmp_path: Path, config: MatchConfig) -> None:
    # parent and subsidiary: two legal entities (two valid codes) joined through a record that
    # shares the group's domain with one and the switchboard with the other
    store = Store.open(f"{tmp_path}/crm2.sqlite")
    records = [
        StagedRecord("finance", "customers", "C1", "customer",
                     {"name": "华腾科技有限公司", "tax_id": USCC_A, "domain": "huateng.com.cn"}),
        StagedRecord("sales", "accounts", "A1", "customer",
                     {"name": "华腾科技", "domain": "huateng.com.cn", "phone": "+862162881234"}),
        StagedRecord("salesforce", "Account", "S1", "customer",
                     {"name": "华腾科技有限公司", "tax_id": USCC_B, "phone": "+862162881234"}),
    ]
    with store.begin() as conn:
        store.stage(conn, records, None)
    resolve(store, config, "customer")
    ids = golden_ids(store)
    assert ids["C1"] != ids["S1"]  # never one customer, whatever chain of links
    assert ids["A1"] == ids["S1"]  # the stronger link (the switchboard) wins
    again = resolve(store, config, "customer")
    assert (again.changed, again.pairs_scored, again.clusters_written) == (0, 0, 0)
    assert golden_ids(store) == ids
