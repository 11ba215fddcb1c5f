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
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection

from sync.store.schema import audit_log, crosswalk, staging


def source_mark(conn: Connection) -> list[str]:
    """Latest change of staging and of the crosswalk, and the latest erasure."""
    latest = [conn.execute(sa.select(sa.func.max(t.c.updated_at))).scalar() for t in (staging, crosswalk)]
    erased = conn.execute(sa.select(sa.func.max(audit_log.c.id)).where(audit_log.c.action == "erase")).scalar()
    return [str(value) for value in (*latest, erased)]
