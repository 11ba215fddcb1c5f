"""tap-crm2's stream: one record per live golden customer with its tiers, scores and Salesforce Ids.

Incremental on ``golden.updated_at``, which resolve and enrich bump whenever a customer's data,
membership or scores change. Many customers share one ``updated_at`` (a whole enrich batch is
stamped at once), so the bookmark is the pair (updated_at, golden_id) of the last record emitted
and the next run reads what sorts strictly after it::

    WHERE updated_at > :ts OR (updated_at = :ts AND golden_id > :last) ORDER BY updated_at, golden_id

A tie cut by the end of a run is neither lost (as with ``>``) nor sent again (as with ``>=``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from connectors.bookmarks import iso_utc, parse_dt, resume_point
from connectors.sdk import TieSafeStream
from sync.enrich.explain import reasons_summary
from sync.store.schema import crosswalk, golden

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

    from connectors.crm2.tap import TapCrm2

LIVE_STATUSES = ("loaded", "merged")
"""Crosswalk statuses of Salesforce records that still belong to a customer (not deleted, not quarantined)."""

_NUMBER = {"type": ["number", "null"]}
_STRING = {"type": ["string", "null"]}
_DATETIME = {"type": ["string", "null"], "format": "date-time"}

NUMERIC_SCORES = {"health_score": "health", "churn_risk": "churn_risk", "satisfaction_score": "satisfaction",
                  "loyalty_score": "loyalty", "service_quality_score": "service_quality"}
"""Record field -> score name, for the 0-100 scores (null when the score has no data)."""

BANDS = {"health_band": "health", "churn_band": "churn_risk", "satisfaction_band": "satisfaction",
         "loyalty_band": "loyalty", "service_quality_band": "service_quality", "rfm_segment": "rfm"}

MONEY_SCORES = {"clv": "clv", "forecast": "forecast"}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "golden_id": {"type": "string"},
        "updated_at": {"type": "string", "format": "date-time"},
        "name": _STRING,
        "country": _STRING,
        "tier": _STRING,
        "lifecycle_stage": _STRING,
        **{name: _NUMBER for name in NUMERIC_SCORES},
        **{name: _STRING for name in BANDS},
        "rfm": _STRING,
        "churn_reasons": _STRING,
        **{name: _NUMBER for name in MONEY_SCORES},
        "scored_at": _DATETIME,
        "salesforce_account_ids": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["golden_id", "updated_at", "salesforce_account_ids"],
}


def _number(value: Any) -> float | None:
    # "n/a" (a score without data) and other text are no number: null, never a guess
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _money(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def customer_record(golden_id: str, updated_at: datetime, data: dict[str, Any],
                    account_ids: Sequence[str]) -> dict[str, Any]:
    """The record for one golden customer, from its ``golden.data`` as enrich left it."""
    scores: dict[str, Any] = data.get("scores") or {}

    def score(name: str) -> dict[str, Any]:
        return scores.get(name) or {}

    stamps = [parse_dt(s["computed_at"]) for s in scores.values() if s.get("computed_at")]
    rfm = score("rfm").get("value")
    return {
        "golden_id": golden_id,
        "updated_at": iso_utc(updated_at),
        # company identity, for creating a record the primary CRM does not have yet
        "name": data.get("name"),
        "country": data.get("country"),
        "tier": data.get("tier"),
        "lifecycle_stage": data.get("lifecycle_stage"),
        **{field: _number(score(name).get("value")) for field, name in NUMERIC_SCORES.items()},
        **{field: score(name).get("band") for field, name in BANDS.items()},
        "rfm": str(rfm) if rfm is not None else None,
        "churn_reasons": reasons_summary(scores.get("churn_risk")) or None,
        **{field: _money(score(name).get("value")) for field, name in MONEY_SCORES.items()},
        "scored_at": iso_utc(max(stamps)) if stamps else None,
        "salesforce_account_ids": sorted(account_ids),
    }


class CustomerScoresStream(TieSafeStream):
    """``customer_scores``: live golden customers, oldest change first."""

    name = "customer_scores"
    primary_keys = ("golden_id",)  # type: ignore[assignment]
    replication_key = "updated_at"
    is_sorted = True

    def __init__(self, tap: TapCrm2) -> None:
        super().__init__(tap=tap, schema=SCHEMA, name=self.name)
        self.replication_key = "updated_at"
        self.crm2_tap = tap

    def bookmark(self, context: Context | None) -> tuple[datetime | None, str | None]:
        """(change time, last golden id) to resume after; the id only counts for that very time."""
        since, last = resume_point(self, context)
        return since, (str(last) if last is not None else None)

    def query(self, engine: sa.Engine, context: Context | None) -> sa.Select[Any]:
        g = golden
        query = sa.select(g.c.golden_id, g.c.updated_at, g.c.data).where(
            g.c.entity == "customer", g.c.merged_into.is_(None))
        start, last = self.bookmark(context)
        if start is not None:
            ts = _bind_dt(start, g.c.updated_at)
            if last is None:
                query = query.where(g.c.updated_at >= ts)
            else:
                gid = _ordered(engine, g.c.golden_id)
                query = query.where(sa.or_(g.c.updated_at > ts, sa.and_(g.c.updated_at == ts, gid > last)))
        return query.order_by(g.c.updated_at, _ordered(engine, g.c.golden_id))

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        engine = self.crm2_tap.engine
        batch = self.crm2_tap.settings.batch_size
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch).execute(self.query(engine, context))
            for rows in result.partitions(batch):
                yield from self._records(conn, rows)

    def _records(self, conn: sa.Connection, rows: Sequence[sa.Row[Any]]) -> Iterator[dict[str, Any]]:
        accounts = self._account_ids(conn, [r.golden_id for r in rows])
        for row in rows:
            yield customer_record(row.golden_id, row.updated_at, row.data or {}, accounts.get(row.golden_id, []))

    @staticmethod
    def _account_ids(conn: sa.Connection, golden_ids: Sequence[str]) -> dict[str, list[str]]:
        """A customer's Salesforce Account Ids: its live crosswalk rows in Salesforce's Account object."""
        found: dict[str, list[str]] = {}
        x = crosswalk
        for start in range(0, len(golden_ids), 500):  # under SQLite's bound-parameter limit
            chunk = golden_ids[start:start + 500]
            for gid, sid in conn.execute(sa.select(x.c.golden_id, x.c.source_id).where(
                    x.c.source_system == "salesforce", x.c.source_object == "Account",
                    x.c.status.in_(LIVE_STATUSES), x.c.golden_id.in_(chunk))):
                found.setdefault(gid, []).append(sid)
        return found

    def last_key(self, record: Record) -> Any:
        # records arrive in (updated_at, golden_id) order, so the latest one is the resume point
        return record["golden_id"]


def _ordered(engine: sa.Engine, expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    # the bookmark compares golden ids as Python does (code points): PostgreSQL needs "C" collation
    return sa.collate(expr, "C") if engine.dialect.name == "postgresql" else expr


def _bind_dt(value: datetime, column: sa.Column[Any]) -> datetime:
    """A naive UTC value for naive columns (SQLite stores the digits only)."""
    if getattr(column.type, "timezone", False):
        return value
    return value.astimezone(UTC).replace(tzinfo=None)
