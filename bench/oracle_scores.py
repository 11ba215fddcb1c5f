"""An oracle for the score backtests: the generator's own process with each customer's hidden parameters.

No score can predict better than the process that made the data, knowing everything it knew at
the date. So the best possible churn ranking and forecast on generated data are measured by
re-running the generator's order process (synthetic/trade.py) forward from that date, many times
per customer (Monte Carlo, seeded), with the customer's true parameters:

- its rhythm (``gap``: order intervals are Gamma(2, gap/2) days, from its size), when its orders
  stop (a churning customer's ``end_day``), its spend per order (size, discount, the trend of
  its lifecycle pattern — growing, declining, seasonal, churning), whether it is in the finance
  ledger (revenue comes from invoices);
- every order placed before the date, cancelled ones included, with its invoice and credit notes
  even when those are issued after the date (the generator decided them when the order was placed);
- what the order process draws afterwards (intervals, amounts, cancellations, returns, voids,
  credit notes) stays random: the oracle knows the dice, not how they fall.

The only thing left is that randomness, so the oracle's figures are the ceiling for any score
(the Bayes ceiling; a score that also knew the random stream could reach AUC 1, which no
real-world model can). It lives in bench/ on purpose: it reads the generator's hidden truth, so
it is never part of crm2's scoring.

The per-order rules below mirror ``synthetic.trade._orders``; :func:`known_revenue` with every
order known reproduces the backtest's actual revenue exactly (tests/sync/test_oracle_scores.py),
which checks that the orders and documents are read back right.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from synthetic import names as nm
from synthetic.companies import Universe
from synthetic.ids import BROKEN_SLOT, ORDER_SLOTS, stream
from synthetic.trade import MONTHLY_USD, trade_records
from synthetic.values import DAY, EPOCH, HISTORY_DAYS, NOW, NOW_DAY, WINDOW_START_DAY

PATTERN_CODES = {"steady": 0, "growing": 1, "declining": 2, "seasonal": 3, "churning": 4, "new": 0, "prospect": 0}
PRODUCT_USD = np.array([usd for _sku, _name, usd in nm.PRODUCTS], dtype=float)
FAR = 10**9
"""An order day for the broken row: it is known from the start (the generator fixes it apart from the orders)."""


class _Tap(random.Random):
    """The trade stream, recording the order intervals it draws (the only gammavariate calls in trade)
    and the uniform that scales the first one, so every order's day — cancelled ones, which leave no
    invoice, included — can be read back."""

    def __init__(self, seed: int) -> None:
        self.gammas: list[float] = []
        self.first_scale: float | None = None
        self._depth = 0
        self._after_first = False
        super().__init__(seed)

    def random(self) -> float:
        value = super().random()
        if self._depth == 0 and self._after_first:
            self.first_scale, self._after_first = value, False
        return value

    def gammavariate(self, alpha: float, beta: float) -> float:
        self._depth += 1
        try:
            value = super().gammavariate(alpha, beta)
        finally:
            self._depth -= 1
        if not self.gammas:
            self._after_first = True
        self.gammas.append(value)
        return value


@dataclass
class Truth:
    """One customer as the generator knows it."""

    index: int
    pattern: str
    size: float
    gap: float
    start: int
    end: int
    in_finance: bool
    discount: float
    units: int
    vat: int
    utc_offset: int
    order_days: list[int]
    """Every order's day number, cancelled ones included, in order (k = position)."""
    docs: list[tuple[int, int, float, bool]] = field(default_factory=list)
    """(order day, day the document counts, US dollars, is_document): invoices that count as revenue
    (not void) and credit notes (negative, not documents) — tied to the day of the order behind them."""

    @property
    def budget_per_order(self) -> float:
        return MONTHLY_USD * self.size * self.gap / 30


