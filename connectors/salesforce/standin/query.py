"""SOQL against the org: parsed SOQL compiled to SQL, checked against describe, run as a snapshot.

Comparison semantics follow SOQL rather than SQL: text compares and sorts case-insensitively
(ids do not), ``!=`` and ``NOT IN`` match nulls, ``NOT`` is two-valued, nulls sort first unless
``NULLS LAST``. Errors are Salesforce's: MALFORMED_QUERY for syntax, INVALID_TYPE for an unknown
object, INVALID_FIELD for an unknown field, INVALID_QUERY_FILTER_OPERATOR for a literal of the
wrong type, each with the row/column report.

A query runs once and its rows are kept as a cursor; ``nextRecordsUrl`` pages through that
snapshot, so a page re-requested after a network error is the same page, as in Salesforce.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.salesforce.standin.errors import ApiError
from connectors.salesforce.standin.ids import to_18
from connectors.salesforce.standin.org import Org, q
from connectors.salesforce.standin.schema import FieldDef, SObjectDef, sobject
from connectors.salesforce.standin.soql import (
    BoolOp,
    Comparison,
    Condition,
    FieldRef,
    InList,
    Like,
    Not,
    Query,
    SoqlSyntaxError,
    Value,
    error_report,
    parse,
)
from connectors.salesforce.standin.values import to_csv

MAX_OFFSET = 2000
DEFAULT_BATCH = 2000
MIN_BATCH = 200
MAX_OPEN_CURSORS = 50


@dataclass
class Compiled:
    """A checked query: the SQL to run and how to render its rows."""

    soql: str
    obj: SObjectDef
    count: bool
    fields: list[FieldDef]
    """Selected fields in SELECT order (compound ones included)."""
    sql: str
    params: list[Any]
    fetched: list[str] = field(default_factory=list)
    """Columns the SQL returns, Id first."""


class _Compiler:
    def __init__(self, soql: str, query: Query, obj: SObjectDef, now: datetime) -> None:
        self.soql = soql
        self.query = query
        self.obj = obj
        self.now = now
        self.params: list[Any] = []

    def error(self, status: int, code: str, pos: int, reason: str) -> ApiError:
        return ApiError(status, code, error_report(self.soql, pos, reason))

    def field(self, ref: FieldRef, *, purpose: str) -> FieldDef:
        if "." in ref.name:
            rel = ref.name.split(".", 1)[0]
            raise self.error(400, "INVALID_FIELD", ref.pos, (
                f"Didn't understand relationship '{rel}' in field path. If you are attempting to use a custom "
                "relationship, be sure to append the '__r' after the custom relationship name. Please reference "
                "your WSDL or the describe call for the appropriate names. (The stand-in answers queries on one "
                "object only.)"))
        f = self.obj.field(ref.name)
        if f is None:
            raise self.error(400, "INVALID_FIELD", ref.pos, (
                f"No such column '{ref.name}' on entity '{self.obj.name}'. If you are attempting to use a custom "
                "field, be sure to append the '__c' after the custom field name. Please reference your WSDL or "
                "the describe call for the appropriate names."))
        if purpose != "select" and f.compound:
            raise self.error(400, "INVALID_FIELD", ref.pos,
                             f"field '{f.name}' can not be {purpose} in a query call")
        if purpose == "sorted" and f.type == "textarea" and f.length > 255:
            raise self.error(400, "INVALID_FIELD", ref.pos, f"field '{f.name}' can not be sorted in a query call")
        return f

    # -- literals ---------------------------------------------------------------------------

    def literal(self, f: FieldDef, v: Value) -> Any:
        storage = f.storage

        def wrong(kind: str, quoted: bool) -> ApiError:
            how = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
            return self.error(400, "INVALID_QUERY_FILTER_OPERATOR", v.pos,
                              f"value of filter criterion for field '{f.name}' must be of type {kind} and {how}")

        if storage == "text":
            if v.kind != "string":
                raise wrong("string", True)
            return v.value
        if storage == "id":
            if v.kind != "string":
                raise wrong("id", True)
            full = to_18(v.value)
            if full is None:
                raise self.error(400, "INVALID_QUERY_FILTER_OPERATOR", v.pos, f"invalid ID field: {v.value}")
            return full
        if storage == "bool":
            if v.kind != "boolean":
                raise wrong("boolean", False)
            return int(v.value)
        if storage in ("int", "double", "currency"):
            if v.kind != "number":
                raise wrong("double" if storage != "int" else "int", False)
            return float(v.value) if storage != "int" else int(v.value)
        if storage == "date":
            if v.kind != "date":
                raise wrong("date", False)
            return v.value.isoformat()
        if v.kind != "datetime":
            raise wrong("dateTime", False)
        return _stamp(v.value)

    def date_range(self, f: FieldDef, v: Value) -> tuple[str, str]:
        word, n = v.value
        today = self.now.date()
        day = timedelta(days=1)
        start, days = {
            "TODAY": (today, 1), "YESTERDAY": (today - day, 1), "TOMORROW": (today + day, 1),
            "LAST_N_DAYS": (today - n * day, n + 1), "NEXT_N_DAYS": (today + day, n),
        }[word]
        end = start + timedelta(days=days)
        if f.storage == "date":
            return start.isoformat(), end.isoformat()
        if f.storage != "datetime":
            raise self.error(400, "INVALID_QUERY_FILTER_OPERATOR", v.pos,
                             f"value of filter criterion for field '{f.name}' must be of type "
                             f"{f.type} and should not be a date literal")

        def stamp(d: date) -> str:
            return datetime(d.year, d.month, d.day, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")

        return stamp(start), stamp(end)

    # -- conditions -------------------------------------------------------------------------

    @staticmethod
    def column(f: FieldDef) -> str:
        return f"CAST({q(f.name)} AS REAL)" if f.storage == "currency" else q(f.name)

    @staticmethod
    def collate(f: FieldDef) -> str:
        return " COLLATE NOCASE" if f.storage == "text" else ""

    def condition(self, c: Condition) -> str:
        if isinstance(c, BoolOp):
            return "(" + f" {c.op} ".join(self.condition(o) for o in c.operands) + ")"
        if isinstance(c, Not):
            return f"(NOT IFNULL({self.condition(c.operand)}, 0))"
        if isinstance(c, Like):
            f = self.field(c.field, purpose="filtered")
            if f.storage != "text":
                raise self.error(400, "INVALID_QUERY_FILTER_OPERATOR", c.field.pos,
                                 f"invalid operator on {f.type} field: LIKE")
            self.params.append(c.pattern.like)
            return f"({q(f.name)} LIKE ? ESCAPE '\\')"
        if isinstance(c, InList):
            f = self.field(c.field, purpose="filtered")
            col, coll = self.column(f), self.collate(f)
            # A dateTime literal between two milliseconds can equal no stored value: it is left out.
            values = [None if v.kind == "null" else self.literal(f, v) for v in c.values
                      if not (v.kind == "datetime" and f.storage == "datetime" and v.value.microsecond % 1000)]
            present = [v for v in values if v is not None]
            has_null = len(present) < len(values)
            self.params.extend(present)
            marks = ", ".join("?" for _ in present)
            if c.negated:
                inner = f"{col}{coll} NOT IN ({marks})" if present else "1"
                return f"({col} IS NOT NULL AND {inner})" if has_null else f"({col} IS NULL OR {inner})"
            inner = f"{col}{coll} IN ({marks})" if present else "0"
            return f"({col} IS NULL OR {inner})" if has_null else f"({inner})"
        return self.comparison(c)

    def comparison(self, c: Comparison) -> str:
        f = self.field(c.field, purpose="filtered")
        col, coll, v = self.column(f), self.collate(f), c.value
        if v.kind == "null":
            if c.op not in ("=", "!="):
                raise self.error(400, "MALFORMED_QUERY", v.pos, f"invalid operator {c.op} with null")
            return f"({col} IS {'NOT ' if c.op == '!=' else ''}NULL)"
        if f.storage == "bool" and c.op not in ("=", "!="):
            raise self.error(400, "INVALID_QUERY_FILTER_OPERATOR", c.field.pos,
                             f"invalid operator on boolean field: {c.op}")
        if v.kind == "date_literal":
            lo, hi = self.date_range(f, v)
            if c.op == "=":
                self.params += [lo, hi]
                return f"({col} >= ? AND {col} < ?)"
            if c.op == "!=":
                self.params += [lo, hi]
                return f"({col} IS NULL OR {col} < ? OR {col} >= ?)"
            bound, sql_op = {"<": (lo, "<"), "<=": (hi, "<"), ">": (hi, ">="), ">=": (lo, ">=")}[c.op]
            self.params.append(bound)
            return f"({col} {sql_op} ?)"
        op = c.op
        if f.storage == "datetime" and v.kind == "datetime" and v.value.microsecond % 1000:
            # Stored values have millisecond precision; a literal between two milliseconds equals
            # none of them, and each order comparison holds exactly as against the millisecond below.
            if op in ("=", "!="):
                return "(0)" if op == "=" else "(1)"
            op = {">": ">", ">=": ">", "<": "<=", "<=": "<="}[op]
        self.params.append(self.literal(f, v))
        if op == "!=":
            return f"({col} IS NULL OR {col} != ?{coll})" if f.nillable else f"({col} != ?{coll})"
        return f"({col} {op} ?{coll})"

    # -- the whole query --------------------------------------------------------------------

    def compile(self, *, include_deleted: bool, for_bulk: bool) -> Compiled:
        qy = self.query
        selected: list[FieldDef] = []
        seen: set[str] = set()
        for ref in qy.fields:
            f = self.field(ref, purpose="select")
            if f.name in seen:
                raise self.error(400, "MALFORMED_QUERY", ref.pos, f"duplicate field selected: {f.name}")
            if for_bulk and f.compound:
                raise self.error(400, "INVALID_FIELD", ref.pos, "Selecting compound data not supported in Bulk Query")
            seen.add(f.name)
            selected.append(f)
        clauses = [] if include_deleted else ["IsDeleted = 0"]
        if qy.where is not None:
            clauses.append(self.condition(qy.where))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        order = []
        for item in qy.order_by:
            f = self.field(item.field, purpose="sorted")
            order.append(f"{self.column(f)}{self.collate(f)} {'DESC' if item.descending else 'ASC'} "
                         f"NULLS {'LAST' if item.nulls_last else 'FIRST'}")
        if qy.offset is not None:
            if for_bulk:
                raise ApiError(400, "INVALIDJOB", "OFFSET is not supported by Bulk API 2.0 query")
            if qy.offset > MAX_OFFSET:
                raise ApiError(400, "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}")
        tail = ""
        if qy.limit is not None or qy.offset is not None:
            tail = " LIMIT ? OFFSET ?"
            self.params += [-1 if qy.limit is None else qy.limit, qy.offset or 0]
        table = q(self.obj.name)
        if qy.count:
            if for_bulk:
                raise ApiError(400, "INVALIDJOB", "Aggregate queries are not supported by Bulk API 2.0 query")
            sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM {table}{where}{tail})"
            return Compiled(self.soql, self.obj, True, [], sql, self.params)
        fetched = ["Id"]
        for f in selected:
            for name in f.components or (f.name,):
                if name not in fetched:
                    fetched.append(name)
        order_sql = f" ORDER BY {', '.join(order)}" if order else ""
        sql = f"SELECT {', '.join(q(n) for n in fetched)} FROM {table}{where}{order_sql}{tail}"
        return Compiled(self.soql, self.obj, False, selected, sql, self.params, fetched)


def _stamp(value: datetime) -> str:
    """An aware datetime in the stored form, cut to the millisecond (``YYYY-MM-DDTHH:MM:SS.fffZ``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def compile_soql(soql: str, *, include_deleted: bool, for_bulk: bool = False,
                 now: datetime | None = None) -> Compiled:
    """Parse and check a query; raises ApiError with Salesforce's code and report."""
    try:
        parsed = parse(soql)
    except SoqlSyntaxError as exc:
        raise ApiError(400, "MALFORMED_QUERY", error_report(soql, exc.pos, exc.message)) from None
    obj = sobject(parsed.sobject)
    if obj is None:
        raise ApiError(400, "INVALID_TYPE", error_report(soql, parsed.sobject_pos, (
            f"sObject type '{parsed.sobject}' is not supported. If you are attempting to use a custom object, be "
            "sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for "
            "the appropriate names.")))
    return _Compiler(soql, parsed, obj, now or datetime.now(UTC)).compile(include_deleted=include_deleted,
                                                                        for_bulk=for_bulk)


def run(org: Org, compiled: Compiled) -> list[tuple[Any, ...]]:
    with org.lock:
        return org.conn.execute(compiled.sql, compiled.params).fetchall()


def count(org: Org, compiled: Compiled) -> int:
    with org.lock:
        return int(org.conn.execute(compiled.sql, compiled.params).fetchone()[0])


# -- rendering ------------------------------------------------------------------------------------

def _address(values: dict[str, Any], f: FieldDef) -> dict[str, Any] | None:
    parts = {name.removeprefix(f.name.removesuffix("Address")): values.get(name) for name in f.components}
    if all(v is None for v in parts.values()):
        return None
    return {"city": parts.get("City"), "country": parts.get("Country"), "geocodeAccuracy": None, "latitude": None,
            "longitude": None, "postalCode": parts.get("PostalCode"), "state": parts.get("State"),
            "street": parts.get("Street")}


def _json_converter(f: FieldDef) -> Callable[[Any], Any] | None:
    """How a stored value becomes its REST value; None where it is the same (the common case)."""
    if f.storage == "datetime":
        return lambda v: v[:-1] + "+0000"
    if f.storage == "bool":
        return bool
    if f.storage == "currency":
        return Decimal
    return None


def json_renderer(compiled: Compiled, version: str) -> Callable[[Sequence[tuple[Any, ...]]], list[dict[str, Any]]]:
    """A function turning fetched rows into REST records with ``attributes``."""
    index = {name: i for i, name in enumerate(compiled.fetched)}
    obj_name = compiled.obj.name
    url_base = f"/services/data/v{version}/sobjects/{obj_name}/"
    plan = [(f.name, index.get(f.name, -1), _json_converter(f)) for f in compiled.fields if not f.compound]
    compound = [(f.name, f) for f in compiled.fields if f.compound]
    order = [f.name for f in compiled.fields]

    def render(rows: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
        out = []
        for row in rows:
            record: dict[str, Any] = {"attributes": {"type": obj_name, "url": url_base + row[0]}}
            for name, i, convert in plan:
                value = row[i]
                record[name] = value if convert is None or value is None else convert(value)
            if compound:
                for name, f in compound:
                    record[name] = _address({n: row[index[n]] for n in f.components}, f)
                record = {"attributes": record["attributes"], **{n: record[n] for n in order}}
            out.append(record)
        return out

    return render


def csv_rows(compiled: Compiled, rows: Sequence[tuple[Any, ...]]) -> list[list[str]]:
    """Fetched rows as Bulk 2.0 CSV cells, header first (null is an empty cell)."""
    plan = [(compiled.fetched.index(f.name), f) for f in compiled.fields]
    if all(f.storage in ("text", "id", "date", "datetime", "currency") for _, f in plan):
        # Stored as text already: only nulls need replacing.
        out = [[f.name for _, f in plan]]
        out.extend(["" if row[i] is None else row[i] for i, _ in plan] for row in rows)
        return out
    out = [[f.name for _, f in plan]]
    out.extend([to_csv(f, row[i]) for i, f in plan] for row in rows)
    return out


# -- cursors --------------------------------------------------------------------------------------

@dataclass
class Cursor:
    rows: list[tuple[Any, ...]]
    render: Callable[[Sequence[tuple[Any, ...]]], list[dict[str, Any]]]
    batch_size: int
    resource: str
    version: str


class CursorStore:
    """Open query cursors by locator, oldest evicted first (Salesforce also caps open cursors)."""

    def __init__(self, max_open: int = MAX_OPEN_CURSORS) -> None:
        self._cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._lock = threading.Lock()
        self.max_open = max_open

    def page(self, cursor: Cursor, locator: str | None, start: int) -> dict[str, Any]:
        total = len(cursor.rows)
        end = min(total, start + cursor.batch_size)
        body: dict[str, Any] = {"totalSize": total, "done": end >= total}
        if end < total:
            if locator is None:
                locator = "01g" + "".join(secrets.choice("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(15))
                with self._lock:
                    self._cursors[locator] = cursor
                    while len(self._cursors) > self.max_open:
                        self._cursors.popitem(last=False)
            body["nextRecordsUrl"] = f"/services/data/v{cursor.version}/{cursor.resource}/{locator}-{end}"
        body["records"] = cursor.render(cursor.rows[start:end])
        return body

    def get(self, locator: str) -> Cursor | None:
        with self._lock:
            return self._cursors.get(locator)


def batch_size(header: str | None) -> int | None:
    """``Sforce-Query-Options: batchSize=N``, clamped to 200..2000 as Salesforce does."""
    if not header:
        return None
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "batchsize":
            try:
                return max(MIN_BATCH, min(DEFAULT_BATCH, int(value.strip())))
            except ValueError:
                return None
    return None

