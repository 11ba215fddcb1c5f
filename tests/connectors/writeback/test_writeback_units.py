"""The writeback's pure parts: the mapping file and its positioned errors, value comparison across
spellings, the diff rules, the target's settings, and the store schema upgrade to 0004."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.salesforce.writeback.config import parse_settings
from connectors.salesforce.writeback.diff import diff
from connectors.salesforce.writeback.store import LastWritten
from sync.errors import ConfigError
from sync.shipped import MAPPINGS
from sync.store import Store, migrate
from sync.store.schema import writeback_queue, writeback_state
from sync.writeback.mapping import Intent, LoadedMapping, MapStats, load_mapping
from sync.writeback.values import canonical, csv_cell, same, same_loose

SCHEMA = {"properties": {"golden_id": {"type": "string"}, "tier": {"type": ["string", "null"]},
                         "health_score": {"type": ["number", "null"]}, "clv": {"type": ["number", "null"]},
                         "scored_at": {"type": ["string", "null"], "format": "date-time"},
                         "name": {"type": ["string", "null"]},
                         "salesforce_account_ids": {"type": "array", "items": {"type": "string"}}}}


def write(tmp: Path, text: str) -> Path:
    path = tmp / "writeback.yml"
    path.write_text(text)
    return path


def problems(path: Path, *, schema: dict | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        mapping = load_mapping(path)
        if schema is not None:
            mapping.bind_schema("customer_scores", schema)
    return [str(p) for p in caught.value.problems]


MINIMAL = """version: 1
objects:
  Account:
    stream: customer_scores
    ids_from: salesforce_account_ids
    external_id: {field: CRM2_Golden_Id__c, from: golden_id}
    fields:
      CRM2_Tier__c: tier
      CRM2_Health_Score__c: {from: health_score}
      CRM2_CLV__c: clv
      CRM2_Scored_At__c: {from: scored_at, triggers_write: false}
      Name: {from: name, only_on_create: true}
