"""Next-period revenue forecast per customer: simple exponential smoothing over past periods.

Revenue is bucketed into periods of ``period_days`` ending at ``as_of`` (the last ``periods``
of them). Starting from the customer's first period with history, the level is smoothed
``level = alpha * period + (1 - alpha) * level`` and the forecast for the next period is the
final level, never below zero, and zero for a terminated customer. Unrolled, that is a weighted
sum of the periods (the newest weighs ``alpha``), and those weights are the forecast's reasons,
so they add up to it. A steady customer is forecast exactly at its steady revenue. The
benchmark (bench/bench_enrich.py) backtests it against the naive last-period forecast.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sync.enrich.rules import ForecastSpec
from sync.model import Contribution, Score

_CENT = Decimal("0.01")
ZERO = Decimal(0)


def period_revenue(events: Sequence[tuple[int, Decimal, Decimal, bool]], spec: ForecastSpec) -> list[Decimal]:
    """Revenue per period, oldest first, from the customer's first period with any document."""
    buckets = [ZERO] * spec.periods
    oldest = -1
    for ago, amount, _margin, is_doc in events:
        k = (ago - 1) // spec.period_days
        if k < spec.periods:
            buckets[k] += amount
            if is_doc:
                oldest = max(oldest, k)
        elif is_doc:
            oldest = spec.periods - 1
    return buckets[oldest::-1] if oldest >= 0 else []


def smoothing_weights(n: int, alpha: Decimal) -> list[Decimal]:
    """Weight of each of ``n`` periods (oldest first) in the smoothed level."""
    if n == 0:
        return []
    keep = 1 - alpha
    weights, factor = [], Decimal(1)
    for _ in range(n - 1):  # newest first: alpha, alpha*keep, ...; built by hand since 0**0 is undefined in Decimal
        weights.append(alpha * factor)
        factor *= keep
    weights.append(factor)  # the oldest period seeds the level and keeps what is left
    return weights[::-1]


def forecast_revenue(events: Sequence[tuple[int, Decimal, Decimal, bool]], spec: ForecastSpec,
                     terminated: bool = False) -> tuple[Decimal, Score]:
    series = [] if terminated else period_revenue(events, spec)
    weights = smoothing_weights(len(series), spec.alpha)
    level = sum((w * v for w, v in zip(weights, series, strict=True)), ZERO)
    value = max(ZERO, level).quantize(_CENT)
    reasons = [Contribution.model_construct(
        factor=f"period -{len(series) - i}", value=f"{v:f}", contribution=float((w * v).quantize(_CENT)),
        note=f"weight {w.normalize():f}; days {(len(series) - 1 - i) * spec.period_days + 1}-"
             f"{(len(series) - i) * spec.period_days} before as_of")
        for i, (w, v) in enumerate(zip(weights, series, strict=True))]
    if terminated:
        reasons = [Contribution.model_construct(factor="terminated", value="true", contribution=0.0,
                                                note="no revenue expected")]
    elif not series:
        reasons = [Contribution.model_construct(factor="history", value=None, contribution=0.0,
                                                note="no orders: nothing to extrapolate")]
    reasons.reverse()  # newest period first, as people read it
    return value, Score.model_construct(name="forecast", value=f"{value:f}", band=f"next {spec.period_days} days",
                                        reasons=reasons, computed_at=None)
