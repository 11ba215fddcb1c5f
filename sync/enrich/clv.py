"""Customer lifetime value: a retention model on annual margin, in money (Decimal).

``CLV = m * r / (1 + d - r)`` — the value today of a margin ``m`` earned at the end of each
year for as long as the customer stays, when it stays each year with probability ``r`` and money
is discounted at rate ``d`` (Gupta & Lehmann, "Customers as Assets", 2003). ``m`` is the last
12 months' margin. ``r`` is the configured base retention times the chance the customer is
still active: 1 while its last order is at most ``alive_days`` old, falling on a straight line
to 0 at ``dead_days``, and 0 for a customer that never ordered or was terminated.

Why not BG/NBD + Gamma-Gamma: they need a maximum-likelihood fit over the population (an
optimiser and special functions, i.e. scipy) and several repeat purchases per customer to be
stable; B2B ledgers have few, large, irregular orders. This model is explainable line by line
in ``crm2 explain`` and every input is a configurable number. See docs/scoring.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sync.enrich.rules import ClvSpec
from sync.model import Contribution, Score

_CENT = Decimal("0.01")


def p_active(measures: Mapping[str, Any], spec: ClvSpec) -> Decimal:
    days = measures.get("days_since_last_order")
    if days is None or measures.get("terminated"):
        return Decimal(0)
    if days <= spec.alive_days:
        return Decimal(1)
    if days >= spec.dead_days:
        return Decimal(0)
    return Decimal(spec.dead_days - days) / Decimal(spec.dead_days - spec.alive_days)


def lifetime_value(measures: Mapping[str, Any], spec: ClvSpec) -> tuple[Decimal, Score]:
    margin = measures.get(spec.margin_measure)
    m = margin if isinstance(margin, Decimal) else Decimal(str(margin or 0))
    active = p_active(measures, spec)
    r = spec.retention * active
    value = (m * r / (1 + spec.discount_rate - r)).quantize(_CENT)
    reasons = [
        Contribution.model_construct(factor="annual_margin", value=f"{m:f}", contribution=float(m),
                                     note=spec.margin_measure),
        Contribution.model_construct(factor="p_active", value=float(active), contribution=float(active),
                                     note=f"last order {measures.get('days_since_last_order')} days ago; "
                                          f"1 up to {spec.alive_days}, 0 from {spec.dead_days}"),
        Contribution.model_construct(factor="retention", value=float(r), contribution=float(r),
                                     note=f"base {spec.retention} x p_active; discount rate {spec.discount_rate}"),
    ]
    trend = measures.get("margin_change_6m")
    if trend is not None:  # shown beside the margin (console, report); it does not enter the value
        reasons.append(Contribution.model_construct(factor="margin_trend", value=float(trend), contribution=0.0,
                                                    note="margin_change_6m: last 182 days against the 182 before"))
    return value, Score.model_construct(name="clv", value=f"{value:f}", band=None, reasons=reasons, computed_at=None)
