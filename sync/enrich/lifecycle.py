"""Lifecycle stage by ordered rules: terminated first, then the first rule whose condition holds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.enrich.rules import LifecycleSpec
from sync.model import Contribution, LifecycleStage, Score


def _inputs(names: tuple[str, ...], namespace: Mapping[str, Any]) -> list[Contribution]:
    return [Contribution.model_construct(factor=n, value=_shown(namespace.get(n)), contribution=0.0, note="input")
            for n in names]


def _shown(value: Any) -> float | str | None:
    if value is None or isinstance(value, str):
        return value
    return round(float(value), 4)


def lifecycle_stage(spec: LifecycleSpec, namespace: Mapping[str, Any]) -> tuple[LifecycleStage, Score]:
    # A deliberately ended relationship is a fact, not a pattern: no rule may override it.
    if namespace.get("terminated"):
        stage, reasons = LifecycleStage.TERMINATED, [Contribution.model_construct(
            factor="terminated", value="true", contribution=1.0, note="relationship ended; rules not applied")]
    else:
        for number, rule in enumerate(spec.rules, start=1):
            if rule.condition(namespace):
                stage = rule.stage
                reasons = [Contribution.model_construct(factor=f"rule {number}", value=rule.when, contribution=1.0,
                                                        note=f"first matching rule -> {rule.stage.value}"),
                           *_inputs(rule.condition.names, namespace)]
                break
        else:
            stage = spec.default
            reasons = [Contribution.model_construct(factor="default", value=spec.default.value, contribution=1.0,
                                                    note=f"none of {len(spec.rules)} rules matched")]
    return stage, Score.model_construct(name="lifecycle", value=stage.value, band=None, reasons=reasons,
                                        computed_at=None)
