"""One Singer stream per sObject: incremental on (SystemModstamp, Id), REST or Bulk 2.0.

No record is lost or repeated at timestamp ties. Many rows can share one SystemModstamp, so a
timestamp alone cannot say where a run stopped. The bookmark is the pair (SystemModstamp, Id) of
the last record emitted — singer-sdk's ``replication_key_value`` plus ``replication_key_last_id`` —
and the next query asks Salesforce for what comes strictly after that pair, in the same order::

    WHERE SystemModstamp > :ts OR (SystemModstamp = :ts AND Id > :id) ORDER BY SystemModstamp, Id

Letting Salesforce do the comparison keeps it consistent with Salesforce's own ``ORDER BY Id``.

Bulk 2.0 should not be given ORDER BY (it disables PK chunking and invites timeouts), so Bulk
results are collected and sorted here by (SystemModstamp, Id) before the first one is emitted.
Ids are base62 with digits < upper < lower case, so Python's string order is Salesforce's order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from connectors.salesforce.client import BulkQuery, BulkQueryOptions, SalesforceError
from connectors.salesforce.tap_schema import Kind, coerce_record, normalize_datetime, soql_datetime
from connectors.sdk import TieSafeStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

    from connectors.salesforce.tap import TapSalesforce

LAST_ID_KEY = "replication_key_last_id"
REPLICATION_KEY_CANDIDATES = ("SystemModstamp", "LastModifiedDate")


class SObjectStream(TieSafeStream):
    last_key_state = LAST_ID_KEY

    """Records of one sObject, oldest change first."""

    primary_keys = ("Id",)
    is_sorted = True

    def __init__(self, tap: TapSalesforce, *, sobject: str, schema: dict[str, Any],
                 kinds: dict[str, Kind]) -> None:
        self.sobject = sobject
        self.kinds = kinds
        super().__init__(tap=tap, schema=schema, name=sobject)
        props = schema.get("properties", {})
        # After super().__init__, which resets it; a catalog entry may still override it later.
        self.replication_key = next((k for k in REPLICATION_KEY_CANDIDATES if k in props), None)
        self.sf_tap = tap
        self.api_used: str | None = None

    # -- what to ask for ----------------------------------------------------------------------

    def selected_fields(self) -> list[str]:
        """Selected properties only (less to transfer), always with the key and bookmark fields."""
        always = {"Id", self.replication_key}
        return [name for name in self.kinds
                if name in always or self.mask.get(("properties", name), True)]

    def bookmark(self, context: Context | None) -> tuple[str | None, str | None]:
        """(timestamp, last id) to resume after; the id only counts if it belongs to that timestamp."""
        start = self.get_starting_replication_key_value(context)
        if start is None:
            return None, None
        start = normalize_datetime(str(start))
        state = self.get_context_state(context)
        saved = state.get("replication_key_value")
        last_id = state.get(LAST_ID_KEY)
        if saved is not None and last_id and normalize_datetime(str(saved)) == start:
            return start, str(last_id)
        return start, None

    def where_clause(self, start: str | None, last_id: str | None) -> str:
        if start is None or self.replication_key is None:
            return ""
        rk, ts = self.replication_key, soql_datetime(start)
        if last_id is None:
            return f"{rk} >= {ts}"
        return f"({rk} > {ts} OR ({rk} = {ts} AND Id > '{_soql_escape(last_id)}'))"

    def soql(self, where: str, *, ordered: bool = True) -> str:
        order = ""
        if ordered:
            order = f" ORDER BY {self.replication_key}, Id" if self.replication_key else " ORDER BY Id"
        return (f"SELECT {', '.join(self.selected_fields())} FROM {self.sobject}"
                + (f" WHERE {where}" if where else "") + order)

    def sort_key(self, record: dict[str, Any]) -> tuple[str, str]:
        return (record.get(self.replication_key or "") or "", record["Id"])

    # -- fetching -----------------------------------------------------------------------------

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        tap = self.sf_tap
        if tap.halted:
            self.logger.warning("Skipping %s: the run was stopped earlier (%s)", self.name, tap.halt_reason)
            return
        try:
            yield from self._records(context)
        except SalesforceError as exc:
            # Returning (not raising) lets singer-sdk write the final STATE for what was emitted.
            tap.record_failure(self.name, exc)

    def _records(self, context: Context | None) -> Iterator[dict[str, Any]]:
        cfg = self.sf_tap.settings
        client = self.sf_tap.client
        start, last_id = self.bookmark(context)
        where = self.where_clause(start, last_id)
        use_bulk = False
        if cfg.bulk_threshold is not None:
            count = client.count(where, self.sobject, include_deleted=cfg.include_deleted)
            use_bulk = count > cfg.bulk_threshold
            self.logger.info("%s: %d rows to extract via %s", self.name, count, "Bulk 2.0" if use_bulk else "REST")
        self.api_used = "bulk" if use_bulk else "rest"
        if use_bulk:
            job = BulkQuery(client, self.soql(where, ordered=False), include_deleted=cfg.include_deleted,
                            options=BulkQueryOptions(poll_max=cfg.bulk_poll_max, timeout=cfg.bulk_timeout))
            # Everything is fetched before anything is emitted: a stop mid-download leaves the
            # bookmark untouched, and sorted output keeps the bookmark exact.
            yield from sorted((coerce_record(row, self.kinds) for row in job.records()), key=self.sort_key)
            return
        for row in client.query(self.soql(where), include_deleted=cfg.include_deleted, batch_size=cfg.page_size):
            yield coerce_record(row, self.kinds)

    # -- bookmark -----------------------------------------------------------------------------

    def last_key(self, record: Record) -> Any:
        # Records arrive in (SystemModstamp, Id) order, so the latest one is the resume point.
        return record["Id"]


def _soql_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
