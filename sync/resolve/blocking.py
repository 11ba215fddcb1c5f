"""Blocking keys: which records are worth comparing at all.

Each rule turns a record into zero or more key strings (a list-valued normaliser, such as
name tokens, yields one key per value). Two records are candidates when they share any key,
so the number of pairs grows with block sizes, not with the square of the record count.
Keys are prefixed with the rule name so different rules never collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import product
from typing import Any

from sync.resolve.memo import column, per_value
from sync.resolve.normalize import NORMALIZERS
from sync.resolve.spec import BlockingRule


def field_value(record: Mapping[str, Any], path: str | Sequence[str]) -> Any:
    """A possibly dotted field (``address.city``) of a record; None when any step is missing.

    Several fields (``[first_name, last_name]``) give the list of their values, or None when
    all are empty: a person's name is compared whole, whichever field holds which part.
    """
    if not isinstance(path, str):
        values = [field_value(record, p) for p in path]
        return values if any(v not in (None, "") for v in values) else None
    if "." not in path:  # the common case, without splitting the path for every record
        return record.get(path) if isinstance(record, Mapping) else None
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _part_values(normalize: Callable[[Any], Any]) -> Callable[[Any], tuple[str, ...]]:
    def values(raw: Any) -> tuple[str, ...]:
        value = normalize(raw)
        return tuple(str(v) for v in (value if isinstance(value, list) else [value]) if v)
    return values


# a key part's strings from one raw value: the same value (a surname, a birth date, a postcode)
# recurs across many records and is normalised once
PART_VALUES = {name: per_value(_part_values(fn)) for name, fn in NORMALIZERS.items()}


def keys_for(record: Mapping[str, Any], rules: Iterable[BlockingRule]) -> list[str]:
    keys: set[str] = set()
    for rule in rules:
        parts: list[tuple[str, ...]] = []
        for part in rule.key:
            values = PART_VALUES[part.normalize](field_value(record, part.field))
            if not values:
                break
            parts.append(values)
        else:
            keys.update(f"{rule.name}:" + "|".join(combo) for combo in product(*parts))
    return sorted(keys)


def keys_for_many(records: Sequence[Mapping[str, Any]], rules: Sequence[BlockingRule]) -> list[list[str]]:
    """:func:`keys_for` of a page of records, the same keys in the same order, column by column.

    Each distinct ``field | normaliser`` part (the febrl rules have 16 parts but 11 distinct
    ones) is read and normalised once per record for the whole page, and each distinct value
    once (through the per-value memo); a record's keys are then joined from those columns.
    Per record and part that leaves a list index and a string join instead of a field look-up,
    a normaliser call and a product: at 100k person records this was most of preparation.
    """
    distinct: dict[tuple[str | tuple[str, ...], str], int] = {}
    plan: list[tuple[str, list[int]]] = []
    for rule in rules:
        at = []
        for part in rule.key:
            field = part.field if isinstance(part.field, str) else tuple(part.field)
            at.append(distinct.setdefault((field, part.normalize), len(distinct)))
        plan.append((f"{rule.name}:", at))
    columns: list[list[tuple[str, ...]]] = []
    for field, normalize in distinct:
        columns.append(column(PART_VALUES[normalize], field_column(records, field)))
    found: list[set[str]] = [set() for _ in records]
    for prefix, at in plan:  # rule by rule, over the page's columns
        if len(at) == 1:
            for keys, values in zip(found, columns[at[0]], strict=True):
                keys.update(prefix + v for v in values)
            continue
        for keys, parts in zip(found, zip(*(columns[i] for i in at), strict=True), strict=True):
            if all(parts):
                keys.update(prefix + "|".join(combo) for combo in product(*parts))
    return [sorted(keys) for keys in found]

def field_column(records: Sequence[Mapping[str, Any]], field: str | tuple[str, ...]) -> list[Any]:
    """``field_value`` of every record; plain (undotted) fields read with one ``get`` each."""
    if isinstance(field, str):
        if "." in field:
            return [field_value(record, field) for record in records]
        return [record.get(field) if isinstance(record, dict) else field_value(record, field) for record in records]
    if any("." in f for f in field) or not all(isinstance(r, dict) for r in records):
        return [field_value(record, list(field)) for record in records]
    out = []
    for record in records:
        several = [record.get(f) for f in field]
        out.append(several if any(v not in (None, "") for v in several) else None)
    return out
