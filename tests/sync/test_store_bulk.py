"""Bulk staging writes the rows SQLAlchemy's own insert writes, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from sync.store import StagedRecord, Store
from sync.store.bulk import insert_many
from sync.store.schema import crosswalk, staging

AWKWARD = [
    {"name": "臺北 貿易有限公司", "note": None},  # non-ASCII text
    {"name": "lone \udc80 surrogate"},  # orjson refuses it: json.dumps writes it, as before
    {"name": "big", "n": 2**70},  # beyond 64 bits: json.dumps again
    {"name": "nested", "address": {"city": "Berlin", "lines": ["a", "b"]}, "ok": True, "x": 1.5},
]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "store.sqlite")
    return request.getfixturevalue("fresh_postgres_db")


def _rows(conn: sa.Connection, obj: str) -> list[tuple]:
    return [tuple(r) for r in conn.execute(
        sa.select(staging.c.source_id, staging.c.entity, staging.c.data, staging.c.deleted, staging.c.run_id,
                  staging.c.updated_at).where(staging.c.source_object == obj).order_by(staging.c.source_id))]


def test_insert_many_stores_what_sqlalchemy_stores(store_target):
    awkward = list(AWKWARD)
    if store_target.startswith("postgresql"):
        awkward[1] = {"name": "no lone surrogates in PostgreSQL"}  # the server refuses them either way
    stamp = datetime(2026, 12, 3, 14, 0, 0, 123456, tzinfo=UTC)
    rows = [{"source_id": str(i), "entity": "customer", "content_hash": "h", "data": data, "deleted": i == 0}
            for i, data in enumerate(awkward)]
    with Store.open(store_target) as store, store.begin() as conn:
        same = {"source_system": "s", "run_id": "r1", "updated_at": stamp}
        insert_many(conn, staging, rows, {**same, "source_object": "bulk"})
        conn.execute(staging.insert(), [{**same, **row, "source_object": "plain"} for row in rows])
        assert _rows(conn, "bulk") == _rows(conn, "plain")
        assert _rows(conn, "bulk")[3][2] == awkward[3]


def test_a_first_load_is_staged_and_in_the_crosswalk_once(store_target):
    records = [StagedRecord("s", "o", str(i), "customer", {"name": f"N{i}"}, plain=True) for i in range(1200)]
    with Store.open(store_target) as store:
        with store.begin() as conn:
            first = store.stage(conn, records, "r1", all_new=True)
        with store.begin() as conn:
            again = store.stage(conn, records, "r2")
            staged = conn.execute(sa.select(sa.func.count()).select_from(staging)).scalar()
            statuses = dict(conn.execute(sa.select(crosswalk.c.status, sa.func.count()).group_by(crosswalk.c.status))
                            .all())
    assert (first.inserted, again.unchanged, staged, statuses) == (1200, 1200, 1200, {"loaded": 1200})
