"""Money flow of one customer: sales orders and their lines, invoices, payments, credit notes, quotes.

Orders follow the customer's lifecycle pattern over the three-year window (growing, declining,
seasonal, churning customers stop buying); spend per customer is Pareto-distributed, so a small
share of customers brings most of the revenue. Each order is invoiced in the finance ledger
when the customer is there (same net amount, local VAT on top), paid according to the
customer's habits — early, late or never, which leaves overdue invoices — and returns become
credit notes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

from synthetic import names as nm
from synthetic.companies import Company, Universe, seconds_at
from synthetic.ids import (
    BROKEN_SLOT,
    CREDIT_SLOTS,
    PAYMENT_SLOTS,
    QUOTE_SLOTS,
    credit_note_no,
    invoice_no,
    order_id,
    order_line_id,
    order_number,
    payment_id,
    quote_id,
)
from synthetic.values import DAY, HISTORY_DAYS, NOW, NOW_DAY, WINDOW_START_DAY, day_text, money, ts_text, year_of

Record = tuple[str, str, dict[str, Any]]

MONTHLY_USD = 450.0
"""Monthly spend of a customer of size 1 (the smallest); sizes follow a Pareto law."""
QUOTE_STAGES = (("won", 100), ("lost", 0), ("negotiation", 60), ("sent", 30), ("draft", 10))
CN_METHODS = ("wire",) * 12 + ("alipay",) * 4 + ("wechat",) * 3 + ("cheque",)
METHODS = ("wire",) * 14 + ("card",) * 5 + ("cheque",)
_TWO_PI = 2 * math.pi


def trade_records(co: Company, u: Universe, rng: random.Random) -> Iterator[Record]:
    if co.pattern != "prospect":
        yield from _orders(co, u, rng)
    if co.sales_accounts:
        yield from _quotes(co, u, rng)


def _orders(co: Company, u: Universe, rng: random.Random) -> Iterator[Record]:
    r = rng.random
    i = co.index
    in_sales, in_finance = co.sales_accounts > 0, co.finance_accounts > 0
    currency, units, vat = co.country.currency, co.country.units_per_usd, co.country.vat_rate_pct
    methods = CN_METHODS if co.place.country == "CN" else METHODS
    discount = rng.uniform(0.85, 1.05)
    gap = min(300.0, max(10.0, 200.0 / co.size ** 0.6))
    budget_per_order = MONTHLY_USD * co.size * gap / 30
    pattern, start, end = co.pattern, co.start_day, co.end_day
    accounts = [u.sales_account_id(i, k) for k in range(co.sales_accounts)]
    customers = [u.finance_customer_no(i, k) for k in range(co.finance_accounts)]
    # order intervals vary around the customer's rhythm (gamma, shape 2), neither clockwork nor memoryless
    day = start + int(rng.gammavariate(2.0, gap / 2) * r())
    k = payments = credits = 0
    while day < end and k < BROKEN_SLOT:
        progress = (day - WINDOW_START_DAY) / HISTORY_DAYS
        if pattern == "growing":
            trend = 0.5 + progress
        elif pattern == "declining":
            trend = 1.5 - progress
        elif pattern == "seasonal":
            trend = 1 + 0.6 * math.sin(_TWO_PI * day / 365.25)
        elif pattern == "churning":
            trend = 1.2 - 0.7 * (day - start) / max(1, end - start)
        else:
            trend = 1.0
        budget = budget_per_order * trend * rng.lognormvariate(0, 0.35)
        x = r()
        n_lines = 1 if x < 0.6 else 2 if x < 0.85 else 3 if x < 0.95 else 4
        lines: list[tuple[str, str, int, int]] = []
        total = 0
        for _ in range(n_lines):
            sku, product, usd = nm.PRODUCTS[int(r() * len(nm.PRODUCTS))]
            unit = int(usd * 100 * units * discount)
            qty = min(100_000, max(1, round(budget / n_lines / (usd * discount))))
            lines.append((sku, product, qty, unit))
            total += qty * unit
        cost = int(total * co.margin * rng.uniform(0.95, 1.05))
        placed = seconds_at(day, co, r())
        age = NOW_DAY - day
        x = r()
        if x < 0.03:
            status, settle = "cancelled", int(r() * 2 * DAY)
        elif x < 0.045 and age > 40:
            status, settle = "returned", (20 + int(r() * 20)) * DAY
        elif age < 3:
            status, settle = "placed", int(r() * 3600)
        elif age < 10:
            status, settle = "shipped", (1 + int(r() * 2)) * DAY
        else:
            status, settle = "delivered", (3 + int(r() * 7)) * DAY
        updated = min(placed + settle, NOW - 1)
        account = accounts[1] if len(accounts) > 1 and r() < 0.25 else accounts[0] if accounts else None
        if in_sales:
            oid = order_id(i, k)
            yield "sales", "orders", {
                "id": oid, "number": order_number(i, k), "account_id": account, "placed_at": ts_text(placed),
                "status": status, "currency": currency, "total": money(total), "cost": money(cost),
                "channel": nm.SALES_CHANNELS[int(r() * len(nm.SALES_CHANNELS))], "updated_at": ts_text(updated)}
            stamp = ts_text(placed)
            for n, (sku, product, qty, unit) in enumerate(lines):
                yield "sales", "order_lines", {
                    "id": order_line_id(i, k, n), "order_id": oid, "sku": sku, "product": product, "quantity": qty,
                    "unit_price": money(unit), "line_total": money(qty * unit), "updated_at": stamp}
        if in_finance and status != "cancelled":
            customer_no = customers[1] if len(customers) > 1 and r() < 0.2 else customers[0]
            inv = invoice_no(i, k)
            issue = min(day + int(r() * 3), NOW_DAY - 1)
            due = issue + co.terms_days
            tax = total * vat // 100
            gross = total + tax
            paid_day = None if r() < co.never_pays else max(issue, due + int(co.payer + rng.gauss(0, 6)))
            void = r() < 0.01
            if void:
                inv_status, paid_day, changed = "void", None, seconds_at(issue + 2, co, r())
            elif paid_day is not None and paid_day < NOW_DAY:
                inv_status, changed = "paid", seconds_at(paid_day, co, r())
            elif due < NOW_DAY:
                inv_status, paid_day, changed = "overdue", None, min((due + 1) * DAY + 3600, NOW - 1)
            else:
                inv_status, paid_day, changed = "open", None, seconds_at(issue, co, r())
            yield "finance", "invoices", {
                "invoice_no": inv, "customer_no": customer_no, "issue_date": day_text(issue),
                "due_date": day_text(due), "currency": currency, "net_amount": money(total), "tax_amount": money(tax),
                "total_amount": money(gross), "status": inv_status,
                "paid_date": day_text(paid_day) if paid_day is not None else None, "updated_at": ts_text(changed)}
            if inv_status == "paid" and paid_day is not None:
                parts = (gross,) if r() > 0.05 or gross < 200 else (gross * 6 // 10, gross - gross * 6 // 10)
                for n, amount in enumerate(parts):
                    pay_day = paid_day if n == len(parts) - 1 else max(issue, paid_day - 10 - int(r() * 20))
                    paid_at = seconds_at(pay_day, co, r())
                    if payments < PAYMENT_SLOTS:
                        yield "finance", "payments", {
                            "payment_id": payment_id(i, payments), "invoice_no": inv, "customer_no": customer_no,
                            "paid_at": ts_text(paid_at), "amount": money(amount), "currency": currency,
                            "method": methods[int(r() * len(methods))],
                            "updated_at": ts_text(min(paid_at + 600, NOW - 1))}
                    payments += 1
            credit = gross if status == "returned" else gross * (5 + int(r() * 25)) // 100 if r() < 0.02 else 0
            if credit and credits < CREDIT_SLOTS:
                issued = min(updated + DAY, NOW - 1)
                reason = "returned items" if status == "returned" else \
                    nm.CREDIT_REASONS[int(r() * len(nm.CREDIT_REASONS))]
                yield "finance", "credit_notes", {
                    "credit_note_no": credit_note_no(i, credits), "invoice_no": inv, "customer_no": customer_no,
                    "issued_at": ts_text(issued), "amount": money(credit), "currency": currency, "reason": reason,
                    "updated_at": ts_text(issued)}
                credits += 1
        k += 1
        day += max(1, int(rng.gammavariate(2.0, gap / 2)))
    yield from _broken(co, u, rng, accounts, customers, budget_per_order, currency)


def _broken(co: Company, u: Universe, rng: random.Random, accounts: list[str], customers: list[str],
            budget: float, currency: str) -> Iterator[Record]:
    r = rng.random
    i = co.index
    units = co.country.units_per_usd
    day = co.start_day + int(r() * max(1, co.end_day - co.start_day))
    amount = max(100, int(budget * units * 100 * rng.uniform(0.5, 1.5)))
    stamp = ts_text(seconds_at(day, co, r()))
    reason = co.broken.get("invoice")
    if reason and customers:
        net, tax = (-amount, -amount // 10) if reason == "negative amount" else (amount, amount // 10)
        yield "finance", "invoices", {
            "invoice_no": invoice_no(i, BROKEN_SLOT),
            "customer_no": u.missing_finance_customer_no(i) if reason == "customer_no does not exist"
            else customers[0],
            "issue_date": None if reason == "missing issue date" else day_text(day),
            "due_date": None if reason == "missing issue date" else day_text(day + co.terms_days),
            "currency": currency, "net_amount": money(net), "tax_amount": money(tax), "total_amount": money(net + tax),
            "status": "open", "paid_date": None, "updated_at": stamp}
    if co.broken.get("order") and accounts:
        yield "sales", "orders", {
            "id": order_id(i, BROKEN_SLOT), "number": order_number(i, BROKEN_SLOT),
            "account_id": u.missing_sales_account_id(i), "placed_at": stamp, "status": "delivered",
            "currency": currency, "total": money(amount), "cost": money(amount * 7 // 10), "channel": "web",
            "updated_at": stamp}


def _quotes(co: Company, u: Universe, rng: random.Random) -> Iterator[Record]:
    r = rng.random
    i = co.index
    count = 1 + int(r() * 3) if co.pattern == "prospect" else int(r() * (1.2 + math.log1p(co.size)))
    first = max(co.start_day, NOW_DAY - 540)
    last = co.end_day if co.pattern == "churning" else NOW_DAY
    units = co.country.units_per_usd
    for k in range(min(count, QUOTE_SLOTS)):
        day = first + int(r() * max(1, last - first))
        close = day + 20 + int(r() * 100)
        if close < NOW_DAY:
            stage, probability = QUOTE_STAGES[0] if r() < 0.45 else QUOTE_STAGES[1]
        else:
            stage, probability = QUOTE_STAGES[2 + int(r() * 3)]
        amount = int(MONTHLY_USD * co.size * rng.uniform(1, 6) * units * 100) // 100 * 100
        changed = min(day + int(r() * 30), NOW_DAY - 1)
        topic = nm.OPPORTUNITY_TOPICS[int(r() * len(nm.OPPORTUNITY_TOPICS))]
        yield "sales", "opportunities", {
            "id": quote_id(i, k), "account_id": u.sales_account_id(i, 0),
            "title": f"{topic} {year_of(close)}" if r() < 0.8 else f"{topic}  {year_of(close)} ",
            "stage": stage, "amount": money(amount), "currency": co.country.currency, "probability": probability,
            "expected_close": day_text(close), "updated_at": ts_text(seconds_at(changed, co, r()))}

