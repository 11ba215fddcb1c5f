"""What a mapping result becomes in the store's staging table.

One definition, used by the crm2 target and by anything else that stages mapped records
(benchmarks, tests), so what gets matched and scored is exactly what a real sync stages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.mapping.applier import Deleted, Mapped
from sync.store.store import StagedRecord, to_json

CHANGE_MARKERS = frozenset({"updated_at"})
"""Fields saying when a source last touched a record, not what it holds. A record whose other
fields are unchanged has not changed for crm2, whatever these say: crm2's own writeback bumps
Salesforce's SystemModstamp, and restaging those Accounts would let that echo pass for news."""


def staged_data(result: Mapped) -> dict[str, Any]:
    """The entity's fields as JSON values; the source reference is the staging row's key, not data."""
    entity = result.entity
    # ``model_dump`` is this call behind a Python wrapper that spells out every default
    return entity.__pydantic_serializer__.to_python(entity, mode="json", exclude={"source"})  # type: ignore[no-any-return]


def staged_record(result: Mapped | Deleted, entity: str) -> StagedRecord:
    """The staging row for a mapped record, or the deletion marker for a record deleted at source."""
    source = result.source
    if isinstance(result, Deleted):
        return StagedRecord(source.system, source.object, source.id, entity, {}, deleted=True)
    # staged_data is plain JSON already (pydantic's JSON mode): no round trip through text
    return StagedRecord(source.system, source.object, source.id, entity, staged_data(result), plain=True)


def same_content(staged: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    """True when ``data`` differs from what is staged only in :data:`CHANGE_MARKERS`."""
    def content(values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in values.items() if k not in CHANGE_MARKERS}

    return content(to_json(dict(staged))) == content(to_json(dict(data)))
