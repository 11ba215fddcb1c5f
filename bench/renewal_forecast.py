"""A forecast from each customer's order rhythm, estimated from its history alone.

The oracle (bench/oracle_scores.py) shows the forecast ceiling is 24-27 points of WAPE below naive;
this asks how much of that a model that reads only what a store holds can take. It forecasts
revenue in the period after ``origin`` as

    P(still buying) x expected orders in the period if so x the customer's mean order value

- orders come in a renewal process with Gamma-distributed intervals: the shape is pooled over
  customers with many orders, the mean is the customer's own mean interval shrunk towards a
  population prior (a regression of log mean interval on log mean order value, since big
  customers order often);
- the next order is at least the days since the last one away (the interval is conditioned on
  the silence so far), so a customer just after an order is forecast less than one who is due;
- customers stop buying at a constant hazard ``lam`` per day (chosen per origin on the two periods
  before it: the least absolute error among the hazards whose totals were within 5%); P(still
  buying) is Bayes' rule on the silence: either still buying and not due yet, or stopped at some
  point since the last order;
- the value per order is the mean of the last 182 days when they hold two orders or more, else
  of the last 365, else of the history (net of credit notes): it follows a trend.

Everything is read before ``origin`` (revenue_events cut there), so it is a real model, not an
oracle. It is a bench measurement, not crm2's forecast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

import numpy as np
from scipy import stats

from sync.enrich.activity import CustomerActivity
from sync.enrich.measures import revenue_events
from sync.enrich.rules import ScoringRules

LAMBDAS = (1 / 8000, 1 / 4000, 1 / 2000, 1 / 1000, 1 / 600, 1 / 400, 1 / 250)
"""Stopping hazards per day the validation chooses from (none is 0: nobody stopping ever forecasts the
long-silent customers who left as due any day now, 8-20% over on totals and 10+ points of WAPE)."""
RECENT_DAYS = 182
"""Order value is the mean of this many days when they hold two orders or more, else of the last 365."""
TOTALS_WITHIN = 0.05
MIN_INTERVALS = 5
"""Customers with at least this many intervals set the pooled shape and the prior."""


@dataclass
class History:
    intervals: list[int]
    silence: int
    """Days since the last revenue document."""
    value: float
    """Mean revenue per document (last 365 days net of credit notes, else the whole history)."""


def history(activity: CustomerActivity, rules: ScoringRules, origin: date) -> History | None:
    events = revenue_events(activity, rules.revenue, origin)
    days = sorted({ago for ago, _a, _m, is_doc in events if is_doc}, reverse=True)
    if not days:
        return None
    value = 0.0
    for window in (RECENT_DAYS, 365, 10**6):  # the most recent window with enough orders: follows a trend
        part = [e for e in events if e[0] <= window]
        docs = sum(1 for e in part if e[3])
        if docs >= 2 or window == 10**6:
            value = float(sum(e[1] for e in part)) / max(1, docs)
            break
    return History(intervals=[a - b for a, b in pairwise(days)], silence=days[-1],
                   value=max(0.0, value))


def _fit_population(hs: Sequence[History | None]) -> tuple[float, np.ndarray]:
    """(Gamma shape, [slope, intercept] of log mean interval on log order value)."""
    rich = [h for h in hs if h is not None and len(h.intervals) >= MIN_INTERVALS and h.value > 0]
    if len(rich) < 20:
        return 2.0, np.array([0.0, np.log(90.0)])
    normalised = np.concatenate([np.array(h.intervals) / np.mean(h.intervals) for h in rich])
    shape = float(np.clip(1 / np.var(normalised), 0.5, 10.0))
    x = np.log([h.value for h in rich])
    y = np.log([np.mean(h.intervals) for h in rich])
    return shape, np.polyfit(x, y, 1)


def _components(hs: Sequence[History | None], days: int, paths: int, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per customer and per hazard in :data:`LAMBDAS`: P(still buying), expected orders in the period
    if so (each discounted by the chance of stopping before it), and the value per order."""
    shape, prior = _fit_population(hs)
    n, nl = len(hs), len(LAMBDAS)
    lams = np.array(LAMBDAS)
    alive = np.zeros((n, nl))
    orders = np.zeros((n, nl))
    value = np.zeros(n)
    for i, h in enumerate(hs):
        if h is None or h.value <= 0:
            continue
        value[i] = h.value
        g0 = float(np.exp(np.polyval(prior, np.log(h.value))))
        gap = (sum(h.intervals) + g0) / (len(h.intervals) + 1)
        theta = max(1.0, gap) / shape
        s = h.silence
        u = np.arange(s + 1, dtype=float)
        sf = stats.gamma.sf(u, shape, scale=theta)
        # alive and not due yet, against stopped at some day since the last order and not ordered before
        a = np.exp(-lams * s) * sf[-1]
        b = np.array([np.trapezoid(lam * np.exp(-lam * u) * sf, u) if lam else 0.0 for lam in LAMBDAS])
        alive[i] = np.where(a + b > 0, a / np.maximum(a + b, 1e-300), 0.0)
        if sf[-1] <= 0:
            continue
        # the next order, given none in the silence so far, then the following ones
        t = stats.gamma.isf(rng.random(paths) * sf[-1], shape, scale=theta) - s
        total = np.zeros(nl)
        live = t < days
        while live.any():
            total += np.exp(-np.outer(lams, t[live])).sum(axis=1)
            t[live] += rng.gamma(shape, theta, int(live.sum()))
            live &= t < days
        orders[i] = total / paths
    return alive, orders, value


def renewal_forecast(customers: Sequence[CustomerActivity], rules: ScoringRules, origin: date,
                     validation_periods: int = 2, paths: int = 300, seed: int = 0) -> tuple[list[float], float]:
    """Each customer's forecast revenue in the ``period_days`` after ``origin``, and the hazard chosen."""
    from sync.enrich.backtest import actual_revenue

    days = rules.forecast.period_days
    rng = np.random.default_rng([seed, origin.toordinal()])
    errors = np.zeros(len(LAMBDAS))
    totals = np.zeros(len(LAMBDAS))
    actual_total = 0.0
    for k in range(validation_periods, 0, -1):
        start = origin - timedelta(days=days * k)
        alive, orders, value = _components([history(c, rules, start) for c in customers], days, paths, rng)
        actual = np.array(actual_revenue(customers, rules, start))
        forecast = alive * orders * value[:, None]
        errors += np.abs(forecast - actual[:, None]).sum(axis=0)
        totals += forecast.sum(axis=0)
        actual_total += float(actual.sum())
    # the least absolute error among the hazards whose totals were within 5% (the bar), else the
    # hazard with the closest totals: the least absolute error alone under-forecasts totals by 10-20%
    within = np.abs(totals - actual_total) <= TOTALS_WITHIN * actual_total
    best = int(np.argmin(np.where(within, errors, np.inf))) if within.any() else \
        int(np.argmin(np.abs(totals - actual_total)))
    alive, orders, value = _components([history(c, rules, origin) for c in customers], days, paths, rng)
    return list(alive[:, best] * orders[:, best] * value), LAMBDAS[best]
