"""Measures: the plain facts about one customer as of a date, from its activity.

Everything the scores, tiers and lifecycle rules use is a measure listed in :data:`MEASURES`,
so a data team can name any of them in scoring.yml and ``crm2 explain`` can show them. Money is
Decimal; counts and days are int; rates, hours and indexes are float; a measure without data
(no orders, no surveys) is None, never a made-up zero.

Only activity strictly before ``as_of`` counts (as of the start of that day, UTC), so a score
computed for a past date ignores what happened later — which is what makes backtests honest.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sync.enrich.activity import CustomerActivity
from sync.enrich.rules import RevenueSpec

YEAR, HALF = 365, 182
ZERO = Decimal(0)

MEASURES: dict[str, str] = {
    "revenue_12m": "revenue in the last 365 days (orders or invoices, net of credit notes)",
    "revenue_prev_12m": "revenue 366-730 days ago",
    "revenue_change_12m": "(revenue_12m - revenue_prev_12m) / revenue_prev_12m; None without prior revenue",
    "revenue_6m": "revenue in the last 182 days",
    "revenue_prev_6m": "revenue 183-364 days ago",
    "revenue_change_6m": "(revenue_6m - revenue_prev_6m) / revenue_prev_6m; None without prior revenue",
    "revenue_total": "revenue over the whole history",
    "margin_12m": "revenue_12m minus cost (default_margin of the amount when a document has no cost)",
    "margin_6m": "margin of the last 182 days",
    "margin_prev_6m": "margin 183-364 days ago",
    "margin_change_6m": "(margin_6m - margin_prev_6m) / margin_prev_6m; None without prior margin",
    "credit_notes_12m": "credit notes issued in the last 365 days",
    "orders_12m": "revenue documents (orders or invoices) in the last 365 days",
    "orders_total": "revenue documents over the whole history",
    "avg_order_value_12m": "revenue_12m / orders_12m",
    "active_months_12m": "how many of the last twelve 30-day periods had a revenue document (0-12)",
    "days_since_last_order": "days since the latest revenue document; None without any",
    "days_since_first_order": "days since the first revenue document; None without any",
    "overdue_invoices": "invoices past due and unpaid",
    "overdue_amount": "amount of those invoices",
    "overdue_days_max": "days the oldest of them is past due (0 when none)",
    "open_invoices_amount": "unpaid, not void invoices, overdue or not",
    "avg_days_to_pay_12m": "mean days from issue to payment of invoices paid in the last 365 days",
    "payments_12m": "payments received in the last 365 days",
    "interactions_90d": "calls, emails, meetings, chats in the last 90 days",
    "days_since_last_interaction": "days since the latest interaction; None without any",
    "days_since_last_activity": "days since the latest order, invoice, payment, interaction, case or survey",
    "cases_12m": "service cases opened in the last 365 days",
    "open_cases": "service cases open at as_of",
    "open_complaints": "complaint cases open at as_of",
    "complaints_12m": "complaint cases opened in the last 365 days",
    "first_response_hours_median": "median hours to first response, cases opened in the last 365 days",
    "resolution_hours_median": "median hours to close, cases closed in the last 365 days",
    "csat_avg_12m": "mean CSAT (1-5) in the last 365 days",
    "nps_12m": "NPS (-100..100: % promoters 9-10 minus % detractors 0-6) in the last 365 days",
    "survey_responses_12m": "survey responses in the last 365 days",
    "satisfaction_6m": "mean satisfaction index (0-100; CSAT and NPS answers rescaled) in the last 182 days",
    "satisfaction_prev_6m": "the same index 183-364 days ago",
    "satisfaction_change_6m": "satisfaction_6m - satisfaction_prev_6m, in index points",
    "open_deals_amount": "amount of deals not closed",
    "pipeline_weighted": "open deal amounts times their probability",
    "won_deals_12m": "deals won with a close date in the last 365 days",
    "tenure_days": "days since the customer was created (or first seen in activity)",
    "tenure_years": "tenure_days / 365.25",
    "terminated": "the relationship was deliberately ended before as_of",
    "kind": "direct, partner, distributor or supplier",
}


def day_of(value: datetime | date) -> date:
    """The UTC calendar day of a timestamp (naive timestamps are taken as UTC)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.date()
    return value


def _hours(start: datetime, end: datetime) -> float:
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    end = end if end.tzinfo else end.replace(tzinfo=UTC)
    return (end - start).total_seconds() / 3600


def _change(current: Decimal, previous: Decimal) -> float | None:
    return float((current - previous) / previous) if previous > 0 else None


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


RevenueEvent = tuple[int, Decimal, Decimal, bool]
"""(days before as_of, amount, margin, is a document) — credit notes are not documents."""


