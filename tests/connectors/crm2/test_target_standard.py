"""singer-sdk's standard target tests against target-crm2, on SQLite and on PostgreSQL.

The suite's streams are partly mapped (tests/connectors/crm2/standard_suite.yml) and the rest
quarantined as unmapped, so records go through the mapping, the crosswalk and the quarantine.
The store is a fixture (a temporary SQLite file, a fresh PostgreSQL database), so each test
class overrides the suite's ``runner`` fixture to hand the target its store URL.
After the suite itself, every suite file is replayed to check that the counts add up in the store.
"""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.testing import get_target_test_class
from singer_sdk.testing.runners import TargetTestRunner
from target_crm2_support import StoreView

from connectors.crm2.target import TargetCrm2
from connectors.crm2.target.masking import masked_record
from sync.mapping import load_mapping
from sync.mapping.applier import source_key

MAPPING = Path(__file__).with_name("standard_suite.yml")
SUITE_FILES = importlib.resources.files("singer_sdk.testing") / "target_test_streams"
# Files whose input breaks the Singer protocol: the target keeps their records and then fails.
PROTOCOL_FAULTS = {"invalid_schema", "record_before_schema", "record_missing_key_property"}


def suite_config(store_url: str) -> dict[str, Any]:
    return {"store_url": store_url, "mapping": str(MAPPING), "unmapped_streams": "quarantine",
            "run_id": "suite"}


_Standard = get_target_test_class(TargetCrm2, config=suite_config("unused"))


class TestTargetCrm2StandardSqlite(_Standard):  # type: ignore[misc, valid-type]
    @pytest.fixture
    def runner(self, tmp_path: Path) -> TargetTestRunner:
        return TargetTestRunner(TargetCrm2, config=suite_config(str(tmp_path / "store.sqlite")))


@pytest.mark.postgres
class TestTargetCrm2StandardPostgres(_Standard):  # type: ignore[misc, valid-type]
    @pytest.fixture
    def runner(self, fresh_postgres_db: str) -> TargetTestRunner:
        return TargetTestRunner(TargetCrm2, config=suite_config(fresh_postgres_db))


def _suite_names() -> list[str]:
    return sorted(p.name.removesuffix(".singer") for p in SUITE_FILES.iterdir() if p.name.endswith(".singer"))


def _replay(store_url: str, name: str) -> TargetCrm2:
    target = TargetCrm2(config=suite_config(store_url))
    with (SUITE_FILES / f"{name}.singer").open(encoding="utf-8") as lines:
        if name in PROTOCOL_FAULTS:
            with pytest.raises(Exception, match=r"SCHEMA|key properties"):
                target.listen(lines)
        else:
            target.listen(lines)
    return target


def _input_records(name: str) -> dict[str, list[Any]]:
    """Stream → records, as the suite file sends them."""
    found: dict[str, list[Any]] = {}
    with (SUITE_FILES / f"{name}.singer").open(encoding="utf-8") as lines:
        for line in lines:
            message = json.loads(line)
            if message.get("type") == "RECORD":
                found.setdefault(message["stream"], []).append(message["record"])
    return found


