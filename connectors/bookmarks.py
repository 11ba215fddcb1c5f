"""Tie-safe incremental bookmarks shared by crm2's SQL-, REST- and store-backed taps.

singer-sdk keeps ``replication_key_value``: the change time of the last record emitted. Many
records can share one change time, so resuming with ``>`` loses some and ``>=`` repeats some.
crm2's taps also keep the key of that last record (:data:`LAST_KEY`) and read records in
(change time, key) order: on resume, a record at the saved time is new only if its key sorts
after the saved one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from singer_sdk.helpers.types import Context
from singer_sdk.streams import Stream

LAST_KEY = "replication_key_last_key"


def parse_dt(value: Any) -> datetime:
    """A datetime or an ISO 8601 string ('Z' allowed) as an aware UTC datetime; naive means UTC."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def iso_utc(value: datetime) -> str:
    """One fixed format, so bookmarks compare as strings in time order; naive means UTC."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


def resume_point(stream: Stream, context: Context | None) -> tuple[datetime | None, Any]:
    """(change time, last key) to resume after; the key counts only for that very time.

    The saved value is rewritten in :func:`iso_utc` form first: singer-sdk checks the sort order
    by comparing strings, so a bookmark written in another ISO spelling ('...Z') must match the
    records' spelling before the first row arrives.
    """
    start = stream.get_starting_replication_key_value(context)
    if start is None:
        return None, None
    start_dt = parse_dt(start)
    state = stream.get_context_state(context)
    saved, last = state.get("replication_key_value"), state.get(LAST_KEY)
    if saved is not None:
        state["replication_key_value"] = iso_utc(parse_dt(saved))
    if saved is not None and last is not None and parse_dt(saved) == start_dt:
        return start_dt, last
    return start_dt, None