def revenue_events(activity: CustomerActivity, spec: RevenueSpec, as_of: date) -> list[RevenueEvent]:
    """(days ago, amount, margin, is_document) for each revenue item before as_of.

    Credit notes are negative items that are not documents: they reduce money, not volume.
    """
    events: list[RevenueEvent] = []
    excluded, rates = spec.excluded_statuses, spec.rates

    def rate(currency: str | None) -> Decimal:
        return rates.get(currency, Decimal(1)) if currency and rates else Decimal(1)

    if spec.source == "orders":
        for order in activity.orders:
            if order.status and order.status.lower() in excluded:
                continue
            ago = (as_of - day_of(order.ordered_at)).days
            if ago < 1:
                continue
            r = rate(order.currency)
            amount = order.total * r
            margin = (order.total - order.cost) * r if order.cost is not None else amount * spec.default_margin
            events.append((ago, amount, margin, True))
    else:
        for invoice in activity.invoices:
            if invoice.status and invoice.status.lower() in excluded:
                continue
            ago = (as_of - invoice.issued_on).days
            if ago < 1:
                continue
            amount = invoice.amount * rate(invoice.currency)
            events.append((ago, amount, amount * spec.default_margin, True))
    if spec.net_of_credit_notes:
        for note in activity.credit_notes:
            ago = (as_of - day_of(note.issued_at)).days
            if ago >= 1:
                amount = note.amount * rate(note.currency)
                events.append((ago, -amount, -amount, False))
    return events


REVENUE_MEASURES = frozenset({
    "revenue_12m", "revenue_prev_12m", "revenue_change_12m", "revenue_6m", "revenue_prev_6m", "revenue_change_6m",
    "revenue_total", "margin_12m", "margin_6m", "margin_prev_6m", "margin_change_6m", "credit_notes_12m",
    "orders_12m", "orders_total", "avg_order_value_12m",
    "active_months_12m", "days_since_last_order", "days_since_first_order"})
"""Measures that come from revenue items alone (cheap enough for a population pass)."""


