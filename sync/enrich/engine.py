"""The enrichment engine: scores for every golden customer as a pure function of activity + date.

``score_customers(customers, rules, as_of)`` never reads the clock, the store or the network:
the same inputs give the same outputs, so scores can be tested, backtested and explained.

Tiers and RFM compare a customer with everyone else, so scoring is two passes: the first
(:func:`survey_population`) keeps one or a few integers per customer; the second scores each
customer alone against those cut-offs. Pass a re-iterable (a list, or an object whose
``__iter__`` re-reads the store) to keep memory bounded; a one-shot iterator is buffered.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, cast

from sync.enrich.activity import CustomerActivity
from sync.enrich.churn_model import ChurnModel
from sync.enrich.clv import lifetime_value
from sync.enrich.forecast import forecast_revenue
from sync.enrich.lifecycle import lifecycle_stage
from sync.enrich.measures import REVENUE_MEASURES, as_numbers, compute_measures, revenue_events, revenue_measures
from sync.enrich.rfm import RfmBoundaries, RfmCollector
from sync.enrich.rules import WEIGHTED_SCORES, ScoringRules, WeightedScoreSpec
from sync.enrich.tiering import TierCollector, TierCutoffs
from sync.enrich.weighted import weighted_score
from sync.model import LifecycleStage, Score, Tier


@dataclass(frozen=True)
class Population:
    """What pass one learns about everyone: tier cut-offs and RFM quintile boundaries."""

    tiers: TierCutoffs
    rfm: RfmBoundaries
    churn: ChurnModel | None = None
    """Fitted churn model (sync/enrich/churn_model.py); None scores churn risk with the ramps."""

    def with_churn(self, model: ChurnModel | None) -> Population:
        return replace(self, churn=model)


@dataclass
class CustomerScores:
    """One customer's results; ``scores`` keeps every score's inputs and contributions."""

    golden_id: str
    tier: Tier
    lifecycle_stage: LifecycleStage
    scores: dict[str, Score]
    clv: Decimal
    forecast: Decimal
    measures: dict[str, Any] = field(default_factory=dict)

    def value(self, name: str) -> float | str | None:
        score = self.scores.get(name)
        return None if score is None else score.value


def _population_measures(activity: CustomerActivity, rules: ScoringRules, as_of: date,
                         need_all: bool) -> dict[str, Any]:
    if need_all:
        return compute_measures(activity, rules.revenue, as_of)
    return revenue_measures(revenue_events(activity, rules.revenue, as_of))


def survey_population(customers: Iterable[CustomerActivity], rules: ScoringRules, as_of: date) -> Population:
    """Pass one: every customer's tier value and RFM values, reduced to cut-offs."""
    tier_names = set(rules.tier.weighted) if rules.tier.measure == "weighted" else {rules.tier.measure}
    need_all = not tier_names <= REVENUE_MEASURES
    tiers, rfm = TierCollector(rules.tier), RfmCollector()
    for activity in customers:
        measures = _population_measures(activity, rules, as_of, need_all)
        tiers.add(measures)
        rfm.add(measures)
    return Population(tiers=tiers.finish(), rfm=rfm.finish())


def _number(score: Score) -> float | None:
    return score.value if isinstance(score.value, float | int) else None


def score_customer(activity: CustomerActivity, rules: ScoringRules, as_of: date,
                   population: Population) -> CustomerScores:
    """Pass two for one customer."""
    events = revenue_events(activity, rules.revenue, as_of)
    measures = compute_measures(activity, rules.revenue, as_of, events)
    scores: dict[str, Score] = {}
    scores["tier"] = population.tiers.assign(measures)
    tier = Tier(cast(str, scores["tier"].value))  # the tier score always carries the tier name
    scores["rfm"] = population.rfm.assign(measures)
    rfm = population.rfm.scores(measures)
    clv, scores["clv"] = lifetime_value(measures, rules.clv)
    namespace = as_numbers(measures, [
        ("tier", tier.value), ("clv", float(clv)),
        ("rfm_recency", rfm[0] if rfm else None), ("rfm_frequency", rfm[1] if rfm else None),
        ("rfm_monetary", rfm[2] if rfm else None)])
    for name in WEIGHTED_SCORES:
        spec: WeightedScoreSpec = getattr(rules, name)
        if name == "churn_risk" and population.churn is not None and rules.churn_model.use == "model":
            scores[name] = population.churn.score(measures, spec.band)
        else:
            scores[name] = weighted_score(name, spec, namespace)
        namespace[name] = _number(scores[name])
    stage, scores["lifecycle"] = lifecycle_stage(rules.lifecycle, namespace)
    forecast, scores["forecast"] = forecast_revenue(events, rules.forecast, bool(measures["terminated"]))
    stamp = datetime.combine(as_of, time(), tzinfo=UTC)
    for score in scores.values():
        score.computed_at = stamp
    return CustomerScores(golden_id=activity.golden_id, tier=tier, lifecycle_stage=stage, scores=scores,
                          clv=clv, forecast=forecast, measures=measures)


def score_customers(customers: Iterable[CustomerActivity], rules: ScoringRules, as_of: date,
                    population: Population | None = None) -> Iterator[CustomerScores]:
    """Score every customer as of the start of ``as_of``; pass ``population`` to skip pass one."""
    if population is None:
        if iter(customers) is customers:  # a one-shot iterator cannot be read twice
            customers = list(customers)
        population = survey_population(customers, rules, as_of)
    for activity in customers:
        yield score_customer(activity, rules, as_of, population)


NAMES_AFTER_POPULATION = ("tier", "clv", "rfm_recency", "rfm_frequency", "rfm_monetary")
"""Names a weighted score or lifecycle rule may use besides the measures and earlier scores."""
