"""The crosswalk's one owner: every change of a source record's status or golden id is made here.

"Every source record ends up loaded, merged, quarantined, deleted at source or erased" is the
promise a migration team signs off on. The store stages records, target-crm2 quarantines,
releases and forgets them, quality checks hold and release them, resolve links them to golden
records and erase anonymises them — each through one of the functions below, so the statuses
and the rules for moving between them live in one module (a test fails when another module
writes the crosswalk table).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from sync.store.bulk import insert_many
from sync.store.schema import crosswalk, quarantine


class Status(StrEnum):
    LOADED = "loaded"
    """Staged and live: part of a golden record (alone or as the record that kept its id)."""
    MERGED = "merged"
    """Live and linked into a golden record another record leads."""
    QUARANTINED = "quarantined"
    """Held back with a reason (mapping failure or a quality check); never dropped."""
    DELETED = "deleted"
    """Deleted at the source; kept so a reconciliation can prove it."""
    ERASED = "erased"
    """Personal data erased on request (crm2 migrate erase); remembered so it is not loaded again."""


ACTIVE = (Status.LOADED, Status.MERGED)
"""The statuses of records that take part in golden records."""


def _ref(system: str, obj: str) -> sa.ColumnElement[bool]:
    return sa.and_(crosswalk.c.source_system == system, crosswalk.c.source_object == obj)


def add(conn: Connection, rows: Sequence[Mapping[str, Any]], same: Mapping[str, Any] | None = None) -> None:
    """New source records; each row names its ``status`` (a :class:`Status`); ``same`` holds
    values every row shares (system, object, run, time), given once."""
    if rows:
        insert_many(conn, crosswalk, [{**row, "status": _status(row["status"])} for row in rows], same)


def _status(status: Status | str) -> str:
    return status.value if type(status) is Status else Status(status).value  # an unknown one raises


def restage(conn: Connection, system: str, obj: str, source_id: str, *, content_hash: str, run_id: str | None,
            at: datetime, deleted: bool) -> None:
    """A known record staged again with new content; a deletion at the source marks it deleted."""
    values: dict[str, Any] = {"content_hash": content_hash, "run_id": run_id, "updated_at": at}
    if deleted:
        values["status"] = Status.DELETED.value
    conn.execute(crosswalk.update().where(_ref(system, obj), crosswalk.c.source_id == source_id).values(**values))


def rehash(conn: Connection, system: str, obj: str, hashes: Mapping[str, str]) -> None:
    """Remember new content hashes without a status change (a record whose mapped content is
    unchanged but for its change time, e.g. crm2's own writeback echoing back)."""
    if hashes:
        conn.execute(crosswalk.update().where(_ref(system, obj), crosswalk.c.source_id == sa.bindparam("b_sid"))
                     .values(content_hash=sa.bindparam("b_hash")),
                     [{"b_sid": sid, "b_hash": digest} for sid, digest in sorted(hashes.items())])


def forget(conn: Connection, system: str, obj: str, ids: Sequence[str]) -> None:
    """Drop the rows of records whose staging is replaced from scratch (target-crm2's own rows)."""
    if ids:
        conn.execute(crosswalk.delete().where(_ref(system, obj), crosswalk.c.source_id.in_(ids)))


def release(conn: Connection, system: str, obj: str, ids: Sequence[str], *, run_id: str | None, at: datetime,
            from_statuses: Iterable[Status] = (Status.QUARANTINED,), unless_held: bool = False) -> None:
    """Records that are fine again become loaded (resolve gives them a golden id on its next run).
    ``unless_held`` keeps those a still-open quarantine row holds (a quality check, say)."""
    if not ids:
        return
    c, q = crosswalk, quarantine
    where = [_ref(system, obj), c.c.source_id.in_(ids), c.c.status.in_([s.value for s in from_statuses])]
    if unless_held:
        where.append(~sa.select(sa.literal(1)).where(
            q.c.source_system == c.c.source_system, q.c.source_object == c.c.source_object,
            q.c.source_id == c.c.source_id, q.c.resolved_at.is_(None)).exists())
    conn.execute(c.update().where(*where).values(status=Status.LOADED.value, golden_id=None, run_id=run_id,
                                                 updated_at=at))


def hold(conn: Connection, system: str, obj: str, source_id: str, *, run_id: str | None, at: datetime,
         content_hash: str | None = None, only_active: bool = False) -> None:
    """Quarantine a known record: by target-crm2 (with its new content hash) whatever its status,
    or by a quality check (``only_active``: a deleted or erased record is not held)."""
    c = crosswalk
    where = [_ref(system, obj), c.c.source_id == source_id]
    if only_active:
        where.append(c.c.status.in_([s.value for s in ACTIVE]))
    values: dict[str, Any] = {"status": Status.QUARANTINED.value, "run_id": run_id, "updated_at": at}
    if content_hash is not None:
        values["content_hash"] = content_hash
    conn.execute(c.update().where(*where).values(**values))


def link(conn: Connection, links: Sequence[tuple[str, str, str, str, Status]], *, run_id: str | None,
         at: datetime) -> None:
    """Resolve's outcome: (system, object, id, golden id, loaded or merged) for each record."""
    if not links:
        return
    c = crosswalk
    conn.execute(c.update().where(c.c.source_system == sa.bindparam("b_sys"),
                                  c.c.source_object == sa.bindparam("b_obj"),
                                  c.c.source_id == sa.bindparam("b_id")).values(
        golden_id=sa.bindparam("b_gid"), status=sa.bindparam("b_status"), run_id=run_id, updated_at=at),
        [{"b_sys": s, "b_obj": o, "b_id": i, "b_gid": g, "b_status": Status(st).value} for s, o, i, g, st in links])


def erase(conn: Connection, where: sa.ColumnElement[bool]) -> int:
    """Records whose personal data was erased: no golden id, remembered as erased. Returns the count."""
    done = conn.execute(crosswalk.update().where(where).values(status=Status.ERASED.value, golden_id=None))
    return int(done.rowcount or 0)
