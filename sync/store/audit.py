"""The audit log as a hash chain: who did what, append-only, and tamper-evident.

Every entry records its actor and command (from :mod:`sync.access`) and carries
``hash = sha256(prev_hash + canonical(content))`` where content is the entry's id, run, time,
action, system, object, record id, field, actor and command. Changing, removing or inserting an
entry breaks the chain at that entry, and :func:`verify` names it.

The before/after values (``old``, ``new``) are deliberately *outside* the hashed content: they
may hold personal data, and a right-to-erasure request must be able to blank them
(:mod:`sync.migrate.erase`) without breaking the chain. So the chain proves who did what to
which record and field, when — not what the values were. Both stores let nothing but those two
columns change: SQLite triggers and a PostgreSQL trigger abort any other UPDATE and every
DELETE, and on PostgreSQL only ``crm2_admin`` is granted UPDATE, on those two columns only.

What a chain cannot show on its own: entries cut off the *end* of the log. ``crm2 audit verify``
prints the head (last id and hash); keep it somewhere else and pass it back with ``--anchor``.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from sync import access
from sync.store.schema import audit_log

GENESIS = "0" * 64
HASHED = ("id", "run_id", "at", "action", "system", "object", "record_id", "field", "actor", "command")
_LOCK_KEY = zlib.crc32(b"crm2-audit-chain")


def _stamp(value: Any) -> Any:
    # SQLite hands datetimes back naive, PostgreSQL in the session's zone: hash the UTC wall time
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds")
    return value


def entry_hash(row: Mapping[str, Any], prev_hash: str) -> str:
    content = {k: _stamp(row.get(k)) for k in HASHED}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def actor_for(conn: Connection) -> str:
    """The actor to record: the database role on PostgreSQL (with the named service account
    after it, when one is named), else the named actor or the OS user."""
    if conn.dialect.name == "postgresql":
        db_user = str(conn.execute(sa.text("SELECT session_user")).scalar())
        named = access.named_actor()
        return db_user if not named or named == db_user else f"{db_user} as {named}"[:128]
    return access.current_actor()[:128]


def append(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Chain and insert audit rows in the caller's transaction (filling id, actor, command, hashes)."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        # one writer at a time extends the chain; released when the caller's transaction ends
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    last = conn.execute(sa.select(audit_log.c.id, audit_log.c.hash)
                        .order_by(audit_log.c.id.desc()).limit(1)).first()
    next_id, prev = (last.id + 1, last.hash or GENESIS) if last else (1, GENESIS)
    actor = actor_for(conn)
    command = (access.current_command() or "")[:128] or None
    chained = []
    for row in rows:
        full = {**row, "id": next_id, "actor": row.get("actor") or actor, "command": row.get("command", command)}
        full["prev_hash"] = prev
        full["hash"] = prev = entry_hash(full, prev)
        chained.append(full)
        next_id += 1
    conn.execute(audit_log.insert(), chained)
    return len(chained)


@dataclass(frozen=True)
class Break:
    entry_id: int
    kind: str  # changed | removed | inserted | truncated
    message: str


@dataclass(frozen=True)
class Verdict:
    checked: int
    head_id: int | None
    head_hash: str | None
    problem: Break | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _rows(conn: Connection) -> Iterator[Any]:
    cols = [audit_log.c[k] for k in HASHED] + [audit_log.c.prev_hash, audit_log.c.hash]
    yield from conn.execute(sa.select(*cols).order_by(audit_log.c.id).execution_options(yield_per=2000))


def verify(conn: Connection, anchor: tuple[int, str] | None = None) -> Verdict:
    """Walk the chain from the first entry; the first break found, or none."""
    prev_hash, prev_id, checked = GENESIS, 0, 0
    before_prev = None  # the hash of the entry before the previous one
    seen_anchor = anchor is None
    for row in _rows(conn):
        data = row._mapping
        if row.prev_hash != prev_hash and before_prev is not None and row.prev_hash == before_prev:
            # this entry links past the previous one, which therefore came in later
            return Verdict(checked - 1, prev_id - 1 or None, before_prev, Break(
                prev_id, "inserted", f"audit entry {prev_id} was inserted: entry {row.id} links past it to "
                                     f"entry {prev_id - 1}"))
        if row.hash is None or row.hash != entry_hash(data, row.prev_hash or ""):
            if row.prev_hash != prev_hash and row.id == prev_id + 1:
                return Verdict(checked, prev_id or None, prev_hash, Break(
                    row.id, "inserted", f"audit entry {row.id} was inserted: it neither matches its hash nor "
                                        f"links to entry {prev_id}"))
            return Verdict(checked, prev_id or None, prev_hash, Break(
                row.id, "changed", f"audit entry {row.id} was changed: its content no longer matches its hash"))
        if row.prev_hash != prev_hash or row.id != prev_id + 1:
            if row.id > prev_id + 1:
                gap = f"{prev_id + 1}" if row.id == prev_id + 2 else f"{prev_id + 1}–{row.id - 1}"
                return Verdict(checked, prev_id or None, prev_hash, Break(
                    prev_id + 1, "removed", f"audit entry {gap} was removed (entry {row.id} follows entry {prev_id})"))
            return Verdict(checked, prev_id or None, prev_hash, Break(
                row.id, "inserted", f"audit entry {row.id} was inserted (or replaced): it does not link to "
                                    f"entry {prev_id}"))
        if anchor is not None and row.id == anchor[0]:
            if row.hash != anchor[1]:
                return Verdict(checked, prev_id or None, prev_hash, Break(
                    row.id, "changed", f"audit entry {row.id} differs from the anchor kept for it "
                                       "(the log was rewritten from there on)"))
            seen_anchor = True
        before_prev, prev_hash, prev_id, checked = prev_hash, row.hash, row.id, checked + 1
    if not seen_anchor:
        assert anchor is not None
        return Verdict(checked, prev_id or None, prev_hash, Break(
            anchor[0], "truncated", f"audit entry {anchor[0]} (the anchor) is gone: entries were cut off the end "
                                    f"of the log after entry {prev_id}"))
    return Verdict(checked, prev_id or None, prev_hash if prev_id else None, None)


def entries(conn: Connection, *, actor: str | None = None, since: datetime | None = None,
            record: str | None = None, limit: int = 100) -> list[Any]:
    """Entries newest first, filtered by actor, time and record (``id`` or ``system/object/id``)."""
    a = audit_log
    query = sa.select(a).order_by(a.c.id.desc()).limit(limit)
    if actor:
        query = query.where(a.c.actor == actor)
    if since is not None:
        query = query.where(a.c.at >= since)
    if record:
        parts = record.split("/", 2)
        if len(parts) == 3:
            query = query.where(a.c.system == parts[0], a.c.object == parts[1], a.c.record_id == parts[2])
        else:
            query = query.where(a.c.record_id == record)
    return list(conn.execute(query))
