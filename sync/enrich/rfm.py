"""RFM: recency, frequency and monetary value as quintile scores 1-5 (5 is best).

A population step like tiering: pass one keeps three integers per buying customer, pass two
places each customer among the quintile boundaries. With the buyers' values sorted ascending,
boundary q (q = 1..4) is the value at position floor(q * n / 5); a customer's score is 1 plus
the number of boundaries its value reaches, so equal values always get equal scores. Recency is
days since the last order (fewer is better), frequency the orders of the last 365 days,
monetary their revenue. Customers that never ordered are not ranked and get "n/a".
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sync.enrich.units import Column, to_units
from sync.model import Contribution, Score

DIMENSIONS = ("recency", "frequency", "monetary")


def _units(measures: Mapping[str, Any]) -> tuple[int, int, int] | None:
    days = measures.get("days_since_last_order")
    if days is None:
        return None
    return (-int(days), int(measures.get("orders_12m") or 0), to_units(measures.get("revenue_12m")))


class RfmCollector:
    def __init__(self) -> None:
        self._columns = tuple(Column() for _ in DIMENSIONS)

    def add(self, measures: Mapping[str, Any]) -> None:
        values = _units(measures)
        if values is not None:
            for column, value in zip(self._columns, values, strict=True):
                column.append(value)

    def finish(self) -> RfmBoundaries:
        bounds: list[tuple[int, ...]] = []
        for column in self._columns:
            ordered, n = column.sorted(), len(column)
            bounds.append(tuple(ordered[q * n // 5] for q in range(1, 5)) if n else ())
        return RfmBoundaries(tuple(bounds), len(self._columns[0]))


def segment(r: int, f: int) -> str:
    """A coarse, conventional RFM segment from recency and frequency."""
    if r >= 4 and f >= 4:
        return "champions"
    if r >= 4 and f <= 1:
        return "new"
    if f >= 4:
        return "loyal"
    if r <= 2 and f >= 3:
        return "at_risk"
    if r <= 2:
        return "hibernating"
    return "regular"


@dataclass(frozen=True)
class RfmBoundaries:
    bounds: tuple[tuple[int, ...], ...]
    count: int

    def scores(self, measures: Mapping[str, Any]) -> tuple[int, int, int] | None:
        values = _units(measures)
        if values is None:
            return None
        r, f, m = (1 + bisect_right(b, v) for b, v in zip(self.bounds, values, strict=True))
        return r, f, m

    def assign(self, measures: Mapping[str, Any]) -> Score:
        scores = self.scores(measures)
        if scores is None:
            return Score.model_construct(name="rfm", value="n/a", band="no_orders", computed_at=None, reasons=[
                Contribution.model_construct(factor="orders", value=0.0, contribution=0.0, note="never ordered")])
        raw = (measures.get("days_since_last_order"), measures.get("orders_12m"), measures.get("revenue_12m"))
        reasons = [Contribution.model_construct(factor=dim, value=str(value), contribution=float(score),
                                                note=f"quintile score among {self.count} buyers")
                   for dim, value, score in zip(DIMENSIONS, raw, scores, strict=True)]
        return Score.model_construct(name="rfm", value="".join(map(str, scores)), band=segment(scores[0], scores[1]),
                                     reasons=reasons, computed_at=None)
