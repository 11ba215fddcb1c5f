"""One Singer stream per ledger table: incremental on (updated_at, key), or full table.

No row is lost or repeated at timestamp ties. Many rows can share one updated_at, so a timestamp
alone cannot say where a run stopped: ``>`` would lose the rest of a tie cut by the end of a run,
``>=`` would send the whole tie again. The bookmark is the pair (updated_at, key) of the last row
emitted — singer-sdk's ``replication_key_value`` plus ``replication_key_last_key`` — and the next
run asks for what sorts strictly after it, in the same order::

    WHERE updated_at > :ts OR (updated_at = :ts AND key > :last) ORDER BY updated_at, key

The database does the comparison, so it follows the database's own key collation, and the
(updated_at, key) index the ledger carries answers it.

Money is read as Decimal (NUMERIC columns) and stays Decimal through singer-sdk, whose writer
(simplejson with ``use_decimal``) prints it digit for digit: 12345678901234.56, never 1.2e13.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from singer_sdk.helpers.conform import TypeConformanceLevel

from connectors.bookmarks import iso_utc, parse_dt, resume_point
from connectors.finance.tap_config import StreamSpec
from connectors.sdk import TieSafeStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from connectors.finance.tap import TapFinance



def jsonschema_for(column: sa.Column[Any]) -> dict[str, Any]:
    """JSON Schema of one column; every column may be null (ledgers are rarely that strict)."""
    t = column.type
    if isinstance(t, sa.Boolean):
        schema: dict[str, Any] = {"type": ["boolean", "null"]}
    elif isinstance(t, sa.Integer):
        schema = {"type": ["integer", "null"]}
    elif isinstance(t, sa.Numeric):
        # No multipleOf: targets parse numbers as Decimal, and jsonschema cannot divide a Decimal
        # by a float multipleOf (TypeError), so the hint would break validation downstream.
        schema = {"type": ["number", "null"]}
    elif isinstance(t, sa.DateTime):
        schema = {"type": ["string", "null"], "format": "date-time"}
    elif isinstance(t, sa.Date):
        schema = {"type": ["string", "null"], "format": "date"}
    else:
        schema = {"type": ["string", "null"]}
    return schema


PLAIN_TYPES = (sa.String, sa.Integer, sa.Numeric, sa.Date, sa.DateTime, sa.Boolean)
"""Column types whose values :meth:`LedgerTableStream._rows` makes JSON-ready itself (str, int,
Decimal/float, bool, ISO text, None), so singer-sdk's per-value conformance has nothing to do."""


class LedgerTableStream(TieSafeStream):
    """Rows of one table, oldest change first (or in key order for a full-table stream)."""

    def __init__(self, tap: TapFinance, spec: StreamSpec, table: sa.Table) -> None:
        self.spec = spec
        self.table = table
        schema = {"type": "object", "properties": {c.name: jsonschema_for(c) for c in table.columns}}
        super().__init__(tap=tap, schema=schema, name=spec.name)
        self.primary_keys = list(spec.key)
        # After super().__init__, which resets it; a catalog entry may still override it later.
        self.replication_key = spec.replication_key
        self.finance_tap = tap
        self._datetime_columns = [c.name for c in table.columns if isinstance(c.type, sa.DateTime)]
        self._date_columns = [c.name for c in table.columns
                              if isinstance(c.type, sa.Date) and not isinstance(c.type, sa.DateTime)]
        self._number_columns = [c.name for c in table.columns if isinstance(c.type, sa.Numeric)]
        self._plain = all(isinstance(c.type, PLAIN_TYPES) for c in table.columns)

    @property
    def is_sorted(self) -> bool:  # type: ignore[override]
        return self.replication_key is not None

    # -- the query ----------------------------------------------------------------------------

    def bookmark(self, context: Context | None) -> tuple[datetime | None, list[Any] | None]:
        """(change time, last key) to resume after; the key only counts if it belongs to that time."""
        since, last = resume_point(self, context)
        return since, (list(last) if last is not None else None)

    def query(self, context: Context | None) -> sa.Select[Any]:
        key_cols = [self.table.c[k] for k in self.primary_keys]
        query = sa.select(self.table)
        if self.replication_key is None:
            return query.order_by(*key_cols)
        rk = self.table.c[self.replication_key]
        start, last = self.bookmark(context)
        if start is not None:
            ts = _bind_dt(start, rk)
            if last is None:
                query = query.where(rk >= ts)
            else:
                after_key = (sa.tuple_(*key_cols) > sa.tuple_(*last)) if len(key_cols) > 1 else key_cols[0] > last[0]
                query = query.where(sa.or_(rk > ts, sa.and_(rk == ts, after_key)))
        return query.order_by(rk, *key_cols)

    # -- records ------------------------------------------------------------------------------

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        # singer-sdk conforms every value of every record to the schema (a third of the tap's
        # CPU on a 100k-row ledger, docs/batches.md). _rows already gives plain JSON values for
        # the column types in PLAIN_TYPES; when every column has one and the schema sent is the
        # table's own (a catalog can narrow it: then conformance drops the extra columns), that
        # pass is skipped. Any other column type (time, interval, bytes, ...) keeps it.
        whole_table = set(self.schema.get("properties", {})) == set(self.table.c.keys())
        self.TYPE_CONFORMANCE_LEVEL = (TypeConformanceLevel.NONE if self._plain and whole_table
                                       else TypeConformanceLevel.RECURSIVE)
        engine = self.finance_tap.engine
        query = self.query(context)
        with engine.connect() as conn:
            streaming = conn.execution_options(stream_results=True, yield_per=self.finance_tap.settings.fetch_size)
            # Closed explicitly: a sync stopped early (record limit, connection test, a failing
            # target) would otherwise leave PostgreSQL's server-side cursor open until GC.
            with streaming.execute(query) as result:
                yield from self._rows(result)

    def _rows(self, result: sa.CursorResult[Any]) -> Iterator[dict[str, Any]]:
        dt_cols, date_cols, number_cols = self._datetime_columns, self._date_columns, self._number_columns
        for row in result.mappings():
            record = dict(row)
            for name in dt_cols:
                value = record[name]
                if isinstance(value, datetime):
                    record[name] = iso_utc(value)
                elif isinstance(value, str):  # SQLite tables written by other tools keep text
                    record[name] = iso_utc(parse_dt(value))
            for name in date_cols:
                value = record[name]
                if isinstance(value, date):
                    record[name] = value.isoformat()
            for name in number_cols:
                value = record[name]
                # NUMERIC 'NaN' / float infinities have no JSON spelling: null, as singer-sdk's
                # conformance would make them.
                if (isinstance(value, Decimal) and not value.is_finite()) or (
                        isinstance(value, float) and not math.isfinite(value)):
                    record[name] = None
            yield record

    # -- bookmark -----------------------------------------------------------------------------



def _bind_dt(value: datetime, column: sa.Column[Any]) -> datetime:
    """A naive UTC value for naive columns (and SQLite, which stores the digits only)."""
    if getattr(column.type, "timezone", False):
        return value
    return value.astimezone(UTC).replace(tzinfo=None)
