"""Bounded work: every blocking key is capped by its max_block_size, dates included."""

from __future__ import annotations

from pathlib import Path

from sync.resolve import resolve
from sync.resolve.spec import MatchConfig
from sync.store.store import StagedRecord, Store

RULES = {
    "version": 1,
    "entities": {"person": {
        "max_block_size": 50,
        "blocking": [
            {"name": "dob", "key": ["date_of_birth | digits"], "max_block_size": 3},
            {"name": "name", "key": ["surname | text"]},
        ],
        "comparisons": [
            {"name": "surname", "field": "surname", "comparator": "jaro_winkler",
             "levels": [{"name": "same", "at_least": 1.0, "weight": 10}, {"name": "different", "weight": -5}]},
            {"name": "dob", "field": "date_of_birth", "comparator": "date",
             "levels": [{"name": "same", "at_least": 1.0, "weight": 6}, {"name": "different", "weight": -5}]},
        ],
        "threshold": 14,
    }},
}


def _people(store: Store, rows: list[tuple[str, str, str]]) -> None:
    with store.begin() as conn:
        store.stage(conn, [StagedRecord("hr", "person", rid, "person", {"surname": surname, "date_of_birth": dob})
                           for rid, surname, dob in rows], None)


def test_a_date_key_shared_by_more_records_than_its_cap_pairs_nothing(tmp_path: Path) -> None:
    config = MatchConfig.model_validate(RULES)
    store = Store.open(str(tmp_path / "crm2.sqlite"))
    # three records share a birth date, within the cap of 3: all three pairs are scored
    _people(store, [("1", "Smith", "1980-01-02"), ("2", "Jones", "1980-01-02"), ("3", "Brown", "1980-01-02")])
    first = resolve(store, config, "person")
    assert first.pairs_scored == 3
    # a fourth makes the date block too big to say anything: it is skipped like any other key
    _people(store, [("4", "Green", "1980-01-02")])
    second = resolve(store, config, "person")
    assert second.pairs_scored == 0
    # a key of another rule still pairs the new record
    _people(store, [("5", "Green", "1990-05-06")])
    third = resolve(store, config, "person")
    assert third.pairs_scored == 1
    store.engine.dispose()


def test_compound_person_keys_survive_swapped_names_and_late_typos() -> None:
    # a birth date joined with a name part: blocks stay small as the data grows, and a
    # given name/surname swap or a typo after the first letter still meets
    from sync.resolve.blocking import keys_for
    from sync.resolve.spec import BlockingRule

    rules = [BlockingRule.model_validate({"name": "dob_name", "key": ["date_of_birth | digits",
                                                                     "given_name + surname | name_words"]}),
             BlockingRule.model_validate({"name": "dob_initial", "key": ["date_of_birth | digits",
                                                                        "given_name + surname | initials"]})]
    original = set(keys_for({"given_name": "Joshua", "surname": "Clarke", "date_of_birth": "19810502"}, rules))
    swapped = set(keys_for({"given_name": "Clarke", "surname": "Joshua", "date_of_birth": "19810502"}, rules))
    typo = set(keys_for({"given_name": "Joshau", "surname": "Clarke", "date_of_birth": "19810502"}, rules))
    other = set(keys_for({"given_name": "Mia", "surname": "Ng", "date_of_birth": "19810502"}, rules))
    assert original == swapped
    assert original & typo >= {"dob_name:19810502|clarke", "dob_initial:19810502|j"}
    assert not original & other


def test_an_id_with_one_typo_still_meets_by_either_end() -> None:
    # ssn_postcode joins the first or last four digits of an id with the postcode: a digit
    # changed, dropped, added or two swapped away from the middle leaves one end intact
    from sync.resolve.blocking import keys_for
    from sync.resolve.normalize import digit_ends
    from sync.resolve.spec import BlockingRule

    rule = [BlockingRule.model_validate({"name": "ssn_postcode", "key": ["soc_sec_id | digit_ends",
                                                                         "postcode | digits"]})]
    original = set(keys_for({"soc_sec_id": "4137877", "postcode": "4869"}, rule))
    assert original == {"ssn_postcode:^4137|4869", "ssn_postcode:7877$|4869"}
    for typo in ("4137787", "4137977", "413787", "41378777", "1437877", "4137870"):
        assert original & set(keys_for({"soc_sec_id": typo, "postcode": "4869"}, rule)), typo
    assert not original & set(keys_for({"soc_sec_id": "5137878", "postcode": "4869"}, rule))
    assert digit_ends("12345") is None  # too short for an end to say anything
