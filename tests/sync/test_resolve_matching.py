"""Comparators and scoring with the shipped match rules: who matches and who must not."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.resolve.normalize import company_name, company_tokens, domain, phone, uscc_valid
from sync.resolve.scoring import Scorer
from sync.resolve.spec import load_match_config

CONFIG = Path(__file__).resolve().parents[2] / "config" / "match.yml"


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer(load_match_config(CONFIG).rules_for("customer"))


def decide(scorer: Scorer, a: dict, b: dict) -> str:
    return scorer.score(scorer.features(a), scorer.features(b)).decision


@pytest.mark.parametrize(("a", "b"), [
    # traditional vs simplified, with and without the legal form
    ({"name": "北京華為科技有限公司", "phone": "+861062345678", "country": "CN"},
     {"name": "北京华为科技", "phone": "010 6234 5678", "country": "CN"}),
    # full-width letters and a different legal suffix
    ({"name": "ＡＣＭＥ　Ｔｒａｄｉｎｇ Limited", "domain": "acme-trading.com", "country": "GB"},
     {"name": "Acme Trading Ltd.", "domain": "https://www.acme-trading.com/about", "country": "GB"}),
    # Chinese name against its pinyin spelling, same phone in another format
    ({"name": "上海明远贸易有限公司", "phone": "+86 21 5555 0101", "country": "CN"},
     {"name": "Shanghai Mingyuan Maoyi Co., Ltd.", "phone": "0086-21-55550101", "country": "CN"}),
    # same valid social credit code, names spelled differently
    ({"name": "深圳市腾飞电子有限公司", "tax_id": "91350100M000100Y43", "country": "CN"},
     {"name": "Tengfei Electronics (Shenzhen)", "tax_id": "９１３５０１００Ｍ０００１００Ｙ４３", "country": "CN"}),
])
def test_same_company_in_other_spellings_matches(scorer: Scorer, a: dict, b: dict) -> None:
    assert decide(scorer, a, b) == "match"


@pytest.mark.parametrize(("a", "b"), [
    # hard negative: same name, different valid tax ids (two legal entities)
    ({"name": "北京华为科技有限公司", "tax_id": "91350100M000100Y43", "phone": "+861062345678", "country": "CN"},
     {"name": "北京华为科技有限公司", "tax_id": "91110108722613459U", "phone": "+861062345678", "country": "CN"}),
    # hard negative: one character apart, nothing else shared
    ({"name": "北京华为科技有限公司", "country": "CN"}, {"name": "北京华夏科技有限公司", "country": "CN"}),
    # similar English names in different countries, no shared contact data
    ({"name": "Northwind Traders Ltd", "country": "GB"}, {"name": "Northwind Trading GmbH", "country": "DE"}),
])
def test_hard_negatives_do_not_match(scorer: Scorer, a: dict, b: dict) -> None:
    assert decide(scorer, a, b) == "no_match"


def test_name_alone_is_only_worth_a_review(scorer: Scorer) -> None:
    a = {"name": "Globex Corporation", "country": "US"}
    assert decide(scorer, a, {"name": "Globex Corp", "country": "US"}) == "review"


def test_uscc_checksum() -> None:
    assert uscc_valid("91350100M000100Y43")
    assert uscc_valid("91110108722613459U")
    assert not uscc_valid("91350100M000100Y44")  # check character wrong
    assert not uscc_valid("91350100M000100Y4")  # too short
    assert not uscc_valid("91350100M000I00Y43")  # I is not in the code alphabet


def test_normalisers() -> None:
    assert company_name("ACME Holdings, Inc.") == company_name("Acme Inc") == "acme"
    assert company_name("華為技術（深圳）有限公司") == "华为技术"
    assert "华为" in (company_tokens("华为技术有限公司") or [])
    assert domain("HTTPS://WWW.Example.co.uk/path?q=1") == "example.co.uk"
    assert domain("sales@example.com") == "example.com"
    assert phone("+86 (10) 6234-5678") == phone("0086 10 62345678") == "861062345678"


FEBRL = Path(__file__).resolve().parents[2] / "config" / "match.febrl.yml"


def test_a_given_name_and_surname_swap_is_the_same_name() -> None:
    # febrl's people: one copy holds the given name in the surname field and back; each name
    # comparison reads the record's other part too, so the swap scores as the same name (both
    # parts at the weaker crosswise level: here the typo's "close")
    person = Scorer(load_match_config(FEBRL).rules_for("person"))
    a = {"given_name": "Nathan", "surname": "Challenor", "date_of_birth": "19600113"}
    swapped = {"given_name": "Challenor", "surname": "Nathqn", "date_of_birth": "19600113"}
    levels = {c: lv for c, lv, _ in person.score(person.features(a), person.features(swapped)).levels}
    assert (levels["given_name"], levels["surname"]) == ("close", "close")
    exact = {c: lv for c, lv, _ in person.score(person.features(a), person.features(
        {**swapped, "surname": "Nathan"})).levels}
    assert (exact["given_name"], exact["surname"]) == ("same", "same")
    # one shared word is not a swap: Nathan Smith and Smith Jones are different names
    other = {"given_name": "Smith", "surname": "Jones", "date_of_birth": "19600113"}
    levels = {c: lv for c, lv, _ in person.score(person.features({**a, "surname": "Smith"}),
                                                  person.features(other)).levels}
    assert (levels["given_name"], levels["surname"]) == ("different", "different")
    # an empty surname leaves the given name compared as it is
    alone = {"given_name": "Nathan", "date_of_birth": "19600113"}
    levels = {c: lv for c, lv, _ in person.score(person.features(alone), person.features(a)).levels}
    assert (levels["given_name"], levels["surname"]) == ("same", "null")