def revenue_measures(events: Iterable[RevenueEvent]) -> dict[str, Any]:
    """The :data:`REVENUE_MEASURES` from :func:`revenue_events`."""
    r12 = rp12 = r6 = rp6 = rtotal = margin12 = margin6 = marginp6 = credits12 = ZERO
    docs12 = docs_total = 0
    months: set[int] = set()
    last_doc: int | None = None
    first_doc: int | None = None
    for ago, amount, margin, is_doc in events:
        rtotal += amount
        if ago <= YEAR:
            r12 += amount
            margin12 += margin
            if not is_doc:
                credits12 -= amount
        elif ago <= 2 * YEAR:
            rp12 += amount
        if ago <= HALF:
            r6 += amount
            margin6 += margin
        elif ago <= 2 * HALF:
            rp6 += amount
            marginp6 += margin
        if is_doc:
            docs_total += 1
            if ago <= YEAR:
                docs12 += 1
            if ago <= 360:
                months.add((ago - 1) // 30)
            last_doc = ago if last_doc is None else min(last_doc, ago)
            first_doc = ago if first_doc is None else max(first_doc, ago)
    return dict(revenue_12m=r12, revenue_prev_12m=rp12, revenue_change_12m=_change(r12, rp12),
                revenue_6m=r6, revenue_prev_6m=rp6, revenue_change_6m=_change(r6, rp6), revenue_total=rtotal,
                margin_12m=margin12, margin_6m=margin6, margin_prev_6m=marginp6,
                margin_change_6m=_change(margin6, marginp6), credit_notes_12m=credits12, orders_12m=docs12,
                orders_total=docs_total,
                avg_order_value_12m=(r12 / docs12).quantize(Decimal("0.01")) if docs12 else None,
                active_months_12m=len(months), days_since_last_order=last_doc, days_since_first_order=first_doc)


def compute_measures(activity: CustomerActivity, spec: RevenueSpec, as_of: date,
                     events: list[RevenueEvent] | None = None) -> dict[str, Any]:
    """Every measure in :data:`MEASURES` for one customer as of the start of ``as_of``."""
    if events is None:
        events = revenue_events(activity, spec, as_of)
    m = revenue_measures(events)
    activity_days: list[int] = []
    last_doc = m["days_since_last_order"]
    if last_doc is not None:
        activity_days.append(last_doc)
    for order in activity.orders:  # orders are activity even when revenue comes from invoices
        ago = (as_of - day_of(order.ordered_at)).days
        if ago >= 1:
            activity_days.append(ago)

    # -- invoices and payments --------------------------------------------------------------
    overdue = 0
    overdue_amount = open_amount = ZERO
    overdue_days = 0
    pay_days: list[float] = []
    for inv in activity.invoices:
        status = (inv.status or "").lower()
        if status == "void" or (as_of - inv.issued_on).days < 1:
            continue
        activity_days.append((as_of - inv.issued_on).days)
        paid = (inv.paid_on is not None and inv.paid_on < as_of) or (inv.paid_on is None and status == "paid")
        if paid:
            if inv.paid_on is not None and (as_of - inv.paid_on).days <= YEAR:
                pay_days.append(float((inv.paid_on - inv.issued_on).days))
            continue
        open_amount += inv.amount
        if inv.due_on is not None and inv.due_on < as_of:
            overdue += 1
            overdue_amount += inv.amount
            overdue_days = max(overdue_days, (as_of - inv.due_on).days)
    payments12 = ZERO
    for pay in activity.payments:
        ago = (as_of - day_of(pay.paid_at)).days
        if ago >= 1:
            activity_days.append(ago)
            if ago <= YEAR:
                payments12 += pay.amount
    m.update(overdue_invoices=overdue, overdue_amount=overdue_amount, overdue_days_max=overdue_days,
             open_invoices_amount=open_amount, avg_days_to_pay_12m=_mean(pay_days), payments_12m=payments12)

    # -- interactions -----------------------------------------------------------------------
    last_touch: int | None = None
    touches90 = 0
    for item in activity.interactions:
        ago = (as_of - day_of(item.occurred_at)).days
        if ago < 1:
            continue
        last_touch = ago if last_touch is None else min(last_touch, ago)
        touches90 += ago <= 90
    if last_touch is not None:
        activity_days.append(last_touch)
    m.update(interactions_90d=touches90, days_since_last_interaction=last_touch)

    # -- service cases ----------------------------------------------------------------------
    cases12 = open_cases = open_complaints = complaints12 = 0
    responses: list[float] = []
    resolutions: list[float] = []
    for case in activity.cases:
        ago = (as_of - day_of(case.opened_at)).days
        if ago < 1:
            continue
        activity_days.append(ago)
        closed = case.closed_at is not None and day_of(case.closed_at) < as_of
        if not closed:
            open_cases += 1
            open_complaints += case.complaint
        if ago <= YEAR:
            cases12 += 1
            complaints12 += case.complaint
            if case.first_response_at is not None and day_of(case.first_response_at) < as_of:
                responses.append(_hours(case.opened_at, case.first_response_at))
        if closed and case.closed_at is not None and (as_of - day_of(case.closed_at)).days <= YEAR:
            resolutions.append(_hours(case.opened_at, case.closed_at))
    m.update(cases_12m=cases12, open_cases=open_cases, open_complaints=open_complaints,
             complaints_12m=complaints12, first_response_hours_median=_median(responses),
             resolution_hours_median=_median(resolutions))

    # -- surveys ----------------------------------------------------------------------------
    csat: list[float] = []
    nps: list[float] = []
    idx6: list[float] = []
    idx_prev6: list[float] = []
    for survey in activity.surveys:
        ago = (as_of - day_of(survey.responded_at)).days
        if ago < 1:
            continue
        activity_days.append(ago)
        is_csat = survey.kind == "csat"
        index = (survey.score - 1) / 4 * 100 if is_csat else survey.score * 10
        if ago <= HALF:
            idx6.append(index)
        elif ago <= 2 * HALF:
            idx_prev6.append(index)
        if ago <= YEAR:
            (csat if is_csat else nps).append(survey.score)
    s6, sp6 = _mean(idx6), _mean(idx_prev6)
    m.update(csat_avg_12m=_mean(csat),
             nps_12m=(100 * (sum(s >= 9 for s in nps) - sum(s <= 6 for s in nps)) / len(nps)) if nps else None,
             survey_responses_12m=len(csat) + len(nps), satisfaction_6m=s6, satisfaction_prev_6m=sp6,
             satisfaction_change_6m=(s6 - sp6) if s6 is not None and sp6 is not None else None)

    # -- deals ------------------------------------------------------------------------------
    open_deals = weighted = ZERO
    won12 = 0
    for deal in activity.deals:
        closed = deal.closed if deal.closed is not None else bool(deal.won)
        if closed:
            if deal.won and deal.close_date is not None and 1 <= (as_of - deal.close_date).days <= YEAR:
                won12 += 1
            continue
        amount = deal.amount or ZERO
        open_deals += amount
        weighted += amount * Decimal(str(deal.probability or 0)) / 100
    m.update(open_deals_amount=open_deals, pipeline_weighted=weighted.quantize(Decimal("0.01")),
             won_deals_12m=won12)

    # -- tenure and status ------------------------------------------------------------------
    m["days_since_last_activity"] = min(activity_days) if activity_days else None
    start_ago = max(activity_days) if activity_days else None
    if activity.created_at is not None and (as_of - day_of(activity.created_at)).days >= 0:
        start_ago = (as_of - day_of(activity.created_at)).days
    m["tenure_days"] = start_ago
    m["tenure_years"] = start_ago / 365.25 if start_ago is not None else None
    m["terminated"] = activity.terminated_on is not None and activity.terminated_on < as_of
    m["kind"] = activity.kind
    return m


def as_numbers(measures: dict[str, Any], extra: Iterable[tuple[str, Any]] = ()) -> dict[str, Any]:
    """The measures as rules see them: Decimals become floats so conditions can mix them freely."""
    out = {k: float(v) if isinstance(v, Decimal) else v for k, v in measures.items()}
    out.update(extra)
    return out
