"""The org's state in SQLite: one table per sObject, record writes with Salesforce's validation.

Every write goes through :meth:`Org.prepare` (describe-driven checks: unknown field, read-only
field, type, length, picklist, required, unique external id, reference shape) and then stamps
the system fields Salesforce maintains (Id, CreatedDate, LastModifiedDate, SystemModstamp,
owner, auto numbers, derived fields). Deletes are soft (``IsDeleted``), as in the recycle bin,
so ``queryAll`` still returns them, except Bulk ``hardDelete``, which skips the recycle bin;
a merge deletes the losers and points their ``MasterRecordId`` at the winner.

One connection serves every thread behind one lock: SQLite serialises writers anyway, and the
stand-in's throughput is bounded by Python long before SQLite.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.salesforce.standin.errors import RecordError
from connectors.salesforce.standin.ids import make_id, to_18
from connectors.salesforce.standin.schema import (
    CLOSED_STAGES,
    ORG_PREFIX,
    SOBJECTS,
    USER_PREFIX,
    FieldDef,
    SObjectDef,
)
from connectors.salesforce.standin.values import UNSET, ValueTypeError, from_csv, from_wire, now_stamp, validate
from sync import private

SYSTEM_STAMPS = ("CreatedDate", "LastModifiedDate", "SystemModstamp")
_DEFAULTS: dict[tuple[str, str], Any] = {
    ("Case", "Status"): "New", ("Case", "Priority"): "Medium", ("Task", "Status"): "Not Started",
    ("Opportunity", "CurrencyIsoCode"): "USD",
}
_AUTO_NUMBER_FORMAT = {("Case", "CaseNumber"): "{:08d}", ("Survey_Response__c", "Name"): "SR-{:06d}"}


def q(name: str) -> str:
    """A quoted SQL identifier (Case, Order... are SQL keywords)."""
    return f'"{name}"'


@dataclass(frozen=True)
class Prepared:
    """Validated stored values for one record write, by field name."""

    values: dict[str, Any]


class Org:
    """One org's records, persisted in a SQLite file."""

    def __init__(self, db_path: Path) -> None:
        self.path = Path(db_path)
        # The file keeps the connected app's secret and key: readable by its owner only.
        private.touch(self.path)
        self.lock = threading.RLock()
        self._savepoints = 0
        self.conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        with self.lock:
            self._create_schema()
        self.org_id = self._meta_default("org_id", lambda: make_id(ORG_PREFIX, 1))
        self.user_id = self._meta_default("user_id", lambda: make_id(USER_PREFIX, 1))

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    # -- schema and meta ----------------------------------------------------------------------

    def _create_schema(self) -> None:
        self.conn.execute("CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT)")
        for obj in SOBJECTS.values():
            cols = ", ".join(f"{q(f.name)}" + (" TEXT PRIMARY KEY" if f.name == "Id" else "")
                             for f in obj.stored_fields)
            self.conn.execute(f"CREATE TABLE IF NOT EXISTS {q(obj.name)} ({cols})")
            # A database from an older stand-in gains the fields added to the schema since.
            have = {row[1] for row in self.conn.execute(f"PRAGMA table_info({q(obj.name)})")}
            for f in obj.stored_fields:
                if f.name not in have:
                    self.conn.execute(f"ALTER TABLE {q(obj.name)} ADD COLUMN {q(f.name)}")
            self.conn.execute(f"CREATE INDEX IF NOT EXISTS {q(obj.name + '_modstamp')} "
                              f"ON {q(obj.name)} (SystemModstamp, Id)")
            for f in obj.external_id_fields:
                self.conn.execute(f"CREATE INDEX IF NOT EXISTS {q(obj.name + '_' + f.name)} "
                                  f"ON {q(obj.name)} ({q(f.name)} COLLATE NOCASE)")

    def meta(self, key: str) -> str | None:
        with self.lock:
            row = self.conn.execute("SELECT value FROM _meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self.conn.execute("INSERT OR REPLACE INTO _meta (key, value) VALUES (?, ?)", (key, value))

    def _meta_default(self, key: str, make: Any) -> str:
        value = self.meta(key)
        if value is None:
            value = str(make())
            self.set_meta(key, value)
        return value

    def next_number(self, name: str, n: int = 1) -> int:
        """Reserve ``n`` numbers of a persistent counter; returns the first."""
        with self.lock:
            first = int(self.meta(f"counter:{name}") or 1)
            self.set_meta(f"counter:{name}", str(first + n))
        return first

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing; nested use becomes a savepoint (an allOrNone request spans many writes)."""
        with self.lock:
            if self.conn.in_transaction:
                self._savepoints += 1
                name = f"sp{self._savepoints}"
                self.conn.execute(f"SAVEPOINT {name}")
                try:
                    yield self.conn
                except BaseException:
                    self.conn.execute(f"ROLLBACK TO {name}")
                    self.conn.execute(f"RELEASE {name}")
                    raise
                self.conn.execute(f"RELEASE {name}")
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    # -- reading ------------------------------------------------------------------------------

    def count(self, sobject: str, *, include_deleted: bool = False) -> int:
        where = "" if include_deleted else " WHERE IsDeleted = 0"
        with self.lock:
            return int(self.conn.execute(f"SELECT COUNT(*) FROM {q(sobject)}{where}").fetchone()[0])

    def is_empty(self) -> bool:
        return all(self.count(name, include_deleted=True) == 0 for name in SOBJECTS)

    def row(self, obj: SObjectDef, record_id: str) -> dict[str, Any] | None:
        """A record's stored values by Id (15 or 18 characters), deleted ones included."""
        full = to_18(record_id)
        if full is None:
            return None
        with self.lock:
            cur = self.conn.execute(f"SELECT * FROM {q(obj.name)} WHERE Id = ?", (full,))
            found = cur.fetchone()
            if found is None and len(record_id) == 15:
                cur = self.conn.execute(f"SELECT * FROM {q(obj.name)} WHERE substr(Id, 1, 15) = ?", (record_id,))
                found = cur.fetchone()
            if found is None:
                return None
            return dict(zip([d[0] for d in cur.description], found, strict=True))

    def ids_by_external(self, obj: SObjectDef, f: FieldDef, value: str) -> list[str]:
        """Live records whose external id field matches (case-insensitively, as by default)."""
        if f.name == "Id":
            found = self.row(obj, value)
            return [found["Id"]] if found and not found["IsDeleted"] else []
        with self.lock:
            rows = self.conn.execute(
                f"SELECT Id FROM {q(obj.name)} WHERE {q(f.name)} = ? COLLATE NOCASE AND IsDeleted = 0 ORDER BY Id",
                (value,)).fetchall()
        return [r[0] for r in rows]

    def exists(self, obj: SObjectDef, record_id: str) -> bool:
        with self.lock:
            return self.conn.execute(f"SELECT 1 FROM {q(obj.name)} WHERE Id = ? AND IsDeleted = 0",
                                     (record_id,)).fetchone() is not None

    # -- validation ---------------------------------------------------------------------------

    def prepare(self, obj: SObjectDef, body: Mapping[str, Any], *, creating: bool, source: str = "json",
                current: Mapping[str, Any] | None = None) -> Prepared:
        """Check one record's fields as Salesforce does; raises RecordError on the first problem.

        ``source="csv"`` takes Bulk CSV cells: an empty cell leaves the field alone.
        """
        values: dict[str, Any] = {}
        unknown = [k for k in body if k != "attributes" and obj.field(k) is None]
        if unknown:
            raise RecordError("INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {obj.name}",
                              [unknown[0]])
        read_only = []
        for key, raw in body.items():
            if key == "attributes":
                continue
            f = obj.field(key)
            assert f is not None
            stored = from_csv(f, raw) if source == "csv" else from_wire(f, raw, source)
            if stored is UNSET:
                continue
            if not (f.createable if creating else f.updateable):
                read_only.append(f.name)
                continue
            validate(f, stored)
            values[f.name] = stored
        if read_only:
            raise RecordError("INVALID_FIELD_FOR_INSERT_UPDATE",
                              f"Unable to create/update fields: {', '.join(read_only)}. Please check the security "
                              "settings of this field and verify that it is read/write for your profile or "
                              "permission set.", read_only)
        required = [f.name for f in obj.fields if f.required_on_create]
        if creating:
            missing = [name for name in required if values.get(name) is None]
        else:
            missing = [name for name in required if name in values and values[name] is None]
        if missing:
            raise RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]",
                              missing)
        self._check_references(obj, values)
        self._check_unique(obj, values, None if creating or current is None else current["Id"])
        return Prepared(values)

    def _check_references(self, obj: SObjectDef, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            f = obj.by_name[name]
            if f.type != "reference" or value is None or name == "OwnerId":
                continue
            target = next((o for o in SOBJECTS.values() if o.key_prefix == value[:3]), None)
            if target is not None and not self.exists(target, value):
                raise RecordError("INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id ({f.name})", [f.name])

    def _check_unique(self, obj: SObjectDef, values: Mapping[str, Any], own_id: str | None) -> None:
        for f in obj.fields:
            if not f.unique or values.get(f.name) is None:
                continue
            with self.lock:
                other = self.conn.execute(
                    f"SELECT Id FROM {q(obj.name)} WHERE {q(f.name)} = ? COLLATE NOCASE AND IsDeleted = 0 "
                    "AND Id IS NOT ? LIMIT 1", (values[f.name], own_id)).fetchone()
            if other is not None:
                raise RecordError("DUPLICATE_VALUE", f"duplicate value found: {f.name} duplicates value on record "
                                  f"with id: {other[0]}", [f.name])

    # -- writing ------------------------------------------------------------------------------

    def _derive(self, obj: SObjectDef, row: dict[str, Any]) -> None:
        """Fields Salesforce computes from others."""
        if obj.name == "Contact":
            row["Name"] = " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p) or None
        elif obj.name == "Opportunity" and row.get("StageName") is not None:
            closed = CLOSED_STAGES.get(row["StageName"])
            row["IsClosed"] = int(closed is not None)
            row["IsWon"] = int(bool(closed))

    def _new_rows(self, obj: SObjectDef, rows: Sequence[dict[str, Any]], stamp: str) -> list[dict[str, Any]]:
        """Complete new rows with Ids, system fields, defaults, auto numbers and derived fields."""
        need_ids = sum(1 for r in rows if not r.get("Id"))
        next_id = self.next_number(f"id:{obj.key_prefix}", need_ids) if need_ids else 0
        autos = [(f, fmt) for (o, name), fmt in _AUTO_NUMBER_FORMAT.items() if o == obj.name
                 for f in [obj.by_name[name]]]
        next_auto = {f.name: self.next_number(f"auto:{obj.name}.{f.name}", len(rows)) for f, _ in autos}
        out = []
        for i, given in enumerate(rows):
            row: dict[str, Any] = {f.name: None for f in obj.stored_fields}
            row.update({k: v for k, v in given.items() if v is not UNSET})
            if not row.get("Id"):
                row["Id"] = make_id(obj.key_prefix, next_id)
                next_id += 1
            for name in SYSTEM_STAMPS:
                if row.get(name) is None:
                    row[name] = stamp
            for name in ("OwnerId", "CreatedById", "LastModifiedById"):
                if name in row and row[name] is None:
                    row[name] = self.user_id
            row["IsDeleted"] = int(bool(row.get("IsDeleted")))
            for (o, name), default in _DEFAULTS.items():
                if o == obj.name and row.get(name) is None:
                    row[name] = default
            for f, fmt in autos:
                if row.get(f.name) is None:
                    row[f.name] = fmt.format(next_auto[f.name] + i)
            for f in obj.stored_fields:
                if f.storage == "bool" and row[f.name] is None:
                    row[f.name] = 0
            self._derive(obj, row)
            out.append(row)
        return out

    def _insert_rows(self, obj: SObjectDef, rows: list[dict[str, Any]]) -> None:
        names = [f.name for f in obj.stored_fields]
        sql = (f"INSERT INTO {q(obj.name)} ({', '.join(q(n) for n in names)}) "
               f"VALUES ({', '.join('?' for _ in names)})")
        try:
            self.conn.executemany(sql, [[row[n] for n in names] for row in rows])
        except sqlite3.IntegrityError:
            raise RecordError("DUPLICATE_VALUE", "duplicate value found: Id duplicates value on record",
                              ["Id"]) from None

    def create(self, obj: SObjectDef, prepared: Prepared) -> str:
        with self.transaction():
            (row,) = self._new_rows(obj, [dict(prepared.values)], now_stamp())
            self._insert_rows(obj, [row])
        return str(row["Id"])

    def update(self, obj: SObjectDef, record_id: str, prepared: Prepared) -> None:
        stamp = now_stamp()
        with self.transaction():
            current = self.row(obj, record_id)
            if current is None:
                raise RecordError("NOT_FOUND", "The requested resource does not exist")
            if current["IsDeleted"]:
                raise RecordError("ENTITY_IS_DELETED", "entity is deleted")
            row = {**current, **prepared.values, "LastModifiedDate": stamp, "SystemModstamp": stamp,
                   "LastModifiedById": self.user_id}
            self._derive(obj, row)
            changed = [n for n in row if row[n] != current[n]] or ["SystemModstamp"]
            sets = ", ".join(f"{q(n)} = ?" for n in changed)
            self.conn.execute(f"UPDATE {q(obj.name)} SET {sets} WHERE Id = ?",
                              [row[n] for n in changed] + [current["Id"]])

    def delete(self, obj: SObjectDef, record_id: str, *, hard: bool = False) -> None:
        """Soft delete sets IsDeleted (the Recycle Bin); a hard delete removes the row for good."""
        stamp = now_stamp()
        with self.transaction():
            current = self.row(obj, record_id)
            if current is None:
                raise RecordError("NOT_FOUND", "The requested resource does not exist")
            if current["IsDeleted"]:
                raise RecordError("ENTITY_IS_DELETED", "entity is deleted")
            if hard:
                self.conn.execute(f"DELETE FROM {q(obj.name)} WHERE Id = ?", (current["Id"],))
                return
            self.conn.execute(f"UPDATE {q(obj.name)} SET IsDeleted = 1, SystemModstamp = ?, LastModifiedDate = ?, "
                              "LastModifiedById = ? WHERE Id = ?", (stamp, stamp, self.user_id, current["Id"]))

    def merge(self, obj: SObjectDef, master_id: str, loser_ids: Iterable[str]) -> None:
        """Merge losers into the master: losers become deleted rows pointing at the master."""
        if not obj.mergeable:
            raise RecordError("INVALID_TYPE", f"{obj.name} records cannot be merged")
        stamp = now_stamp()
        with self.transaction():
            master = self.row(obj, master_id)
            if master is None or master["IsDeleted"]:
                raise RecordError("ENTITY_IS_DELETED", "master record is missing or deleted")
            for loser_id in loser_ids:
                loser = self.row(obj, loser_id)
                if loser is None or loser["IsDeleted"]:
                    raise RecordError("ENTITY_IS_DELETED", "a merged record is missing or deleted")
                self.conn.execute(f"UPDATE {q(obj.name)} SET IsDeleted = 1, MasterRecordId = ?, SystemModstamp = ?, "
                                  "LastModifiedDate = ? WHERE Id = ?", (master["Id"], stamp, stamp, loser["Id"]))
            self.conn.execute(f"UPDATE {q(obj.name)} SET SystemModstamp = ?, LastModifiedDate = ? WHERE Id = ?",
                              (stamp, stamp, master["Id"]))

    def load(self, obj: SObjectDef, records: Iterable[Mapping[str, Any]]) -> int:
        """Insert records as data already in the org (seeding, tests): types are checked, rules are not.

        Ids, system timestamps and IsDeleted may be given (history is being loaded); an unknown
        field or a value of the wrong type is an error naming the record's position and field.
        """
        stamp = now_stamp()
        converted: list[dict[str, Any]] = []
        for n, record in enumerate(records):
            row: dict[str, Any] = {}
            for key, raw in record.items():
                f = obj.field(key)
                if f is None or f.compound:
                    raise ValueError(f"{obj.name} record {n}: no field '{key}' in the stand-in's schema")
                try:
                    row[f.name] = from_wire(f, raw)
                except ValueTypeError as exc:
                    raise ValueError(f"{obj.name} record {n}: field '{f.name}': {exc.code}") from None
            converted.append(row)
        with self.transaction():
            rows = self._new_rows(obj, converted, stamp)
            self._insert_rows(obj, rows)
        return len(rows)

