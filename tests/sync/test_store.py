"""The store on SQLite and on a real PostgreSQL server, and in-place schema upgrades."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from sync.store import QuarantinedRecord, StagedRecord, Store, content_hash, migrate
from sync.store.schema import crosswalk, staging


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "store.sqlite")
    return request.getfixturevalue("fresh_postgres_db")


def _rec(i: str, name: str = "Acme", deleted: bool = False) -> StagedRecord:
    return StagedRecord("salesforce", "Account", i, "customer",
                        {"name": name, "revenue": Decimal("12345678901234.56")}, deleted)


def test_stage_skips_unchanged_and_updates_changed(store_target):
    with Store.open(store_target) as store:
        with store.begin() as conn:
            first = store.stage(conn, [_rec("1"), _rec("2")], run_id=None)
        with store.begin() as conn:
            second = store.stage(conn, [_rec("1"), _rec("2", name="Acme Ltd")], run_id=None)
        assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
        assert (second.inserted, second.updated, second.unchanged) == (0, 1, 1)
        with store.engine.connect() as conn:
            data = conn.execute(sa.select(staging.c.data).where(staging.c.source_id == "2")).scalar_one()
        # money survives exactly as a decimal string, never a float
        assert data == {"name": "Acme Ltd", "revenue": "12345678901234.56"}


def test_deleted_record_is_accounted_for_as_deleted(store_target):
    with Store.open(store_target) as store:
        with store.begin() as conn:
            store.stage(conn, [_rec("1")], run_id=None)
        with store.begin() as conn:
            store.stage(conn, [_rec("1", deleted=True)], run_id=None)
        with store.engine.connect() as conn:
            status = conn.execute(sa.select(crosswalk.c.status)).scalar_one()
        assert status == "deleted"


def test_bookmark_commits_with_rows_or_not_at_all(store_target):
    with Store.open(store_target) as store:
        with pytest.raises(RuntimeError), store.begin() as conn:
            store.stage(conn, [_rec("1")], run_id=None)
            store.set_bookmark(conn, "tap-x", {"bookmarks": {"Account": {"replication_key_value": "t1"}}})
            raise RuntimeError("crash before commit")
        assert store.get_bookmark("tap-x") is None
        assert store.summary()["staged"] == {}
        with store.begin() as conn:
            store.stage(conn, [_rec("1")], run_id=None)
            store.set_bookmark(conn, "tap-x", {"v": 1})
        with store.begin() as conn:
            store.set_bookmark(conn, "tap-x", {"v": 2})
        assert store.get_bookmark("tap-x") == {"v": 2}


def test_runs_and_quarantine_are_recorded(store_target):
    with Store.open(store_target) as store:
        run_id = store.start_run("sync", "config/demo.yml")
        with store.begin() as conn:
            store.quarantine(conn, [QuarantinedRecord("Account", "salesforce", "Account", "9",
                                                      "name: required", field="name")], run_id)
        store.finish_run(run_id, status="partial", exit_code=3, counts={"quarantined": 1}, api_calls=7)
        (run,) = store.runs()
        assert (run.status, run.exit_code, run.counts, run.api_calls) == ("partial", 3, {"quarantined": 1}, 7)
        assert run.seconds is not None and run.seconds >= 0
        assert store.summary()["quarantined"] == 1


def test_content_hash_ignores_key_order_but_not_values():
    assert content_hash({"a": 1, "b": Decimal("0.10")}) == content_hash({"b": Decimal("0.10"), "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 2})


def test_store_made_by_first_schema_version_upgrades_in_place(store_target):
    old = Store.open(store_target, upgrade=False)
    migrate.upgrade(old.engine, "0001")
    assert old.revision == "0001"
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    with old.begin() as conn:
        for sid, deleted in (("1", False), ("2", True)):
            ref = {"source_system": "finance", "source_object": "customers", "source_id": sid}
            conn.execute(sa.text(
                "INSERT INTO staging (source_system, source_object, source_id, entity, data, content_hash,"
                " deleted, updated_at) VALUES (:source_system, :source_object, :source_id, 'customer',"
                " :data, 'h', :deleted, :ts)").bindparams(
                    sa.bindparam("data", type_=sa.JSON())), {**ref, "data": {"name": sid},
                                                            "deleted": deleted, "ts": stamp})
            conn.execute(sa.text(
                "INSERT INTO crosswalk (source_system, source_object, source_id, entity, golden_id,"
                " content_hash, updated_at) VALUES (:source_system, :source_object, :source_id,"
                " 'customer', :gid, 'h', :ts)"), {**ref, "gid": f"G{sid}", "ts": stamp})
        conn.execute(sa.text("INSERT INTO runs (run_id, command, started_at, status) VALUES"
                             " ('r1', 'sync', :ts, 'ok')"), {"ts": stamp})
    old.close()

    with Store.open(store_target) as store:  # opening upgrades to head
        assert store.revision == migrate.head_revision(store.engine) != "0001"
        with store.engine.connect() as conn:
            rows = dict(conn.execute(sa.select(crosswalk.c.source_id, crosswalk.c.status)).all())
            golden_ids = set(conn.execute(sa.select(crosswalk.c.golden_id)).scalars())
        assert rows == {"1": "loaded", "2": "deleted"}
        assert golden_ids == {"G1", "G2"}
        (run,) = store.runs()
        assert (run.run_id, run.api_calls) == ("r1", 0)
