"""What a mapping result becomes in the store's staging table.

One definition, used by the crm2 target and by anything else that stages mapped records
(benchmarks, tests), so what gets matched and scored is exactly what a real sync stages.
"""

from __future__ import annotations

from typing import Any

from sync.mapping.applier import Deleted, Mapped
from sync.store.store import StagedRecord


def staged_data(result: Mapped) -> dict[str, Any]:
    """The entity's fields as JSON values; the source reference is the staging row's key, not data."""
    return result.entity.model_dump(mode="json", exclude={"source"})


def staged_record(result: Mapped | Deleted, entity: str) -> StagedRecord:
    """The staging row for a mapped record, or the deletion marker for a record deleted at source."""
    source = result.source
    if isinstance(result, Deleted):
        return StagedRecord(source.system, source.object, source.id, entity, {}, deleted=True)
    return StagedRecord(source.system, source.object, source.id, entity, staged_data(result))