def truths(customers: int, seed: int) -> list[Truth]:
    """The hidden truth of customers ``0 .. customers-1`` of the generator's (customers, seed) data set."""
    universe = Universe(customers, seed)
    out = []
    for i in range(customers):
        co = universe.company(i)
        tap = _Tap(0)
        tap.setstate(stream(seed, i, "trade").getstate())
        records = list(trade_records(co, universe, tap))
        gap = min(300.0, max(10.0, 200.0 / co.size ** 0.6))
        days: list[int] = []
        if tap.gammas:
            assert tap.first_scale is not None
            day = co.start_day + int(tap.gammas[0] * tap.first_scale)
            for g in tap.gammas[1:]:
                if not (day < co.end_day and len(days) < BROKEN_SLOT):
                    break
                days.append(day)
                day += max(1, int(g))
            if day < co.end_day and len(days) < BROKEN_SLOT:  # the loop ends on a draw past the end
                days.append(day)
        truth = Truth(index=i, pattern=co.pattern, size=co.size, gap=gap, start=co.start_day, end=co.end_day,
                      in_finance=co.finance_accounts > 0 and co.pattern != "prospect",
                      discount=_discount(seed, i) if co.pattern != "prospect" else 1.0,
                      units=co.country.units_per_usd, vat=co.country.vat_rate_pct,
                      utc_offset=co.place.utc_offset, order_days=days)
        for _system, obj, rec in records:
            if obj == "invoices" and rec["issue_date"] and not rec["total_amount"].startswith("-") \
                    and rec["status"] != "void":
                k = int(rec["invoice_no"][4:]) - i * ORDER_SLOTS
                issued = (date.fromisoformat(rec["issue_date"]) - EPOCH).days
                truth.docs.append((_order_day(days, k), issued, float(rec["total_amount"]) / truth.units, True))
            elif obj == "credit_notes":
                k = int(rec["invoice_no"][4:]) - i * ORDER_SLOTS
                issued = (date.fromisoformat(rec["issued_at"][:10]) - EPOCH).days
                truth.docs.append((_order_day(days, k), issued, -float(rec["amount"]) / truth.units, False))
        out.append(truth)
    return out


def _discount(seed: int, i: int) -> float:
    """The customer's price discount: the first draw of its trade stream (synthetic.trade._orders)."""
    return stream(seed, i, "trade").uniform(0.85, 1.05)


def _order_day(days: list[int], k: int) -> int:
    return -FAR if k == BROKEN_SLOT else days[k]


def day_number(d: date) -> int:
    return (d - EPOCH).days


def known_revenue(t: Truth, cut: int, first: int, last: int) -> tuple[float, bool]:
    """Revenue counted in days [first, last] from orders placed before day ``cut``, and whether one of
    those orders has a revenue document (not a credit note) in the window."""
    revenue, doc = 0.0, False
    for order_day, day, usd, is_doc in t.docs:
        if order_day < cut and first <= day <= last:
            revenue += usd
            doc = doc or is_doc
    return revenue, doc


# -- the order process, forward from a date ---------------------------------------------------


