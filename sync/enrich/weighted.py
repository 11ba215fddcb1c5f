"""Weighted 0-100 scores (satisfaction, loyalty, service quality, churn risk, health).

Each factor turns one measure into a fraction 0..1 on a straight ramp — 0 at ``zero_at``, 1 at
``full_at``, clamped — so "higher is better" and "lower is better" are the same rule written
the other way round. A factor's contribution is ``100 * weight * fraction / sum(weights)``,
rounded to cents of a point; the score is the sum of the rounded contributions, so the reasons
shown always add up to the score exactly. A factor whose measure has no data uses its
``when_missing`` fraction, or is left out (``skip``) with the remaining weights rescaled; a
score with every factor skipped is "n/a".
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sync.enrich.rules import Factor, WeightedScoreSpec
from sync.model import Contribution, Score

_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)


def ramp(value: float, factor: Factor) -> float:
    """The fraction 0..1 of ``value`` on the factor's ramp from zero_at to full_at."""
    fraction = (value - factor.zero_at) / (factor.full_at - factor.zero_at)
    return 0.0 if fraction <= 0 else 1.0 if fraction >= 1 else fraction


def _shown(value: Any) -> float | str | None:
    if value is None or isinstance(value, str):
        return value
    return round(float(value), 4)


def weighted_score(name: str, spec: WeightedScoreSpec, namespace: Mapping[str, Any]) -> Score:
    used: list[tuple[str, Factor, Any, float, str]] = []
    skipped: list[Contribution] = []
    for fname, factor in spec.factors.items():
        value = namespace.get(factor.measure)
        if value is None or isinstance(value, str):
            if factor.when_missing == "skip":
                skipped.append(Contribution.model_construct(
                    factor=fname, value=None, contribution=0.0, note=f"{factor.measure}: no data, left out"))
                continue
            fraction = float(factor.when_missing)
            note = f"{factor.measure}: no data, counted as {fraction:.0%}"
        else:
            fraction = ramp(float(value), factor)
            note = f"{factor.measure} = {_shown(value)}; 0 at {factor.zero_at:g}, full at {factor.full_at:g}"
        if factor.note:
            note = f"{factor.note}: {note}"
        used.append((fname, factor, value, fraction, note))
    if not used:
        return Score.model_construct(name=name, value="n/a", band="no_data", reasons=skipped, computed_at=None)
    total_weight = sum((f.weight for _, f, _, _, _ in used), Decimal(0))
    reasons: list[Contribution] = []
    score = Decimal(0)
    for fname, factor, value, fraction, note in used:
        part = (_HUNDRED * factor.weight * Decimal(fraction) / total_weight).quantize(_CENT)
        score += part
        reasons.append(Contribution.model_construct(factor=fname, value=_shown(value), contribution=float(part),
                                                    note=note))
    reasons.sort(key=lambda c: (-c.contribution, c.factor))
    value = float(score)
    return Score.model_construct(name=name, value=value, band=spec.band(value), reasons=reasons + skipped,
                                 computed_at=None)
