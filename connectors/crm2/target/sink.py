"""The per-stream sink: collects a stream's records and hands each full batch to the loader.

Validation against the tap's schema happens in the loader, and only for records that changed
since the last run (singer-sdk would validate every record as it arrives, and stop the run on
the first bad one; crm2 quarantines it instead). A new SCHEMA message for a stream gives it a
new sink (singer-sdk drains the old one first), so a schema change mid-stream just works.
"""

from __future__ import annotations

import typing as t
from collections.abc import Sequence
from typing import Any

from singer_sdk.sinks import BatchSink

from connectors.crm2.target.loader import SchemaCheck

if t.TYPE_CHECKING:
    from connectors.crm2.target import TargetCrm2


class Crm2Sink(BatchSink):
    MAX_SIZE_DEFAULT = 2000
    """Records per stream per transaction: large enough to amortise the crosswalk look-ups, small
    enough that a crash loses little work and bookmarks move forward often."""

    def __init__(self, target: TargetCrm2, stream_name: str, schema: dict[str, Any],
                 key_properties: Sequence[str] | None) -> None:
        self.crm2 = target
        super().__init__(target, stream_name, schema, key_properties)
        self.check = SchemaCheck(self.original_schema, validate=target.loader.validate)
        self._queue: list[Any] = []
        self._max_size = self.max_size

    def get_validator(self) -> None:
        """No per-record validation by singer-sdk: see the module docstring."""
        return None

    def take(self, record: Any) -> bool:
        """Queue one record for the next batch (instead of singer-sdk's validate-then-process);
        True when the batch is full."""
        if self._pending_batch is None:
            self._queue = self._get_context({}).setdefault("crm2", [])  # starts a batch, as singer-sdk does
        self._queue.append(record)
        self.tally_record_read()
        return len(self._queue) >= self._max_size

    def load_now(self, records: list[Any]) -> None:
        """Load records of a BATCH file straight away, in one transaction (the target has drained
        what was queued before them)."""
        if records:
            self.record_counter_metric.increment(len(records))
            self.crm2.loader.load(self.stream_name, records, self.check, self.key_properties)

    def process_record(self, record: dict, context: dict) -> None:
        context.setdefault("crm2", []).append(record)

    def process_batch(self, context: dict) -> None:
        # "records" is what singer-sdk fills from BATCH message files; "crm2" is filled by take()
        records = context.get("crm2", []) + context.get("records", [])
        if context.get("crm2"):
            self.record_counter_metric.increment(len(context["crm2"]))  # BATCH files count their own
        if records:
            self.crm2.loader.load(self.stream_name, records, self.check, self.key_properties)