def _trend(pattern: np.ndarray, day: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    progress = (day - WINDOW_START_DAY) / HISTORY_DAYS
    churning = 1.2 - 0.7 * (day - start) / np.maximum(1, end - start)
    return np.select(
        [pattern == 1, pattern == 2, pattern == 3, pattern == 4],
        [0.5 + progress, 1.5 - progress, 1 + 0.6 * np.sin(2 * math.pi * day / 365.25), churning],
        default=1.0)


def _gamma_beyond(rng: np.random.Generator, theta: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Gamma(2, theta) conditioned on being at least ``t`` (>= 0): a Gamma(2) is two exponential phases;
    past t the first is still running with probability 1 / (1 + t/theta) (then Gamma(2) more), else
    the second is (then, memoryless, Exp(theta) more)."""
    still_first = rng.random(theta.shape) * (1 + t / theta) < 1
    rest = np.where(still_first, rng.gamma(2.0, theta), rng.exponential(theta))
    return t + rest


@dataclass
class Simulation:
    no_document: np.ndarray
    """(customers,) probability of no revenue document in the window."""
    revenue: np.ndarray | None
    """(customers, paths) revenue in the window per path (only when amounts were asked for)."""


def simulate(ts: Sequence[Truth], cut: int, first: int, last: int, paths: int, rng: np.random.Generator,
             amounts: bool) -> Simulation:
    """Run each customer's order process on from day ``cut`` (orders before it are known) ``paths`` times;
    count revenue documents (and, with ``amounts``, revenue) whose day falls in [first, last]."""
    n = len(ts)
    gap = np.array([t.gap for t in ts])
    theta = np.repeat((gap / 2)[:, None], paths, axis=1)
    start = np.array([t.start for t in ts], dtype=np.int64)
    end = np.array([t.end for t in ts], dtype=np.int64)
    past = [sum(d < cut for d in t.order_days) for t in ts]
    # the first order at or after the cut, given none was placed between the last one and the cut
    day = np.full((n, paths), FAR, dtype=np.int64)
    for c, t in enumerate(ts):
        if t.pattern == "prospect" or not t.in_finance:  # no invoice ever: nothing to count
            continue
        if past[c]:
            last_day = t.order_days[past[c] - 1]
            g = _gamma_beyond(rng, theta[c], np.full(paths, float(max(1, cut - last_day))))
            day[c] = last_day + np.maximum(1, g.astype(np.int64))
        else:  # no order yet: the first is start + Gamma x U; keep the draws that fall at or after the cut
            d = np.full(paths, -1, dtype=np.int64)
            for _ in range(200):
                todo = d < cut
                if not todo.any():
                    break
                m = int(todo.sum())
                d[todo] = t.start + (rng.gamma(2.0, t.gap / 2, m) * rng.random(m)).astype(np.int64)
            day[c] = np.maximum(d, cut)
    doc = np.zeros((n, paths), dtype=bool)
    revenue = np.zeros((n, paths)) if amounts else None
    in_finance = np.array([t.in_finance for t in ts])
    pattern = np.array([PATTERN_CODES[t.pattern] for t in ts])
    bpo = np.array([t.budget_per_order for t in ts])
    discount = np.array([t.discount for t in ts])
    units = np.array([t.units for t in ts], dtype=float)
    vat = np.array([t.vat for t in ts], dtype=np.int64)
    offset = np.array([t.utc_offset for t in ts], dtype=np.int64)
    count = np.repeat(np.array([len(t.order_days[:p]) for t, p in zip(ts, past, strict=True)])[:, None], paths, 1)
    while True:
        # an order matters while the generator still places it and it can reach the window
        alive = (day < end[:, None]) & (day <= last) & (count < BROKEN_SLOT)
        if not amounts:
            alive &= ~doc
        rows, cols = np.nonzero(alive)
        if rows.size == 0:
            break
        d = day[rows, cols]
        m = rows.size
        u = rng.random((m, 8))
        cancelled = u[:, 0] < 0.03
        issue = np.minimum(d + (u[:, 1] * 3).astype(np.int64), NOW_DAY - 1)
        void = u[:, 2] < 0.01
        counts = in_finance[rows] & ~cancelled & ~void & (issue >= first) & (issue <= last)
        doc[rows[counts], cols[counts]] = True
        if amounts and revenue is not None:
            _amounts(revenue, rows, cols, d, u, cancelled, issue, void, first, last, in_finance, pattern, bpo,
                     discount, units, vat, offset, start, end, rng)
        day[rows, cols] = d + np.maximum(1, rng.gamma(2.0, theta[rows, cols]).astype(np.int64))
        count[rows, cols] += 1
    return Simulation(no_document=1 - doc.mean(axis=1), revenue=revenue)


def _amounts(revenue: np.ndarray, rows: np.ndarray, cols: np.ndarray, d: np.ndarray, u: np.ndarray,
             cancelled: np.ndarray, issue: np.ndarray, void: np.ndarray, first: int, last: int,
             in_finance: np.ndarray, pattern: np.ndarray, bpo: np.ndarray, discount: np.ndarray,
             units: np.ndarray, vat: np.ndarray, offset: np.ndarray, start: np.ndarray, end: np.ndarray,
             rng: np.random.Generator) -> None:
    """Each order's invoice and credit note, drawn as synthetic.trade._orders draws them, into ``revenue``."""
    m = rows.size
    budget = bpo[rows] * _trend(pattern[rows], d, start[rows], end[rows]) * rng.lognormal(0.0, 0.35, m)
    x = u[:, 3]
    lines = np.where(x < 0.6, 1, np.where(x < 0.85, 2, np.where(x < 0.95, 3, 4)))
    disc = discount[rows]
    total = np.zeros(m, dtype=np.int64)
    products = rng.integers(0, len(PRODUCT_USD), (m, 4))
    for n in range(4):
        usd = PRODUCT_USD[products[:, n]]
        unit = (usd * 100 * units[rows] * disc).astype(np.int64)
        qty = np.minimum(100_000, np.maximum(1, np.round(budget / lines / (usd * disc)))).astype(np.int64)
        total += np.where(n < lines, qty * unit, 0)
    gross = total + total * vat[rows] // 100
    age = NOW_DAY - d
    returned = ~cancelled & (u[:, 0] < 0.045) & (age > 40)
    v = u[:, 4]
    placed = np.minimum(d * DAY + (8.5 * 3600 + u[:, 5] * 36000).astype(np.int64) - offset[rows] * 3600, NOW - 1)
    settle = np.where(returned, (20 + (v * 20).astype(np.int64)) * DAY,
                      np.where(age < 3, (v * 3600).astype(np.int64),
                               np.where(age < 10, (1 + (v * 2).astype(np.int64)) * DAY,
                                        (3 + (v * 7).astype(np.int64)) * DAY)))
    updated = np.minimum(placed + settle, NOW - 1)
    partial = u[:, 6] < 0.02
    credit = np.where(returned, gross, np.where(partial, gross * (5 + (u[:, 7] * 25).astype(np.int64)) // 100, 0))
    credit_day = np.minimum(updated + DAY, NOW - 1) // DAY
    ok = in_finance[rows] & ~cancelled
    invoiced = ok & ~void & (issue >= first) & (issue <= last)
    credited = ok & (credit > 0) & (credit_day >= first) & (credit_day <= last)
    amount = np.where(invoiced, gross, 0) - np.where(credited, credit, 0)
    np.add.at(revenue, (rows, cols), amount / 100 / units[rows])


# -- the figures --------------------------------------------------------------------------------


def churn_oracle(ts: Sequence[Truth], as_of: date, horizon: int, paths: int = 2000, seed: int = 0,
                 chunk: int = 500) -> np.ndarray:
    """Each customer's probability of no revenue document in [as_of, as_of + horizon)."""
    cut = day_number(as_of)
    out = np.zeros(len(ts))
    rng = np.random.default_rng([seed, cut, horizon])
    for lo in range(0, len(ts), chunk):
        part = ts[lo:lo + chunk]
        sim = simulate(part, cut, cut, cut + horizon - 1, paths, rng, amounts=False)
        for c, t in enumerate(part):
            out[lo + c] = 0.0 if known_revenue(t, cut, cut, cut + horizon - 1)[1] else sim.no_document[c]
    return out


def forecast_oracle(ts: Sequence[Truth], origin: date, days: int, paths: int = 1000, seed: int = 0,
                    chunk: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's expected (mean) and median revenue in [origin, origin + days)."""
    cut = day_number(origin)
    mean, median = np.zeros(len(ts)), np.zeros(len(ts))
    rng = np.random.default_rng([seed, cut, days])
    for lo in range(0, len(ts), chunk):
        part = ts[lo:lo + chunk]
        sim = simulate(part, cut, cut, cut + days - 1, paths, rng, amounts=True)
        assert sim.revenue is not None
        known = np.array([known_revenue(t, cut, cut, cut + days - 1)[0] for t in part])
        mean[lo:lo + len(part)] = known + sim.revenue.mean(axis=1)
        median[lo:lo + len(part)] = known + np.median(sim.revenue, axis=1)
    return mean, median


def wape(forecast: Iterable[float], actual: Sequence[float]) -> tuple[float, float]:
    """(WAPE, total error) as bench_scores' forecast table computes them."""
    f = list(forecast)
    total = sum(actual)
    return (sum(abs(x - a) for x, a in zip(f, actual, strict=True)) / total, (sum(f) - total) / total)
