"""Tier A / B / C: a population step over one measure (or a weighted mix of several).

Pass one (:class:`TierCollector`) keeps only one integer per customer (see :mod:`units`) and
finishes into :class:`TierCutoffs`: the smallest value that is still A and still B. Pass two
(:meth:`TierCutoffs.assign`) compares each customer's value with those, so tiers for a million
customers need no per-customer state between the passes.

Pareto rule, walking customers from the highest value down: a customer is A while the value of
everyone *before* it is below the A share of the total (so the customer that crosses the line
is still A and a single customer is A), B while it is below A + B, C after. Customers with equal
values are one group and share a tier, so row order never matters. Values of zero or less are
always C and add nothing to the total.

The weighted mix scores each customer by ``sum(weight * value / population total)`` per
measure, in percent; negative values (a loss-making margin) count as zero there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sync.enrich.rules import TierSpec
from sync.enrich.units import SCALE, Column, from_units, to_units
from sync.model import Contribution, Score, Tier

_SHARE = 10**12  # precision of one component's share of its population total
WEIGHTED_SCALE = SCALE * _SHARE // 100  # weighted points per percent


def _weighted_points(components: Mapping[str, int], weights: Mapping[str, int], totals: Mapping[str, int]) -> int:
    points = 0
    for name, units in components.items():
        total = totals.get(name, 0)
        if total > 0 and units > 0:
            points += weights[name] * units * _SHARE // total
    return points


class TierCollector:
    """Pass one: remember each customer's tier value as one integer (per measure if weighted)."""

    def __init__(self, spec: TierSpec) -> None:
        self.spec = spec
        self.weighted = spec.measure == "weighted"
        self._columns: dict[str, Column] = {name: Column() for name in spec.weighted} if self.weighted else {}
        self._values = Column()

    def add(self, measures: Mapping[str, Any]) -> None:
        if self.weighted:
            for name, column in self._columns.items():
                column.append(max(0, to_units(measures.get(name))))
        else:
            self._values.append(to_units(measures.get(self.spec.measure)))

    def finish(self) -> TierCutoffs:
        weights = {name: to_units(w) for name, w in self.spec.weighted.items()}
        totals: dict[str, int] = {}
        if self.weighted:
            totals = {name: sum(col) for name, col in self._columns.items()}
            names = list(self._columns)
            values = Column()
            for row in zip(*(self._columns[n] for n in names), strict=True):
                values.append(_weighted_points(dict(zip(names, row, strict=True)), weights, totals))
        else:
            values = self._values
        cut = TierCutoffs(spec=self.spec, weights=weights, totals=totals, count=len(values))
        if self.spec.method == "thresholds":
            return cut
        ordered = values.sorted(reverse=True)
        total = sum(v for v in ordered if v > 0)
        cut.total = total
        a_line, b_line = self.spec.pareto.A * total, (self.spec.pareto.A + self.spec.pareto.B) * total
        before, i, n = 0, 0, len(ordered)
        while i < n and ordered[i] > 0:
            value, j = ordered[i], i
            while j < n and ordered[j] == value:
                j += 1
            if before < a_line:
                cut.a_min = value
            elif before < b_line:
                cut.b_min = value
            else:
                break
            before += value * (j - i)
            i = j
        return cut


@dataclass
class TierCutoffs:
    """What pass two needs: cut-off values (in units) and, for the weighted mix, totals."""

    spec: TierSpec
    weights: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    count: int = 0
    total: int = 0
    a_min: int | None = None
    b_min: int | None = None

    @property
    def scale(self) -> int:
        return WEIGHTED_SCALE if self.spec.measure == "weighted" else SCALE

    def value_units(self, measures: Mapping[str, Any]) -> int:
        if self.spec.measure == "weighted":
            components = {name: max(0, to_units(measures.get(name))) for name in self.spec.weighted}
            return _weighted_points(components, self.weights, self.totals)
        return to_units(measures.get(self.spec.measure))

    def tier_of(self, units: int) -> Tier:
        if self.spec.method == "thresholds":
            assert self.spec.thresholds is not None  # enforced by TierSpec
            a, b = (int(t * self.scale) for t in (self.spec.thresholds.A, self.spec.thresholds.B))
            return Tier.A if units >= a else Tier.B if units >= b else Tier.C
        if units > 0 and self.a_min is not None and units >= self.a_min:
            return Tier.A
        if units > 0 and self.b_min is not None and units >= self.b_min:
            return Tier.B
        return Tier.C

    def _show(self, units: int | None) -> str:
        return "none" if units is None else f"{from_units(units, self.scale).normalize():f}"

    def assign(self, measures: Mapping[str, Any]) -> Score:
        """The customer's tier, with the value, cut-offs and (weighted) component shares."""
        units = self.value_units(measures)
        tier = self.tier_of(units)
        spec = self.spec
        if spec.method == "thresholds":
            assert spec.thresholds is not None
            rule = f"thresholds: A from {spec.thresholds.A}, B from {spec.thresholds.B}"
        else:
            rule = (f"pareto: A = top {spec.pareto.A * 100:.0f}% of total {self._show(self.total)}"
                    f" (from {self._show(self.a_min)}), B = next {spec.pareto.B * 100:.0f}%"
                    f" (from {self._show(self.b_min)})")
        reasons: list[Contribution] = []
        if spec.measure == "weighted":
            for name, weight in spec.weighted.items():
                part = _weighted_points({name: max(0, to_units(measures.get(name)))}, self.weights, self.totals)
                reasons.append(Contribution.model_construct(
                    factor=name, value=_plain(measures.get(name)),
                    contribution=float(from_units(part, WEIGHTED_SCALE)),
                    note=f"weight {weight} x share of population total"))
            reasons.append(Contribution.model_construct(
                factor="weighted", value=self._show(units), contribution=float(from_units(units, WEIGHTED_SCALE)),
                note=rule))
        else:
            share = float(Decimal(units) * 100 / self.total) if self.total and units > 0 else 0.0
            reasons.append(Contribution.model_construct(
                factor=spec.measure, value=_plain(measures.get(spec.measure)), contribution=share,
                note=f"{share:.2f}% of the total; {rule}"))
        return Score.model_construct(name="tier", value=tier.value, band=None, reasons=reasons, computed_at=None)


def _plain(value: Any) -> float | str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return f"{value:f}"
    return float(value)
