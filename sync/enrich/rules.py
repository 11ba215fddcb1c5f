"""The scoring rules as validated models: what config/scoring.yml may say, with its defaults.

Every default here is also written out in config/scoring.yml (a test keeps the two equal), so
a data team reads the whole behaviour in one file and the code never depends on it existing.
Cross-references between sections (measure names, which score may use which) are checked by
:func:`sync.enrich.config.load_rules`, which knows where in the file each name sits.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from sync.enrich.expressions import Condition, ExpressionError, compile_condition
from sync.model import LifecycleStage

Share = Annotated[Decimal, Field(ge=0, le=1)]


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RevenueSpec(Spec):
    """Where revenue and margin come from."""

    source: Literal["orders", "invoices"] = "orders"
    net_of_credit_notes: bool = True
    default_margin: Share = Decimal("0.30")
    excluded_statuses: list[str] = Field(default_factory=lambda: ["cancelled", "canceled", "void", "draft"])
    rates: dict[str, Decimal] = Field(default_factory=dict,
                                      description="currency -> multiplier into the base currency")

    @field_validator("excluded_statuses")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v.lower() for v in value]


class ParetoSpec(Spec):
    A: Share = Decimal("0.80")
    B: Share = Decimal("0.15")

    @model_validator(mode="after")
    def _fits(self) -> ParetoSpec:
        if self.A + self.B > 1:
            raise PydanticCustomError("pareto_shares", "shares A + B must not exceed 1 (the rest is C)")
        return self


class ThresholdSpec(Spec):
    A: Decimal
    B: Decimal

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdSpec:
        if self.B > self.A:
            raise PydanticCustomError("thresholds_order", "thresholds: B must not be above A")
        return self


class TierSpec(Spec):
    measure: str = "revenue_12m"
    weighted: dict[str, Annotated[Decimal, Field(gt=0)]] = Field(default_factory=lambda: {
        "revenue_12m": Decimal("0.4"), "orders_12m": Decimal("0.3"), "margin_12m": Decimal("0.3")})
    method: Literal["pareto", "thresholds"] = "pareto"
    pareto: ParetoSpec = Field(default_factory=ParetoSpec)
    thresholds: ThresholdSpec | None = None

    @model_validator(mode="after")
    def _thresholds_given(self) -> TierSpec:
        if self.method == "thresholds" and self.thresholds is None:
            raise PydanticCustomError("thresholds_missing",
                                      "method 'thresholds' needs 'thresholds: {A: ..., B: ...}'")
        return self


class ClvSpec(Spec):
    margin_measure: str = "margin_12m"
    retention: Annotated[Decimal, Field(gt=0, lt=1)] = Decimal("0.80")
    discount_rate: Annotated[Decimal, Field(ge=0, le=1)] = Decimal("0.10")
    alive_days: Annotated[int, Field(ge=0)] = 120
    dead_days: Annotated[int, Field(gt=0)] = 365

    @model_validator(mode="after")
    def _ordered(self) -> ClvSpec:
        if self.dead_days <= self.alive_days:
            raise PydanticCustomError("clv_days", "dead_days must be greater than alive_days")
        return self


class Factor(Spec):
    """One weighted input: points rise linearly from 0 at ``zero_at`` to full at ``full_at``."""

    measure: str
    weight: Annotated[Decimal, Field(gt=0)]
    zero_at: float
    full_at: float
    when_missing: Annotated[float, Field(ge=0, le=1)] | Literal["skip"] = 0.0
    note: str | None = None

    @model_validator(mode="after")
    def _ramp(self) -> Factor:
        if self.zero_at == self.full_at:
            raise PydanticCustomError("factor_ramp", "zero_at and full_at must differ")
        return self


class WeightedScoreSpec(Spec):
    """A 0-100 score: the weighted sum of its factors' ramps, and named bands by minimum value."""

    factors: dict[str, Factor] = Field(min_length=1)
    bands: dict[str, float] = Field(default_factory=dict)

    def band(self, value: float) -> str | None:
        for name, minimum in sorted(self.bands.items(), key=lambda kv: -kv[1]):
            if value >= minimum:
                return name
        return None


class LifecycleRule(Spec):
    stage: LifecycleStage
    when: str

    @field_validator("when", mode="before")
    @classmethod
    def _parses(cls, value: object) -> str:
        text = ("True" if value else "False") if isinstance(value, bool) else str(value)
        try:
            compile_condition(text)
        except ExpressionError as exc:
            raise PydanticCustomError("condition", str(exc)) from None
        return text

    @property
    def condition(self) -> Condition:
        return _compiled(self.when)


@lru_cache(maxsize=256)
def _compiled(text: str) -> Condition:
    return compile_condition(text)


def _default_lifecycle() -> list[LifecycleRule]:
    return [
        LifecycleRule(stage=LifecycleStage.CHURNED, when="days_since_last_order >= 365"),
        LifecycleRule(stage=LifecycleStage.ONBOARDING, when="tenure_days < 120 or orders_total == 0"),
        LifecycleRule(stage=LifecycleStage.AT_RISK, when="churn_risk >= 60"),
        LifecycleRule(stage=LifecycleStage.GROWTH, when="revenue_change_12m >= 0.15"),
    ]


