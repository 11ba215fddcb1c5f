"""The crm2 store (SQLAlchemy 2; SQLite by default, PostgreSQL by URL) and its migrations."""

from sync.store.store import (
    DEFAULT_PATH,
    AuditEntry,
    QuarantinedRecord,
    RunRecord,
    StagedRecord,
    StageResult,
    Store,
    content_hash,
    store_url,
    to_json,
)

__all__ = [
    "DEFAULT_PATH",
    "AuditEntry",
    "QuarantinedRecord",
    "RunRecord",
    "StageResult",
    "StagedRecord",
    "Store",
    "content_hash",
    "store_url",
    "to_json",
]
