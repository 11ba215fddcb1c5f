"""Record writes shared by REST, sObject Collections and Bulk ingest: one place for the rules.

Each operation either succeeds or raises :class:`RecordError` for that record alone; callers
decide whether that fails the whole request (single-record REST), one result (Collections) or
one CSV row (Bulk). Injected UNABLE_TO_LOCK_ROW faults are drawn here, once per written row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.salesforce.standin.errors import RecordError, lock_error
from connectors.salesforce.standin.faults import FaultInjector
from connectors.salesforce.standin.org import Org
from connectors.salesforce.standin.schema import FieldDef, SObjectDef
from connectors.salesforce.standin.values import from_csv, from_wire


class AmbiguousExternalId(RecordError):
    """The external id matched several records (REST answers 300 with their URLs)."""

    def __init__(self, f: FieldDef, ids: list[str]) -> None:
        super().__init__("DUPLICATE_EXTERNAL_ID",
                         f"{f.name}: more than one record found for external id field: [{', '.join(ids)}]", [f.name])
        self.ids = ids


def external_id_field(obj: SObjectDef, name: str) -> FieldDef | None:
    """The field to upsert by, if it may be used for that (an external id, an id lookup or Id)."""
    f = obj.field(name)
    if f is None or not (f.external_id or f.name == "Id"):
        return None
    return f


class Writer:
    def __init__(self, org: Org, faults: FaultInjector) -> None:
        self.org = org
        self.faults = faults

    def _locked(self) -> None:
        if self.faults.lock_row():
            raise lock_error()

    def create(self, obj: SObjectDef, body: Mapping[str, Any], *, source: str = "json") -> str:
        # Checks and write under one lock: two concurrent upserts of one new external id must
        # not both create (Salesforce's unique index would refuse the second).
        with self.org.lock:
            self._locked()
            return self.org.create(obj, self.org.prepare(obj, body, creating=True, source=source))

    def update(self, obj: SObjectDef, record_id: str, body: Mapping[str, Any], *, source: str = "json") -> str:
        with self.org.lock:
            return self._update(obj, record_id, body, source)

    def _update(self, obj: SObjectDef, record_id: str, body: Mapping[str, Any], source: str) -> str:
        current = self.org.row(obj, record_id)
        if current is None:
            raise RecordError("NOT_FOUND", "The requested resource does not exist", [])
        if current["IsDeleted"]:
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [])
        self._locked()
        self.org.update(obj, current["Id"], self.org.prepare(obj, body, creating=False, source=source,
                                                             current=current))
        return str(current["Id"])

    def upsert(self, obj: SObjectDef, f: FieldDef, value: Any, body: Mapping[str, Any], *,
               source: str = "json") -> tuple[str, bool]:
        """Create or update by external id; returns (id, created)."""
        with self.org.lock:
            return self._upsert(obj, f, value, body, source)

    def _upsert(self, obj: SObjectDef, f: FieldDef, value: Any, body: Mapping[str, Any],
                source: str) -> tuple[str, bool]:
        key = from_csv(f, value) if source == "csv" else from_wire(f, value, source)
        if key is None or key == "" or not isinstance(key, str):
            raise RecordError("MISSING_ARGUMENT", f"{f.name} not specified", [f.name])
        matches = self.org.ids_by_external(obj, f, key)
        if len(matches) > 1:
            raise AmbiguousExternalId(f, matches)
        fields = {k: v for k, v in body.items() if obj.field(k) is None or obj.field(k) is not f}
        if matches:
            return self.update(obj, matches[0], fields, source=source), False
        if f.name == "Id":
            raise RecordError("NOT_FOUND", "The requested resource does not exist", ["Id"])
        fields[f.name] = value
        return self.create(obj, fields, source=source), True

    @staticmethod
    def per_record(error: RecordError) -> RecordError:
        """A record error as one result among many: a missing record is a bad reference there."""
        if error.code == "NOT_FOUND":
            return RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", error.fields)
        return error

    def delete(self, obj: SObjectDef, record_id: str, *, hard: bool = False) -> str:
        """Soft delete (to the Recycle Bin: queryAll still sees it), or ``hard`` (Bulk hardDelete: gone)."""
        with self.org.lock:
            return self._delete(obj, record_id, hard)

    def _delete(self, obj: SObjectDef, record_id: str, hard: bool) -> str:
        current = self.org.row(obj, record_id)
        if current is None:
            raise RecordError("NOT_FOUND", "The requested resource does not exist", [])
        if current["IsDeleted"]:
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [])
        self._locked()
        self.org.delete(obj, current["Id"], hard=hard)
        return str(current["Id"])