"""


def bound(tmp: Path, text: str = MINIMAL) -> LoadedMapping:
    mapping = load_mapping(write(tmp, text))
    mapping.bind_schema("customer_scores", SCHEMA)
    return mapping


def test_the_shipped_mapping_is_valid():
    mapping = load_mapping(MAPPINGS / "writeback.yml")
    assert mapping.objects_for("customer_scores") == ["Account"]
    mapping.check_settings(match="salesforce_id", mode="update_only")
    mapping.check_settings(match="external_id", mode="upsert")


def test_mapping_errors_point_at_file_line_and_column(tmp_path):
    path = write(tmp_path, MINIMAL.replace("triggers_write: false", "trigger_write: false")
                 .replace("CRM2_Tier__c: tier", "CRM2 Tier: tier"))
    api_name, unknown = problems(path)
    assert api_name.startswith(f"{path}:8:") and "'CRM2 Tier' is not a Salesforce API name" in api_name
    assert unknown == f"{path}:11:44: unknown key 'trigger_write' (did you mean 'triggers_write'?)"


def test_a_from_the_stream_does_not_have_is_reported_at_its_position(tmp_path):
    path = write(tmp_path, MINIMAL.replace("{from: health_score}", "{from: health_scor}"))
    (found,) = problems(path, schema=SCHEMA)
    assert found.startswith(f"{path}:9:36: stream 'customer_scores' has no field 'health_scor'")
    assert "did you mean 'health_score'" in found


def test_settings_that_the_mapping_cannot_serve_are_config_errors(tmp_path):
    mapping = load_mapping(write(tmp_path, MINIMAL.replace(
        "    external_id: {field: CRM2_Golden_Id__c, from: golden_id}\n", "")))
    with pytest.raises(ConfigError) as caught:
        mapping.check_settings(match="external_id", mode="upsert")
    assert "has no external_id" in str(caught.value)


def test_intents_per_account_id_and_external_id_for_customers_without_one(tmp_path):
    mapping = bound(tmp_path)
    record = {"golden_id": "CUS-1", "tier": "A", "health_score": 71.5, "clv": Decimal("10.50"),
              "scored_at": "2026-11-01T00:00:00+00:00", "name": "ACME", "salesforce_account_ids": ["001A", "001B"]}
    stats = MapStats()
    by_id = mapping.intents("customer_scores", record, match="salesforce_id", mode="update_only", stats=stats)
    assert [(i.key_field, i.key_value, i.operation) for i in by_id] == [("Id", "001A", "update"),
                                                                        ("Id", "001B", "update")]
    assert by_id[0].values["CRM2_Scored_At__c"] == "2026-11-01T00:00:00.000Z"
    lonely = {**record, "salesforce_account_ids": []}
    assert mapping.intents("customer_scores", lonely, match="salesforce_id", mode="update_only", stats=stats) == []
    assert stats.no_match == 1
    (create,) = mapping.intents("customer_scores", lonely, match="salesforce_id", mode="upsert", stats=stats)
    assert (create.key_field, create.key_value, create.operation) == ("CRM2_Golden_Id__c", "CUS-1", "upsert")


def test_values_compare_across_spellings():
    assert same("number", Decimal("80.00"), 80)
    assert same("number", "80.00", Decimal("80"))
    assert not same("number", "80.01", 80)
    assert same("datetime", "2026-11-01T00:00:00Z", "2026-11-01T00:00:00.000+0000")
    assert same("string", "", None)
    assert same_loose("12345678901234.56", Decimal("12345678901234.56"))
    assert same_loose(True, "true") and not same_loose("A", "B")
    assert canonical("number", "12345678901234.56") == Decimal("12345678901234.56")
    assert csv_cell(None) == "#N/A" and csv_cell(Decimal("1E+2")) == "100"


def intent(values: dict, operation: str = "update") -> Intent:
    return Intent("Account", operation, "Id", "001A", "001A", "CUS-1", values)  # type: ignore[arg-type]


def test_diff_sends_only_changed_fields_and_ignores_non_triggers_alone(tmp_path):
    mapping = bound(tmp_path)
    old = {"CRM2_Tier__c": "B", "CRM2_Health_Score__c": "50.0", "CRM2_CLV__c": "10.50",
           "CRM2_Scored_At__c": "2026-10-01T00:00:00.000Z"}
    last = LastWritten("001A", old)
    same_values = {"CRM2_Tier__c": "B", "CRM2_Health_Score__c": Decimal("50"), "CRM2_CLV__c": Decimal("10.5"),
                   "CRM2_Scored_At__c": "2026-11-01T00:00:00.000Z", "Name": "ACME"}
    assert diff(intent(same_values), last, mapping) is None  # only the scoring date moved
    change = diff(intent({**same_values, "CRM2_Tier__c": "A"}), last, mapping)
    assert change is not None
    assert change.sent == {"CRM2_Tier__c": "A", "CRM2_Scored_At__c": "2026-11-01T00:00:00.000Z"}
    assert change.previous == old
    upsert = diff(intent({**same_values, "CRM2_Tier__c": "A"}, "upsert"), last, mapping)
    assert upsert is not None and set(upsert.sent) == set(same_values) - {"Name"}
    first = diff(intent(same_values, "upsert"), None, mapping)
    assert first is not None and first.sent["Name"] == "ACME"  # only a record crm2 may create gets a Name
    assert "Name" not in (diff(intent(same_values), None, mapping) or first).sent


def test_target_settings_reuse_the_tap_connection_checks():
    base = {"store_url": "x.sqlite", "mapping": "m.yml", "client_id": "id", "instance_url": "https://org.example"}
    assert parse_settings(base).salesforce.oauth_host == "https://org.example"
    with pytest.raises(ConfigError, match="https"):
        parse_settings({**base, "instance_url": "http://org.example"})
    with pytest.raises(ConfigError, match="mode"):
        parse_settings({**base, "mode": "mirror"})


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_target(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "old.sqlite")
    return request.getfixturevalue("fresh_postgres_db")


def test_store_upgrades_from_0003_to_writeback_tables(store_target):
    db = store_target
    old = Store.open(db, upgrade=False)
    migrate.upgrade(old.engine, "0003")
    old.close()
    with Store.open(db) as store:
        assert store.revision == migrate.head_revision(store.engine)
        stamp = datetime(2026, 11, 1, tzinfo=UTC)
        with store.begin() as conn:
            conn.execute(writeback_state.insert().values(
                system="salesforce", object="Account", key_field="Id", key_value="001A", record_id="001A",
                golden_id="CUS-1", values={"CRM2_Tier__c": "A"}, written_at=stamp))
            conn.execute(writeback_queue.insert().values(
                system="salesforce", object="Account", key_field="Id", key_value="001B", values={},
                reason="rejected", first_at=stamp, last_at=stamp))
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(writeback_state.c["values"])).scalar_one() == {"CRM2_Tier__c": "A"}
            assert conn.execute(sa.select(writeback_queue.c.attempts)).scalar_one() == 0


def test_a_value_that_does_not_fit_its_field_skips_the_record_and_is_reported(tmp_path):
    mapping = bound(tmp_path)
    stats = MapStats()
    record = {"golden_id": "CUS-9", "tier": "A", "health_score": "very healthy", "clv": None, "scored_at": None,
              "name": "X", "salesforce_account_ids": ["001A"]}
    assert mapping.intents("customer_scores", record, match="salesforce_id", mode="update_only", stats=stats) == []
    assert stats.bad_values == ["Account.CRM2_Health_Score__c: not a valid number"]