def counts_keys(name: str, stream: str) -> list[str]:
    """The key properties the suite file declares for ``stream`` (its last SCHEMA message)."""
    keys: list[str] = []
    with (SUITE_FILES / f"{name}.singer").open(encoding="utf-8") as lines:
        for line in lines:
            message = json.loads(line)
            if message.get("type") == "SCHEMA" and message.get("stream") == stream:
                keys = message.get("key_properties") or []
    return keys


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _check_accounted(store_url: str, name: str, target: TargetCrm2) -> None:
    """Reconcile the input file with the store: each record is staged, deleted or quarantined."""
    mapping = load_mapping(MAPPING)
    view = StoreView(store_url)
    try:
        for stream, records in _input_records(name).items():
            counts = target.loader.counts[stream]
            assert counts.received == len(records)
            assert counts.problems(stream) == []
            plans = mapping.plans_for(stream)
            for plan in plans:
                ids = {source_key(plan, r) for r in records}
                walk = view.crosswalk(plan.name)
                staged = set(view.staged(plan.name))
                held = {r.source_id for r in view.quarantine() if r.source_object == plan.name}
                for sid in ids - {None}:
                    assert walk[(plan.name, sid)] in ("loaded", "quarantined"), (plan.name, sid)
                    assert (sid in staged) == (walk[(plan.name, sid)] == "loaded")
                    assert (sid in held) == (walk[(plan.name, sid)] == "quarantined")
            if not plans:
                held = [r for r in view.quarantine() if r.stream == stream]
                kept = {json.dumps(_json(r.record), sort_keys=True) for r in held}
                assert {json.dumps(masked_record(r, counts_keys(name, stream)), sort_keys=True)
                        for r in records} <= kept
                assert all("no mapping" in r.reason or "SCHEMA" in r.reason for r in held)
    finally:
        view.close()


@pytest.mark.parametrize("name", _suite_names())
def test_every_suite_file_is_accounted_for_on_sqlite(tmp_path: Path, name: str) -> None:
    url = str(tmp_path / "store.sqlite")
    target = _replay(url, name)
    _check_accounted(url, name, target)
    # The same input again adds nothing: no staged row, no quarantine row, no crosswalk change.
    view = StoreView(url)
    before = (view.scalar("select count(*) from staging"), view.scalar("select count(*) from quarantine"),
              view.rows("select * from crosswalk order by source_object, source_id"))
    view.close()
    again = _replay(url, name)
    for counts in again.loader.counts.values():
        for c in counts.plans.values():
            assert c.inserted == c.updated == c.deleted == 0
    view = StoreView(url)
    after = (view.scalar("select count(*) from staging"), view.scalar("select count(*) from quarantine"),
             view.rows("select * from crosswalk order by source_object, source_id"))
    view.close()
    assert [len(before[2]), before[0], before[1]] == [len(after[2]), after[0], after[1]]
    assert [tuple(r)[:6] for r in before[2]] == [tuple(r)[:6] for r in after[2]]


def test_suite_records_land_mapped_or_quarantined(tmp_path: Path) -> None:
    url = str(tmp_path / "store.sqlite")
    for name in ("camelcase", "optional_attributes", "schema_updates", "encoded_string_data", "array_data"):
        _replay(url, name)
    view = StoreView(url)
    try:
        names = {sid: data["name"] for sid, data in view.staged("TestCamelcase").items()}
        assert names == {"1": "Gitter Windows Desktop App", "2": "Gitter iOS App"}
        assert {data["name"] for data in view.staged("test_strings").values()} >= {"απλή συμβολοσειρά", "简单的字串"}
        # records without 'optional' have no name: quarantined with the reason, and accounted for
        held = {(r.source_object, r.source_id, r.field) for r in view.quarantine()
                if r.stream == "test_optional_attributes"}
        assert held and all(field == "name" for _, _, field in held)
        assert {k for k, v in view.crosswalk("test_optional_attributes").items() if v == "quarantined"} == \
            {("test_optional_attributes", sid) for _, sid, _ in held}
        # schema changes mid-stream: every version of the stream loaded
        assert set(view.staged("test_schema_updates")) == {"1", "2", "3", "4", "5", "6"}
        # an unmapped stream is quarantined (unmapped_streams: quarantine), one row per record
        fruits = [r for r in view.quarantine() if r.stream == "test_array_data"]
        assert len(fruits) == 4 and all("no mapping" in r.reason for r in fruits)
    finally:
        view.close()


@pytest.mark.postgres
def test_every_suite_file_is_accounted_for_on_postgres(fresh_postgres_db: str) -> None:
    for name in _suite_names():
        target = _replay(fresh_postgres_db, name)
        _check_accounted(fresh_postgres_db, name, target)
