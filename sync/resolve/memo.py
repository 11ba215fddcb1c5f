"""Memoised per-value preparation: a normaliser or comparator ``prepare`` runs once per distinct value.

Person and customer fields repeat heavily (given names, surnames, suburbs, postcodes, birth
years: at 100k Febrl-like records most values were seen before), and preparing a value is a pure
function of that one value. A bounded LRU cache per function keeps the repeats from being
normalised again; memory stays flat however many records a run prepares.

Only text values (and lists of text or None, a multi-field value such as ``[given_name,
surname]``) are cached: their equality is their identity. Numbers are not, because ``1``,
``1.0`` and ``True`` are equal keys for a cache yet ``str`` of each differs. A list result is
handed out as a fresh copy, so a caller that changes it cannot change what the next record gets.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

VALUES = 1 << 12
"""Distinct values kept per function. Common values (given names, surnames, suburbs) stay cached;
near-unique ones (ids, birth dates) pass through. 65,536 a function cost 70 MiB of peak at 100k
persons for no measurable gain in CPU."""


def per_value(fn: Callable[[Any], Any], size: int = VALUES) -> Callable[[Any], Any]:
    """``fn`` with its results cached by value (see the module's note for which values)."""

    @lru_cache(maxsize=size)
    def text(value: str) -> Any:
        return fn(value)

    @lru_cache(maxsize=size)
    def several(values: tuple[str | None, ...]) -> Any:
        return fn(list(values))

    def run(value: Any) -> Any:
        if type(value) is str:
            out = text(value)
        elif type(value) is list and all(v is None or type(v) is str for v in value):
            out = several(tuple(value))
        else:
            return fn(value)
        return list(out) if type(out) is list else out

    return run


def column(fn: Callable[[Any], Any], values: list[Any]) -> list[Any]:
    """``fn`` (a :func:`per_value` function) of each value of a page's column: a text value met
    again in the page is looked up in a plain dict, without a call."""
    seen: dict[str, Any] = {}
    out = []
    for value in values:
        if type(value) is str:
            if value in seen:
                found = seen[value]
            else:
                found = seen[value] = fn(value)
            out.append(list(found) if type(found) is list else found)
        else:
            out.append(fn(value))
    return out
