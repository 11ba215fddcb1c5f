"""The crm2 store: SQLite by default (a file, zero config), PostgreSQL by URL.

One object gives the rest of the engine what it needs: run history, bookmarks, staged
records with their crosswalk entries and content hashes, quarantine and the audit log.
Writes take an open connection so callers can commit data and bookmarks in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, event

from sync import access, private
from sync.store import audit as audit_chain
from sync.store import crosswalk as xw
from sync.store import keys, migrate
from sync.store.bulk import insert_many
from sync.store.schema import (
    bookmarks,
    crosswalk,
    golden,
    quarantine,
    runs,
    staging,
)

DEFAULT_PATH = Path(".crm2") / "crm2.sqlite"
log = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(data: Any) -> Any:
    """Plain-JSON form of a record (Decimals as exact strings, datetimes as ISO 8601)."""
    return json.loads(json.dumps(data, default=_json_default))


def content_hash(data: Mapping[str, Any]) -> str:
    """Stable hash of a record's content: key order and Decimal/str spelling do not matter."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=_json_default,
                           ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def store_url(target: str | Path | None) -> str:
    """A SQLAlchemy URL from a URL or a file path (None: the default SQLite file)."""
    if target is None:
        target = DEFAULT_PATH
    text = str(target)
    if "://" in text:
        return text
    path = Path(text).expanduser()
    private.mkdir(path.parent)
    return f"sqlite:///{path}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers (crm2 runs, report) work while a sync writes; busy_timeout waits for locks
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    # SQLite's default page cache is 2 MiB: a store of millions of records then reads every B-tree
    # page of a join's look-ups from the OS again (a 1M-customer resolve spent a fifth of its CPU
    # in the kernel). 128 MiB holds the indexes' upper levels; it is a bound, filled only as used
    cur.execute("PRAGMA cache_size=-131072")
    cur.close()


@dataclass(frozen=True)
class StagedRecord:
    """A mapped record ready for staging."""

    source_system: str
    source_object: str
    source_id: str
    entity: str
    data: dict[str, Any]
    deleted: bool = False
    plain: bool = False
    """``data`` is plain JSON already (say, from ``model_dump(mode="json")``): stored as it is,
    without the round trip through text that makes other data plain."""

    @property
    def hash(self) -> str:
        return content_hash({"data": self.data, "deleted": self.deleted})


@dataclass
class StageResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: StageResult) -> StageResult:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


@dataclass(frozen=True)
class QuarantinedRecord:
    stream: str
    source_system: str
    source_object: str
    source_id: str | None
    reason: str
    field: str | None = None
    record: dict[str, Any] | None = None  # must already be masked


@dataclass(frozen=True)
class AuditEntry:
    action: str
    system: str
    object: str
    record_id: str
    field: str | None = None
    old: Any = None
    new: Any = None


@dataclass
class RunRecord:
    run_id: str
    command: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    exit_code: int | None
    counts: dict[str, Any] = field(default_factory=dict)
    api_calls: int = 0
    error: str | None = None

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (_aware(self.finished_at) - _aware(self.started_at)).total_seconds()


def _aware(value: datetime) -> datetime:
    # SQLite hands datetimes back naive; every timestamp we write is UTC
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL and in-memory databases)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _keyer(key: str) -> Any:
    operand = keys.pragma(key)

    def set_key(dbapi_conn: Any, _record: Any) -> None:
        keys.quiet(dbapi_conn)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA key = {operand}")  # before anything else touches the file
        cur.close()

    return set_key


def create_engine(url: str, *, key: str | None = None, **options: Any) -> Engine:
    """An engine for a store URL: a SQLite file is created private, and opened with SQLCipher
    when a key is given or found (:mod:`sync.store.keys`); a missing or wrong key is a
    :class:`~sync.store.keys.StoreKeyError` naming what to set, never "file is not a database"."""
    path = sqlite_path(url)
    if path is None:
        _warn_unverified_tls(url)
        return sa.create_engine(url, future=True, **options)
    private.touch(path)
    source: str | None = "the key given"
    if key is None:
        key, source = keys.find(path)
    if key:
        try:
            import sqlcipher3
        except ImportError:
            raise keys.StoreKeyError("a store key is set but SQLCipher is not installed "
                                     "(pip install sqlcipher3-binary)") from None
        engine = sa.create_engine(url, future=True, module=sqlcipher3.dbapi2, **options)
        event.listen(engine, "connect", _keyer(key))
    else:
        engine = sa.create_engine(url, future=True, **options)
    event.listen(engine, "connect", _sqlite_pragmas)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
    except sa.exc.DatabaseError as exc:
        engine.dispose()
        if "not a database" not in str(exc.orig) and "encrypted" not in str(exc.orig):
            raise
        if key:
            raise keys.StoreKeyError(f"cannot open the store {path}: the key from {source} is wrong, "
                                     "or the store is not encrypted (crm2 store rekey encrypts it)") from None
        raise keys.StoreKeyError(f"the store {path} is encrypted (or not a SQLite file) and no key was found: "
                                 f"set {keys.KEY_ENV}, {keys.KEY_FILE_ENV}, or store.key_env / store.key_file "
                                 "in the pipeline config") from None
    return engine


