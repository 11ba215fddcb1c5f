"""Score a candidate pair: comparison levels, Fellegi–Sunter weights, rules, decision.

The total match weight is the sum of ``log2(m/u)`` of the level each comparison lands in
(``null`` when a side is empty, ``incomparable`` when the comparator says the two values
cannot be compared, e.g. a Chinese name against an English translation).
A deterministic rule, when one holds, decides regardless of the weight; otherwise the
weight against the entity's thresholds decides match / review / no_match. The result keeps
every comparison's level and weight so a link can always be explained.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sync.resolve.blocking import field_column, field_value
from sync.resolve.comparators import COMPARATORS
from sync.resolve.memo import column, per_value
from sync.resolve.spec import INCOMPARABLE, EntityRules

Features = list[Any]
"""A record's prepared values, one per comparison in the rules' order."""


@dataclass(frozen=True)
class PairScore:
    weight: float
    decision: str  # match | review | no_match
    rule: str  # the deterministic rule that decided, or "score"
    levels: tuple[tuple[str, str, float], ...]  # (comparison, level, weight)

    def probability(self, prior: float) -> float:
        logit = self.weight + math.log2(prior / (1 - prior))
        return 1 / (1 + 2 ** (-logit)) if logit > -60 else 0.0

    def details(self) -> dict[str, Any]:
        # compact rows (one pair row per link is stored): expanded by levels_from_details
        return {"levels": [[c, lv, round(w, 3)] for c, lv, w in self.levels]}


def levels_from_details(details: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The stored comparison levels of a pair as readable rows."""
    return [{"comparison": c, "level": lv, "weight": w} for c, lv, w in (details or {}).get("levels", [])]


PREPARE = {name: per_value(c.prepare) for name, c in COMPARATORS.items()}
"""Each comparator's ``prepare``, memoised per value (shared by every Scorer: it is pure)."""


class Scorer:
    """Prepared once per entity's rules; scores many pairs fast."""

    def __init__(self, rules: EntityRules) -> None:
        self.rules = rules
        # a field's value recurs across records (names, suburbs, postcodes): prepared once each
        self._prepare = [(c.field, PREPARE[c.comparator]) for c in rules.comparisons]
        self._compare = [COMPARATORS[c.comparator].similarity for c in rules.comparisons]
        self._levels = [[(lv.at_least if lv.at_least is not None else -1.0, lv.label, lv.match_weight)
                         for lv in c.levels] for c in rules.comparisons]
        self._names = [c.name for c in rules.comparisons]
        self._nulls = [c.null_weight for c in rules.comparisons]
        self._incomparable = [c.incomparable_weight for c in rules.comparisons]
        index = {name: i for i, name in enumerate(self._names)}
        self._rules = [(r.name, r.decision, [(index[c], frozenset(r.levels_for(c))) for c in r.when])
                       for r in rules.rules]

    def features(self, record: Mapping[str, Any]) -> Features:
        return [prep(field_value(record, field)) for field, prep in self._prepare]

    def features_many(self, records: Sequence[Mapping[str, Any]]) -> list[Features]:
        """:meth:`features` of a page of records, comparison by comparison over the page's columns."""
        columns = [column(prep, field_column(records, field if isinstance(field, str) else tuple(field)))
                   for field, prep in self._prepare]
        return [list(row) for row in zip(*columns, strict=True)] if columns else [[] for _ in records]

    def score(self, a: Sequence[Any], b: Sequence[Any]) -> PairScore:
        total = 0.0
        hit: list[tuple[str, str, float]] = []
        for i, compare in enumerate(self._compare):
            va, vb = a[i], b[i]
            if va is None or vb is None:
                hit.append((self._names[i], "null", self._nulls[i]))
                total += self._nulls[i]
                continue
            sim = compare(va, vb)
            if sim is None:
                hit.append((self._names[i], INCOMPARABLE, self._incomparable[i]))
                total += self._incomparable[i]
                continue
            for cut, label, weight in self._levels[i]:
                if sim >= cut:
                    hit.append((self._names[i], label, weight))
                    total += weight
                    break
            else:
                hit.append((self._names[i], "else", 0.0))
        for name, decision, conditions in self._rules:
            if all(hit[i][1] in labels for i, labels in conditions):
                return PairScore(total, decision, name, tuple(hit))
        rules = self.rules
        if total >= rules.threshold:
            decision = "match"
        elif rules.review_threshold is not None and total >= rules.review_threshold:
            decision = "review"
        else:
            decision = "no_match"
        return PairScore(total, decision, "score", tuple(hit))
