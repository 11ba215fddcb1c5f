"""Survivorship: which source value each golden field takes, and from which record.

Rules per field: source priority, most recent, most complete, max, min, most frequent.
Every rule breaks ties the same way (source priority, then most recent, then lowest source
reference), so the golden record does not depend on the order records arrive in.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sync.resolve.spec import FieldRule, Survivorship


@dataclass(frozen=True)
class Member:
    ref: str  # "system/object/id"
    system: str
    data: Mapping[str, Any]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _completeness(value: Any) -> int:
    if isinstance(value, Mapping):
        return sum(_completeness(v) for v in value.values() if not _empty(v))
    return len(str(value))


def _rank(system: str, sources: Sequence[str] | None) -> int:
    if sources and system in sources:
        return sources.index(system)
    return len(sources or ())


def _recency(member: Member, rule: FieldRule) -> str:
    value = member.data.get(rule.recency_field)
    return "" if value is None else str(value)


def tie_order(members: Sequence[Member], rule: FieldRule, default_sources: Sequence[str] | None) -> list[Member]:
    """Members in tie-break order, built with stable sorts: priority, then most recent, then lowest ref."""
    sources = rule.sources or default_sources
    ordered = sorted(members, key=lambda m: m.ref)
    ordered.sort(key=lambda m: _recency(m, rule), reverse=True)
    ordered.sort(key=lambda m: _rank(m.system, sources))
    return ordered


def pick(field_name: str, members: Sequence[Member], rule: FieldRule,
         default_sources: Sequence[str] | None, ordered_members: Sequence[Member] | None = None,
         ) -> tuple[Any, Member] | None:
    """The value of ``field_name`` the rule keeps, and its record. ``ordered_members``: the members
    already in :func:`tie_order` for this rule (the subset with a value keeps that order, as the
    stable sorts would give it)."""
    if ordered_members is None:
        ordered_members = tie_order(members, rule, default_sources)
    ordered = [m for m in ordered_members if not _empty(m.data.get(field_name))]
    if not ordered:
        return None
    if rule.rule == "source_priority":
        best = ordered[0]
    elif rule.rule == "most_recent":
        best = sorted(ordered, key=lambda m: _recency(m, rule), reverse=True)[0]
    elif rule.rule == "most_complete":
        best = min(ordered, key=lambda m: -_completeness(m.data[field_name]))
    elif rule.rule in ("max", "min"):
        try:
            keyed: list[tuple[Any, Member]] = [(float(m.data[field_name]), m) for m in ordered]
        except (TypeError, ValueError):  # not numbers: compare as text (ISO dates sort right)
            keyed = [(str(m.data[field_name]), m) for m in ordered]
        target = max(k for k, _ in keyed) if rule.rule == "max" else min(k for k, _ in keyed)
        best = next(m for k, m in keyed if k == target)
    else:  # most_frequent
        def canon(m: Member) -> Any:
            value = m.data[field_name]
            return value if isinstance(value, str | int | float | bool) else json.dumps(
                value, sort_keys=True, default=str)
        keyed_values = [(canon(m), m) for m in ordered]  # each member's value made comparable once
        counts = Counter(k for k, _ in keyed_values)
        best = min(keyed_values, key=lambda km: -counts[km[0]])[1]
    return best.data[field_name], best


def survive(members: Sequence[Member], spec: Survivorship) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """The golden fields and, per field, the source record and rule it came from."""
    names = sorted({k for m in members for k in m.data} - set(spec.ignore))
    fields: dict[str, Any] = {}
    lineage: dict[str, dict[str, str]] = {}
    # most fields share one rule's tie-break order: sorted once per cluster, not once per field
    orders: dict[tuple[tuple[str, ...] | None, str], list[Member]] = {}
    for name in names:
        rule = spec.for_field(name)
        if len(members) == 1 and rule.rule not in ("max", "min"):  # a lone record's value, whatever the rule
            value = members[0].data.get(name)
            if not _empty(value):
                fields[name] = value
                lineage[name] = {"source": members[0].ref, "rule": rule.rule}
            continue
        sources = rule.sources or spec.default.sources
        at = (tuple(sources) if sources else None, rule.recency_field)
        if at not in orders:
            orders[at] = tie_order(members, rule, spec.default.sources)
        chosen = pick(name, members, rule, spec.default.sources, orders[at])
        if chosen is None:
            continue
        value, member = chosen
        fields[name] = value
        lineage[name] = {"source": member.ref, "rule": rule.rule}
    return fields, lineage