_LOCAL_HOSTS = {None, "", "localhost", "127.0.0.1", "::1"}


def _warn_unverified_tls(url: str) -> None:
    """PostgreSQL over a network should verify the server (sslmode=verify-full): say so once."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "postgresql" or parsed.host in _LOCAL_HOSTS or str(parsed.host).startswith("/"):
        return
    if parsed.query.get("sslmode") not in ("verify-full", "verify-ca"):
        log.warning("the store connection to %s does not verify the server's certificate: add "
                    "?sslmode=verify-full&sslrootcert=… to the URL (docs/security.md)", parsed.host)


class Store:
    """Access to a crm2 store. Use :meth:`open`; it migrates the schema to the current head."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, target: str | Path | None = None, *, upgrade: bool = True, key: str | None = None) -> Store:
        url = store_url(target)
        engine = create_engine(url, key=key)
        store = cls(engine)
        try:
            store.check_role()  # before the migration reads anything: a clear refusal, not SQL's
            if upgrade:
                migrate.upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        return store

    @property
    def encrypted(self) -> bool:
        return self.engine.dialect.dbapi is not None and self.engine.dialect.dbapi.__name__.startswith("sqlcipher")

    def check_role(self) -> None:
        """On PostgreSQL, refuse the running command unless the user holds the role it needs.

        On SQLite the OS account that can open the file is the owner: every role. The database
        refuses on its own too (GRANTs); this check is there to say so in one clear line first.
        """
        label = access.checked_command()
        if not label or self.engine.dialect.name != "postgresql":
            return
        from sync.store import roles

        with self.engine.connect() as conn:
            roles.check(conn, access.action_of(label), label)

    def role(self) -> access.Role | None:
        if self.engine.dialect.name != "postgresql":
            return access.Role.ADMIN
        from sync.store import roles

        with self.engine.connect() as conn:
            return roles.role_of(conn)[1]

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def revision(self) -> str | None:
        return migrate.current_revision(self.engine)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # -- runs ---------------------------------------------------------------------------------
    def start_run(self, command: str, config: str | None = None) -> str:
        run_id = str(uuid.uuid4())
        with self.begin() as conn:
            conn.execute(runs.insert().values(run_id=run_id, command=command, config=config,
                                              started_at=now(), status="running", counts={}))
        return run_id

    def finish_run(self, run_id: str, *, status: str, exit_code: int,
                   counts: Mapping[str, Any] | None = None, error: str | None = None,
                   api_calls: int = 0) -> None:
        with self.begin() as conn:
            conn.execute(runs.update().where(runs.c.run_id == run_id).values(
                finished_at=now(), status=status, exit_code=exit_code, counts=to_json(dict(counts or {})),
                error=error, api_calls=api_calls))

    def mark_interrupted(self) -> list[str]:
        """Close runs left 'running' by a process that died; call only while holding the run lock."""
        with self.begin() as conn:
            stale = list(conn.execute(sa.select(runs.c.run_id).where(runs.c.status == "running")).scalars())
            if stale:
                conn.execute(runs.update().where(runs.c.run_id.in_(stale)).values(
                    status="interrupted", finished_at=now(), error="the process ended before the run finished"))
        return stale

    def runs(self, limit: int = 20) -> list[RunRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(runs).order_by(runs.c.started_at.desc()).limit(limit))
            return [RunRecord(run_id=r.run_id, command=r.command, status=r.status,
                              started_at=r.started_at, finished_at=r.finished_at, exit_code=r.exit_code,
                              counts=r.counts or {}, api_calls=r.api_calls or 0, error=r.error)
                    for r in rows]

    # -- bookmarks ----------------------------------------------------------------------------
    def get_bookmark(self, name: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(bookmarks.c.state).where(bookmarks.c.name == name)).scalar()

    def set_bookmark(self, conn: Connection, name: str, state: Mapping[str, Any],
                     run_id: str | None = None) -> None:
        """Save state in the caller's transaction, so it commits together with its rows."""
        values = {"state": to_json(dict(state)), "run_id": run_id, "updated_at": now()}
        done = conn.execute(bookmarks.update().where(bookmarks.c.name == name).values(**values))
        if done.rowcount == 0:
            conn.execute(bookmarks.insert().values(name=name, **values))

    # -- staging and crosswalk ---------------------------------------------------------------
    def known_hashes(self, conn: Connection, system: str, obj: str,
                     ids: Sequence[str]) -> dict[str, str]:
        """Content hashes in the crosswalk for these source ids (absent ids are new)."""
        found: dict[str, str] = {}
        for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = ids[start:start + 500]
            rows = conn.execute(sa.select(crosswalk.c.source_id, crosswalk.c.content_hash).where(
                crosswalk.c.source_system == system, crosswalk.c.source_object == obj,
                crosswalk.c.source_id.in_(chunk)))
            found.update({r.source_id: r.content_hash for r in rows})
        return found

    def stage(self, conn: Connection, records: Sequence[StagedRecord], run_id: str | None, *,
              all_new: bool = False) -> StageResult:
        """Stage records, skipping those whose content hash is unchanged since the last load.

        ``all_new``: the caller has just found none of these records in the crosswalk (in this
        transaction or under the run lock), so looking their hashes up again is skipped.
        """
        result = StageResult()
        by_object: dict[tuple[str, str], list[StagedRecord]] = {}
        for rec in records:
            by_object.setdefault((rec.source_system, rec.source_object), []).append(rec)
        stamp = now()
        for (system, obj), group in by_object.items():
            latest = {rec.source_id: rec for rec in group}  # last one wins within a batch
            known = {} if all_new else self.known_hashes(conn, system, obj, list(latest))
            new_rows: list[tuple[dict[str, Any], StagedRecord]] = []
            changed_rows: list[tuple[dict[str, Any], StagedRecord]] = []
            for rec in latest.values():
                digest = rec.hash
                if known.get(rec.source_id) == digest:
                    result.unchanged += 1
                    continue
                row: dict[str, Any] = {"source_system": system, "source_object": obj, "source_id": rec.source_id,
                       "entity": rec.entity, "content_hash": digest, "run_id": run_id, "updated_at": stamp}
                (changed_rows if rec.source_id in known else new_rows).append((row, rec))
            result.unchanged += len(group) - len(latest)
            if new_rows:
                same = {"source_system": system, "source_object": obj, "run_id": run_id, "updated_at": stamp}
                insert_many(conn, staging, [
                    {"source_id": rec.source_id, "entity": rec.entity, "content_hash": row["content_hash"],
                     "data": rec.data if rec.plain else to_json(rec.data), "deleted": rec.deleted}
                    for row, rec in new_rows], same)
                xw.add(conn, [{"source_id": rec.source_id, "entity": rec.entity, "content_hash": row["content_hash"],
                               "status": xw.Status.DELETED if rec.deleted else xw.Status.LOADED}
                              for row, rec in new_rows], same=same)
                result.inserted += len(new_rows)
            for row, rec in changed_rows:
                key = (staging.c.source_system == system) & (staging.c.source_object == obj) & (
                    staging.c.source_id == rec.source_id)
                conn.execute(staging.update().where(key).values(
                    data=rec.data if rec.plain else to_json(rec.data), deleted=rec.deleted,
                    content_hash=row["content_hash"], entity=rec.entity, run_id=run_id, updated_at=stamp))
                xw.restage(conn, system, obj, rec.source_id, content_hash=row["content_hash"], run_id=run_id,
                           at=stamp, deleted=rec.deleted)
                result.updated += 1
        return result

    def quarantine(self, conn: Connection, records: Iterable[QuarantinedRecord], run_id: str | None) -> int:
        rows = [{"run_id": run_id, "stream": q.stream, "source_system": q.source_system,
                 "source_object": q.source_object, "source_id": q.source_id, "field": q.field,
                 "reason": q.reason, "record": to_json(q.record) if q.record is not None else None,
                 "created_at": now()} for q in records]
        if rows:
            conn.execute(quarantine.insert(), rows)
        return len(rows)

    def audit(self, conn: Connection, entries: Iterable[AuditEntry], run_id: str | None) -> int:
        """Append entries to the hash-chained audit log, with the acting user and command."""
        stamp = now()
        rows = [{"run_id": run_id, "at": stamp, "action": e.action, "system": e.system, "object": e.object,
                 "record_id": e.record_id, "field": e.field, "old": to_json(e.old), "new": to_json(e.new)}
                for e in entries]
        return audit_chain.append(conn, rows)

    # -- summaries ------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Counts for the end-of-run summary: staged records per source, golden records, quarantine."""
        with self.engine.connect() as conn:
            per_source = {f"{r[0]}/{r[1]}": r[2] for r in conn.execute(
                sa.select(staging.c.source_system, staging.c.source_object, sa.func.count())
                .group_by(staging.c.source_system, staging.c.source_object)
                .order_by(staging.c.source_system, staging.c.source_object))}
            golden_counts = {r[0]: r[1] for r in conn.execute(
                sa.select(golden.c.entity, sa.func.count()).where(golden.c.merged_into.is_(None))
                .group_by(golden.c.entity))}
            quarantined = conn.execute(sa.select(sa.func.count()).select_from(quarantine)
                                       .where(quarantine.c.resolved_at.is_(None))).scalar_one()
            tiers: dict[str, int] = {}
            for data in conn.execute(sa.select(golden.c.data).where(
                    golden.c.entity == "customer", golden.c.merged_into.is_(None))).scalars():
                tier = (data or {}).get("tier") or "unscored"
                tiers[tier] = tiers.get(tier, 0) + 1
        return {"staged": per_source, "golden": golden_counts, "quarantined": quarantined, "tiers": tiers}