class LifecycleSpec(Spec):
    """Ordered rules, first match wins; a terminated customer is 'terminated' before any rule."""

    rules: list[LifecycleRule] = Field(default_factory=_default_lifecycle)
    default: LifecycleStage = LifecycleStage.STABLE


class ForecastSpec(Spec):
    period_days: Annotated[int, Field(ge=1)] = 91
    periods: Annotated[int, Field(ge=1, le=60)] = 4
    alpha: Annotated[Decimal, Field(gt=0, le=1)] = Decimal("0.5")


class ChurnModelSpec(Spec):
    """How churn risk is computed: a model fitted on the store's history, or the ``churn_risk`` ramps.

    ``use: rules`` makes the ramps in ``churn_risk`` the score, as before; ``use: model`` (the
    default) fits a logistic regression as of each scoring date and falls back to the ramps when
    the store has too little history one horizon back (fewer than ``min_customers`` active
    customers, or fewer than ``min_churned`` of either outcome). Churned means no revenue document
    in the ``horizon_days`` after a date; active means one in the ``active_days`` before it.
    """

    use: Literal["model", "rules"] = "model"
    horizon_days: Annotated[int, Field(ge=30, le=730)] = 180
    active_days: Annotated[int, Field(ge=30, le=1460)] = 365
    min_customers: Annotated[int, Field(ge=10)] = 200
    min_churned: Annotated[int, Field(ge=5)] = 20
    regularization: Annotated[float, Field(gt=0)] = 1.0
    refit: Literal["monthly", "daily"] = "monthly"


def _f(measure: str, weight: str, zero_at: float, full_at: float,
       when_missing: float | Literal["skip"] = 0.0) -> Factor:
    return Factor(measure=measure, weight=Decimal(weight), zero_at=zero_at, full_at=full_at,
                  when_missing=when_missing)


def _satisfaction() -> WeightedScoreSpec:
    return WeightedScoreSpec(
        factors={"csat": _f("csat_avg_12m", "50", 1, 5, "skip"), "nps": _f("nps_12m", "50", -100, 100, "skip")},
        bands={"satisfied": 70, "neutral": 40, "dissatisfied": 0})


def _loyalty() -> WeightedScoreSpec:
    return WeightedScoreSpec(
        factors={"repeat_purchase": _f("active_months_12m", "50", 0, 6),
                 "tenure": _f("tenure_years", "30", 0, 3),
                 "frequency": _f("orders_12m", "20", 0, 12)},
        bands={"loyal": 70, "regular": 40, "occasional": 0})


def _service_quality() -> WeightedScoreSpec:
    return WeightedScoreSpec(
        factors={"first_response": _f("first_response_hours_median", "50", 48, 1, "skip"),
                 "resolution": _f("resolution_hours_median", "50", 240, 8, "skip")},
        bands={"good": 70, "fair": 40, "poor": 0})


def _churn_risk() -> WeightedScoreSpec:
    return WeightedScoreSpec(
        factors={"falling_revenue": _f("revenue_change_6m", "30", 0, -0.6),
                 "long_silence": _f("days_since_last_activity", "25", 45, 180),
                 "overdue_invoices": _f("overdue_days_max", "20", 0, 90),
                 "open_complaints": _f("open_complaints", "15", 0, 2),
                 "falling_satisfaction": _f("satisfaction_change_6m", "10", 0, -30)},
        bands={"high": 60, "medium": 30, "low": 0})


def _health() -> WeightedScoreSpec:
    return WeightedScoreSpec(
        factors={"revenue_trend": _f("revenue_change_12m", "20", -0.5, 0.2, 0.5),
                 "engagement": _f("days_since_last_activity", "20", 180, 14),
                 "payment": _f("overdue_days_max", "15", 90, 0, 1),
                 "satisfaction": _f("satisfaction", "15", 0, 100, 0.5),
                 "service": _f("service_quality", "10", 0, 100, 0.5),
                 "loyalty": _f("loyalty", "20", 0, 100)},
        bands={"healthy": 70, "watch": 40, "poor": 0})


class ScoringRules(Spec):
    """Everything config/scoring.yml can say. Scores are computed in the order of the fields."""

    version: Literal[1] = 1
    revenue: RevenueSpec = Field(default_factory=RevenueSpec)
    tier: TierSpec = Field(default_factory=TierSpec)
    clv: ClvSpec = Field(default_factory=ClvSpec)
    satisfaction: WeightedScoreSpec = Field(default_factory=_satisfaction)
    loyalty: WeightedScoreSpec = Field(default_factory=_loyalty)
    service_quality: WeightedScoreSpec = Field(default_factory=_service_quality)
    churn_risk: WeightedScoreSpec = Field(default_factory=_churn_risk)
    churn_model: ChurnModelSpec = Field(default_factory=ChurnModelSpec)
    health: WeightedScoreSpec = Field(default_factory=_health)
    lifecycle: LifecycleSpec = Field(default_factory=LifecycleSpec)
    forecast: ForecastSpec = Field(default_factory=ForecastSpec)


WEIGHTED_SCORES: tuple[str, ...] = ("satisfaction", "loyalty", "service_quality", "churn_risk", "health")
"""The weighted scores in the order they are computed; each may use the ones before it."""
