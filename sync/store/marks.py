"""A change mark of the source side of the store: two marks are equal only if nothing was written.

A derived stage (enrichment) can compare the mark it saved after its last run with the mark now.
If they are equal, no record it reads was staged, linked, deleted or erased since then, so it
need not read any record to find what changed.

This relies on three rules of the store, each kept by one owner:

* every staging write (:meth:`sync.store.Store.stage`) and every crosswalk status or golden-id
  change (:mod:`sync.store.crosswalk`) sets ``updated_at`` to the time of the write;
* a crosswalk row is deleted only by :func:`~sync.store.crosswalk.forget`, which the target calls
  just before it writes the record again, so the latest change still moves, or by erasure;
* erasure, the one writer that rewrites or deletes rows without touching ``updated_at``, always
  adds an ``erase`` audit entry.

The latest change of each table is an index seek (migration 0011), so a mark costs milliseconds
at any size.

Resolution also reads people's decisions (:func:`decisions_mark`), which stewards record from
the console without the run lock.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection

from sync.store.schema import audit_log, crosswalk, match_constraints, staging


def source_mark(conn: Connection) -> list[str]:
    """Latest change of staging and of the crosswalk, and the latest erasure."""
    staged, erased = staged_mark(conn)
    linked = conn.execute(sa.select(sa.func.max(crosswalk.c.updated_at))).scalar()
    return [staged, str(linked), erased]


def staged_mark(conn: Connection) -> list[str]:
    """Latest change of staging, and the latest erasure: the mark of what quality checks read.

    Checks read staged records and whether the crosswalk says a record was deleted at source.
    A crosswalk row is only added, deleted at source or forgotten together with a staging write
    (:meth:`sync.store.Store.stage`), so this mark moves with it, while the crosswalk writes that
    stay invisible to checks (resolve linking golden ids, checks' own quarantines) leave it be.
    """
    staged = conn.execute(sa.select(sa.func.max(staging.c.updated_at))).scalar()
    erased = conn.execute(sa.select(sa.func.max(audit_log.c.id)).where(audit_log.c.action == "erase")).scalar()
    return [str(staged), str(erased)]


def decisions_mark(conn: Connection) -> list[str]:
    """How many match decisions there are and the latest. A review or unmerge only ever adds rows or
    replaces one with a row stamped now, so either part moves; erasure's deletions move the
    source mark's erase entry."""
    c = match_constraints
    count, latest = conn.execute(sa.select(sa.func.count(), sa.func.max(c.c.created_at))).one()
    return [str(count), str(latest)]
