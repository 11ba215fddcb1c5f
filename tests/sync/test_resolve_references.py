"""A contact's employer: the golden id of the customer its `customer` field points to.

Contacts are resolved after customers; the same name at the same employer is the same person,
colleagues sharing the switchboard number are not, and when customers merge later, contacts
that did not change are prepared and scored again with their employer's new golden id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sync.resolve import load_match_config, resolve
from sync.resolve.spec import MatchConfig
from sync.store.schema import crosswalk
from sync.store.store import StagedRecord, Store

CONFIG = Path(__file__).resolve().parents[2] / "config" / "match.yml"
ENGINES = ["duckdb", "python"]


@pytest.fixture(scope="module")
def config() -> MatchConfig:
    return load_match_config(CONFIG)


def account(source_id: str, **data: Any) -> StagedRecord:
    return StagedRecord("salesforce", "Account", source_id, "customer", {"country": "GB", **data})


def contact(source_id: str, customer: str, first: str, last: str, **data: Any) -> StagedRecord:
    return StagedRecord("salesforce", "Contact", source_id, "contact",
                        {"customer": customer, "first_name": first, "last_name": last, **data})


def run(store: Store, config: MatchConfig, records: list[StagedRecord], engine: str) -> dict[str, str | None]:
    with store.begin() as conn:
        store.stage(conn, records, None)
    for entity in ("customer", "contact"):
        resolve(store, config, entity, engine=engine)
    with store.engine.connect() as conn:
        return {r.source_id: r.golden_id for r in conn.execute(sa.select(crosswalk.c.source_id, crosswalk.c.golden_id))}


@pytest.mark.parametrize("engine", ENGINES)
def test_the_same_name_at_the_same_employer_is_one_person(tmp_path: Path, config: MatchConfig, engine: str) -> None:
    store = Store.open(str(tmp_path / "crm2.sqlite"))
    ids = run(store, config, [
        account("001A", name="Acme Ltd", domain="acme.com"),
        account("001B", name="ACME Limited", domain="acme.com"),
        account("001C", name="Initech", domain="initech.com"),
        contact("003A", "001A", "Anna", "Laurent"),
        contact("003B", "001B", "Anna", "Laurent"),  # the same company's other account
        contact("003C", "001C", "Anna", "Laurent"),  # a namesake at another company
    ], engine)
    assert ids["001A"] == ids["001B"] != ids["001C"]
    assert ids["003A"] == ids["003B"] != ids["003C"]


@pytest.mark.parametrize("engine", ENGINES)
def test_colleagues_sharing_the_switchboard_stay_apart(tmp_path: Path, config: MatchConfig, engine: str) -> None:
    store = Store.open(str(tmp_path / "crm2.sqlite"))
    ids = run(store, config, [
        account("001A", name="Acme Ltd", domain="acme.com"),
        contact("003A", "001A", "Anna", "Laurent", phone="+442071234567", email="anna.laurent@acme.com"),
        contact("003B", "001A", "Wei", "Zhang", phone="+442071234567", email="wei.zhang@acme.com"),
        # one person by two names (an English name and a Chinese one) at one mailbox
        contact("003C", "001A", "Eric", "Wei", email="wei.eric@acme.com"),
        contact("003D", "001A", "霞", "魏", email="wei.eric@acme.com"),
    ], engine)
    assert ids["003A"] != ids["003B"]
    assert ids["003C"] == ids["003D"]


@pytest.mark.parametrize("engine", ENGINES)
def test_contacts_follow_their_employers_when_customers_merge_later(tmp_path: Path, config: MatchConfig,
                                                                    engine: str) -> None:
    store = Store.open(str(tmp_path / "crm2.sqlite"))
    people = [contact("003A", "001A", "Anna", "Laurent"), contact("003B", "001B", "Anna", "Laurent")]
    before = run(store, config, [account("001A", name="Acme Ltd", domain="acme.com"),
                                 account("001B", name="Zenith Widgets", domain="zenith.com"), *people], engine)
    assert before["001A"] != before["001B"]
    assert before["003A"] != before["003B"]
    # the second account is corrected to the same company; the contacts themselves do not change
    after = run(store, config, [account("001B", name="ACME Limited", domain="acme.com")], engine)
    assert after["001A"] == after["001B"]
    assert after["003A"] == after["003B"]
    # and an unchanged run after that prepares nothing again
    assert resolve(store, config, "contact", engine=engine).changed == 0


@pytest.mark.postgres
def test_moved_employers_are_found_on_postgresql(fresh_postgres_db: str, config: MatchConfig) -> None:
    # the moved-reference check reads JSON (features, staged data) in SQL: JSONB on PostgreSQL
    store = Store.open(fresh_postgres_db)
    try:
        people = [contact("003A", "001A", "Anna", "Laurent"), contact("003B", "001B", "Anna", "Laurent")]
        before = run(store, config, [account("001A", name="Acme Ltd", domain="acme.com"),
                                     account("001B", name="Zenith Widgets", domain="zenith.com"), *people], "duckdb")
        assert before["003A"] != before["003B"]
        assert resolve(store, config, "contact").changed == 0
        after = run(store, config, [account("001B", name="ACME Limited", domain="acme.com")], "duckdb")
        assert after["003A"] == after["003B"]
        assert resolve(store, config, "contact").changed == 0
    finally:
        store.close()
