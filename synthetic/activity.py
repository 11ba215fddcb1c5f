"""The generator's customers as the scoring engine sees them, for backtests of the scores.

Each real customer ``i`` becomes one :class:`~sync.enrich.CustomerActivity` (golden id
``R{i:07d}``) built straight from the records :func:`synthetic.generate` would emit for
it — invoices, payments and credit notes from finance, orders from sales, cases, tasks, events
and surveys from Salesforce — as if mapping and entity resolution had been perfect. That
isolates what a scoring backtest measures (how well a score predicts) from what the resolve
benchmark measures (how well records are joined). The customer's lifecycle ``pattern``
(steady, churning, ...) comes along as ground truth.

Amounts are converted into US dollars with the generator's own rates
(:func:`usd_rates`), so pass ``RevenueSpec(source="invoices", rates=usd_rates())`` when
scoring them: every finance customer has invoices, while only two thirds have a sales account.
Broken rows (a missing issue date, a survey score off the scale) are left out, as the
mappings would quarantine them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sync.enrich.activity import CreditNote, CustomerActivity
from sync.model import (
    Channel,
    Interaction,
    Invoice,
    Order,
    Payment,
    Priority,
    ServiceCase,
    SourceRef,
    Survey,
    SurveyKind,
)
from synthetic import names as nm
from synthetic.companies import Universe
from synthetic.engagement import crm_records
from synthetic.ids import stream
from synthetic.trade import trade_records
from synthetic.values import EPOCH

AS_OF = date(2026, 11, 1)
"""The generator's "now": every activity is before it."""


@dataclass(slots=True)
class SyntheticCustomer:
    activity: CustomerActivity
    pattern: str
    """steady, growing, declining, churning, new, prospect or seasonal."""
    stops_on: date | None
    """A churning customer's first day without orders (the generator's end of its activity); else None."""


def usd_rates() -> dict[str, Decimal]:
    """Currency -> multiplier into US dollars, from the generator's rough rates."""
    return {c.currency: Decimal(1) / Decimal(c.units_per_usd) for c in nm.COUNTRIES.values()}


def _ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _at(text: str | None) -> datetime:
    """A timestamp the generator always writes (model_construct does not validate, so check here)."""
    at = _ts(text)
    assert at is not None
    return at


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _ref(system: str, obj: str, rid: str) -> SourceRef:
    return SourceRef.model_construct(system=system, object=obj, id=rid)


def _add(activity: CustomerActivity, system: str, obj: str, rec: dict[str, Any]) -> None:
    """One generated record into the customer's activity (model_construct: the values are known good)."""
    if obj == "invoices":
        issued = _day(rec["issue_date"])
        if issued is None or rec["total_amount"].startswith("-"):
            return
        activity.invoices.append(Invoice.model_construct(
            source=_ref(system, obj, rec["invoice_no"]), issued_on=issued, due_on=_day(rec["due_date"]),
            amount=Decimal(rec["total_amount"]), currency=rec["currency"], status=rec["status"],
            paid_on=_day(rec["paid_date"])))
    elif obj == "orders":
        activity.orders.append(Order.model_construct(
            source=_ref(system, obj, rec["id"]), ordered_at=_at(rec["placed_at"]), total=Decimal(rec["total"]),
            cost=Decimal(rec["cost"]), currency=rec["currency"], status=rec["status"]))
    elif obj == "payments":
        activity.payments.append(Payment.model_construct(
            source=_ref(system, obj, rec["payment_id"]), paid_at=_at(rec["paid_at"]), amount=Decimal(rec["amount"]),
            currency=rec["currency"]))
    elif obj == "credit_notes":
        activity.credit_notes.append(CreditNote.model_construct(
            source=_ref(system, obj, rec["credit_note_no"]), issued_at=_at(rec["issued_at"]),
            amount=Decimal(rec["amount"]), currency=rec["currency"]))
    elif obj == "Case":
        activity.cases.append(ServiceCase.model_construct(
            source=_ref(system, obj, rec["Id"]), opened_at=_at(rec["CreatedDate"]),
            first_response_at=_ts(rec["First_Response_At__c"]), closed_at=_ts(rec["ClosedDate"]),
            complaint=rec["Type"] == "Complaint", priority=Priority.MEDIUM))
    elif obj == "Task" and rec["ActivityDate"] and rec["Status"] == "Completed":
        activity.interactions.append(Interaction.model_construct(
            source=_ref(system, obj, rec["Id"]), channel=Channel.PHONE,
            occurred_at=datetime.combine(date.fromisoformat(rec["ActivityDate"]), time(), tzinfo=UTC)))
    elif obj == "Event":
        activity.interactions.append(Interaction.model_construct(
            source=_ref(system, obj, rec["Id"]), channel=Channel.MEETING, occurred_at=_at(rec["StartDateTime"])))
    elif obj == "Survey_Response__c":
        kind = SurveyKind.CSAT if rec["Survey_Type__c"] == "CSAT" else SurveyKind.NPS
        score = float(rec["Score__c"])
        if 0 <= score <= (5 if kind is SurveyKind.CSAT else 10):
            activity.surveys.append(Survey.model_construct(
                source=_ref(system, obj, rec["Id"]), kind=kind, score=score,
                responded_at=_at(rec["Responded_At__c"])))


def synthetic_customers(customers: int, seed: int = 42) -> Iterator[SyntheticCustomer]:
    """Customers ``0 .. customers-1`` of the generator's (customers, seed) data set, as activity."""
    universe = Universe(customers, seed)
    for i in range(customers):
        co = universe.company(i)
        created = datetime.combine(EPOCH + timedelta(days=co.created_day), time(), tzinfo=UTC)
        activity = CustomerActivity(f"R{i:07d}", kind="direct", created_at=created)
        for system, obj, rec in trade_records(co, universe, stream(seed, i, "trade")):
            _add(activity, system, obj, rec)
        for system, obj, rec in crm_records(co, stream(seed, i, "crm")):
            _add(activity, system, obj, rec)
        stops = EPOCH + timedelta(days=co.end_day) if co.pattern == "churning" else None
        yield SyntheticCustomer(activity, co.pattern, stops)

