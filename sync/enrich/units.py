"""Exact fixed-point units for population passes: one machine word per customer.

Population steps (Pareto tiers, RFM quintiles) need every customer's value at once. Keeping
them as 64-bit integers of 1/10,000 of a unit in an ``array('q')`` costs 8 bytes a customer —
8 MB for a million — and compares and sums exactly, unlike floats.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal

SCALE = 10_000
_Q = Decimal(1)


def to_units(value: Decimal | int | float | None) -> int:
    """The value in 1/10,000ths, rounded half-even (None counts as 0)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value * SCALE
    dec = value if isinstance(value, Decimal) else Decimal(str(value))
    return int((dec * SCALE).quantize(_Q, rounding=ROUND_HALF_EVEN))


def from_units(units: int, scale: int = SCALE) -> Decimal:
    return Decimal(units) / Decimal(scale)


class Column:
    """An append-only column of integers: a compact array, widened to a list only on overflow."""

    def __init__(self) -> None:
        self._data: array[int] | list[int] = array("q")

    def append(self, value: int) -> None:
        try:
            self._data.append(value)
        except OverflowError:  # a value beyond 2**63 / 10,000: rare enough to pay for a list
            self._data = list(self._data)
            self._data.append(value)

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[int]:
        return iter(self._data)

    def sorted(self, reverse: bool = False) -> list[int]:
        return sorted(self._data, reverse=reverse)
