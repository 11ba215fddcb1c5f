"""The finance ledger's tables, and loading generator records into them (SQLite or PostgreSQL).

This is the shape of a typical ledger as the synthetic generator describes it
(docs/synthetic-data.md): money as NUMERIC(18,2), dates as DATE, change times as TIMESTAMP.
Each table is indexed on (updated_at, key) because that is exactly the order and range the
finance tap's incremental query asks for.

There are no foreign keys on purpose: the generator plants broken rows (an invoice whose customer
is missing, for instance) so that crm2's quality checks have something to catch, and a real
ledger export can be just as inconsistent. The ledger must hold them, not refuse them.

SQLite has no exact decimal type: a NUMERIC column stores a REAL when the value survives the trip
through a double, and silently rounds when it does not (9999999999999999.99 comes back as 1e16).
The loader therefore refuses a money value that SQLite cannot give back exactly, rather than
store a different amount.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

log = logging.getLogger(__name__)

MONEY = sa.Numeric(18, 2)
TIMESTAMP = sa.DateTime(timezone=True)

metadata = sa.MetaData()

customers = sa.Table(
    "customers", metadata,
    sa.Column("customer_no", sa.String(20), primary_key=True),
    sa.Column("name", sa.String(255)),
    sa.Column("tax_id", sa.String(64)),
    sa.Column("address", sa.String(255)),
    sa.Column("city", sa.String(128)),
    sa.Column("postal_code", sa.String(32)),
    sa.Column("country", sa.String(64)),
    sa.Column("phone", sa.String(64)),
    sa.Column("email", sa.String(255)),
    sa.Column("currency", sa.String(3)),
    sa.Column("payment_terms_days", sa.Integer),
    sa.Column("created_at", TIMESTAMP),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
    sa.Index("ix_customers_updated_at", "updated_at", "customer_no"),
)

invoices = sa.Table(
    "invoices", metadata,
    sa.Column("invoice_no", sa.String(32), primary_key=True),
    sa.Column("customer_no", sa.String(20)),
    sa.Column("issue_date", sa.Date),
    sa.Column("due_date", sa.Date),
    sa.Column("currency", sa.String(3)),
    sa.Column("net_amount", MONEY),
    sa.Column("tax_amount", MONEY),
    sa.Column("total_amount", MONEY),
    sa.Column("status", sa.String(16)),
    sa.Column("paid_date", sa.Date),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
    sa.Index("ix_invoices_updated_at", "updated_at", "invoice_no"),
    sa.Index("ix_invoices_customer_no", "customer_no"),
)

payments = sa.Table(
    "payments", metadata,
    sa.Column("payment_id", sa.String(32), primary_key=True),
    sa.Column("invoice_no", sa.String(32)),
    sa.Column("customer_no", sa.String(20)),
    sa.Column("paid_at", TIMESTAMP),
    sa.Column("amount", MONEY),
    sa.Column("currency", sa.String(3)),
    sa.Column("method", sa.String(16)),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
    sa.Index("ix_payments_updated_at", "updated_at", "payment_id"),
    sa.Index("ix_payments_customer_no", "customer_no"),
)

credit_notes = sa.Table(
    "credit_notes", metadata,
    sa.Column("credit_note_no", sa.String(32), primary_key=True),
    sa.Column("invoice_no", sa.String(32)),
    sa.Column("customer_no", sa.String(20)),
    sa.Column("issued_at", TIMESTAMP),
    sa.Column("amount", MONEY),
    sa.Column("currency", sa.String(3)),
    sa.Column("reason", sa.String(255)),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
    sa.Index("ix_credit_notes_updated_at", "updated_at", "credit_note_no"),
    sa.Index("ix_credit_notes_customer_no", "customer_no"),
)

TABLES: dict[str, sa.Table] = {t.name: t for t in (customers, invoices, payments, credit_notes)}


class LedgerValueError(ValueError):
    """A generator value the ledger cannot store faithfully (names table, column and key)."""


def create(engine: sa.Engine) -> None:
    """Create the ledger tables (and their indexes) if they do not exist."""
    metadata.create_all(engine)


def load(engine: sa.Engine, records: Iterable[tuple[str, Mapping[str, Any]]], *,
         batch_size: int = 2000) -> dict[str, int]:
    """Bulk insert of ``(object, record)`` pairs; returns rows written per table.

    Records of objects the ledger does not have are skipped (the generator's other systems);
    fields the ledger does not have are ignored, and named once in the log (names only, never
    values: they can be personal data).
    """
    create(engine)
    sqlite = engine.dialect.name == "sqlite"
    pending: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    counts = dict.fromkeys(TABLES, 0)
    unknown_fields: dict[str, set[str]] = {}
    with engine.begin() as conn:
        for obj, record in records:
            table = TABLES.get(obj)
            if table is None:
                continue
            extra = set(record) - set(table.c.keys())
            if extra - unknown_fields.setdefault(obj, set()):
                unknown_fields[obj] |= extra
                log.warning("finance ledger: ignoring fields not in table %s: %s", obj, ", ".join(sorted(extra)))
            pending[obj].append(to_row(table, record, sqlite=sqlite))
            if len(pending[obj]) >= batch_size:
                conn.execute(table.insert(), pending[obj])
                counts[obj] += len(pending[obj])
                pending[obj] = []
        for name, rows in pending.items():
            if rows:
                conn.execute(TABLES[name].insert(), rows)
                counts[name] += len(rows)
    return counts


def to_row(table: sa.Table, record: Mapping[str, Any], *, sqlite: bool = False) -> dict[str, Any]:
    """A generator record (JSON-friendly strings) as typed column values for ``table``."""
    key_col = next(iter(table.primary_key.columns)).name
    row: dict[str, Any] = {}
    for column in table.columns:
        value = record.get(column.name)
        try:
            row[column.name] = _typed(column.type, value)
        except (ValueError, InvalidOperation) as exc:
            raise LedgerValueError(f"{table.name}.{column.name} of {record.get(key_col)!s}: {exc}") from None
        if sqlite and isinstance(row[column.name], Decimal) and not _sqlite_exact(row[column.name], column.type):
            raise LedgerValueError(
                f"{table.name}.{column.name} of {record.get(key_col)!s}: amount has more digits than SQLite "
                "can store exactly (15 significant digits); use PostgreSQL for this ledger")
    return row


def _typed(type_: sa.types.TypeEngine[Any], value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(type_, sa.Numeric) and not isinstance(type_, sa.Float):
        if isinstance(value, float):
            raise ValueError("money must be a decimal string, not a float")
        return Decimal(str(value))
    if isinstance(type_, sa.DateTime):
        return parse_timestamp(value)
    if isinstance(type_, sa.Date):
        return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    if isinstance(type_, sa.Integer):
        return int(value)
    return str(value)


def parse_timestamp(value: Any) -> datetime:
    """ISO 8601 (``Z`` or offset; a bare date is midnight) as an aware UTC datetime."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _sqlite_exact(value: Decimal, type_: sa.types.TypeEngine[Any]) -> bool:
    """Whether SQLite's REAL storage plus SQLAlchemy's read-back at the column scale gives ``value``."""
    scale = getattr(type_, "scale", None) or 0
    return Decimal(f"{float(value):.{scale}f}") == value
