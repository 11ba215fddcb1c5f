"""What the engine scores: one golden customer and everything it did, as entity models.

The engine never reads the store itself; :mod:`sync.enrich.store_io` (or a test, or the
benchmark) builds these. Credit notes have no entity in :mod:`sync.model` yet, so their small
model lives here until the mapping work gives them one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

from sync.model import (
    Deal,
    Entity,
    Interaction,
    Invoice,
    Order,
    Payment,
    ServiceCase,
    Survey,
)


class CreditNote(Entity):
    """Money given back to a customer against an invoice; it reduces revenue when issued."""

    entity: ClassVar[str] = "credit_note"

    customer: str | None = None
    invoice: str | None = None
    number: str | None = None
    issued_at: datetime
    amount: Decimal
    currency: str | None = None
    reason: str | None = None
    updated_at: datetime | None = None


@dataclass(slots=True)
class CustomerActivity:
    """A golden customer's facts and activity; lists may be empty, never None."""

    golden_id: str
    kind: str = "direct"
    created_at: datetime | None = None
    terminated_on: date | None = None
    orders: list[Order] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    credit_notes: list[CreditNote] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)
    interactions: list[Interaction] = field(default_factory=list)
    cases: list[ServiceCase] = field(default_factory=list)
    surveys: list[Survey] = field(default_factory=list)
