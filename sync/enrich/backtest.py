"""Backtests: score as of a past date from earlier data only, then compare with what happened after.

Everything here reads the same customers twice, at two dates: scores come from
:func:`~sync.enrich.measures.compute_measures` as of ``as_of`` (which ignores anything at or
after it), outcomes from the activity in the days after. So a backtest run on a user's own
store (``crm2 scores backtest --as-of DATE``) and the benchmark on generated data
(bench/bench_scores.py) measure the same thing the same way.

The metrics are hand-written (a dozen lines each) rather than taken from scikit-learn so that a
backtest of the rules alone needs no numpy; they treat ties honestly — the ramps' plateaus get
no credit for an order that a tie leaves to chance.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sync.enrich.activity import CustomerActivity
from sync.enrich.churn_model import ChurnModel, NotEnoughHistory, churned_after, fit_churn_model, is_active
from sync.enrich.measures import as_numbers, compute_measures
from sync.enrich.rules import ScoringRules
from sync.enrich.weighted import weighted_score

# -- ranking metrics -------------------------------------------------------------------------


def auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Area under the ROC curve (Mann-Whitney): the chance a churner outranks a stayer; ties count half."""
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    pairs = sorted(zip(scores, labels, strict=True), key=lambda p: p[0])
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        mid_rank = (i + 1 + j) / 2
        rank_sum += mid_rank * sum(label for _, label in pairs[i:j])
        i = j
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def top_precision(scores: Sequence[float], labels: Sequence[int], share: float = 0.10) -> float | None:
    """Share of churners among the ``share`` highest scores; a tie group on the cut counts pro rata."""
    k = int(len(scores) * share)
    if k < 1:
        return None
    pairs = sorted(zip(scores, labels, strict=True), key=lambda p: -p[0])
    taken, hits, i = 0, 0.0, 0
    while taken < k:
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        group = j - i
        positives = sum(label for _, label in pairs[i:j])
        use = min(group, k - taken)
        hits += positives * use / group
        taken += use
        i = j
    return hits / k


def distinct_in_top(scores: Sequence[float], n: int = 25) -> int:
    """How many different values the ``n`` highest scores take (n means no ties among them)."""
    return len(set(sorted(scores, reverse=True)[:n]))


# -- churn -----------------------------------------------------------------------------------


@dataclass
class Ranking:
    """How one churn score ranks the active customers against an outcome."""

    name: str
    auc: float | None
    top_decile: float | None
    distinct_top25: int
    bands: dict[str, tuple[int, float]]
    """band -> (customers, share that churned)."""
    lead_days_median: float | None = None
    warned_30d: float | None = None
    """Share of churners flagged 'high' at least 30 days before they had been silent a whole horizon."""
    truth_auc: float | None = None
    truth_top_decile: float | None = None


@dataclass
class ChurnBacktest:
    as_of: date
    horizon_days: int
    active_days: int
    customers: int
    churned: int
    rankings: list[Ranking] = field(default_factory=list)
    model: ChurnModel | None = None
    model_note: str | None = None


Scorer = Callable[[dict], tuple[float, str | None]]


def _band_table(values: Sequence[float], bands: Sequence[str | None], labels: Sequence[int]) -> dict:
    table: dict[str, list[int]] = {}
    for band, label in zip(bands, labels, strict=True):
        row = table.setdefault(band or "-", [0, 0])
        row[0] += 1
        row[1] += label
    return {band: (n, k / n) for band, (n, k) in table.items()}


def _lead_times(customers: Sequence[CustomerActivity], rules: ScoringRules, as_of: date, scorer: Scorer,
                warn_band: str, step_days: int = 15) -> tuple[float | None, float | None]:
    """Median days between the first 'warn_band' flag and the day a churner had been silent a horizon.

    For a churner whose last order was on day L, it counts as churned on L + horizon; we score it
    every ``step_days`` from L + 1 (each time from the data before that day only) and take the
    first flag. A churner never flagged in time has lead 0.
    """
    horizon = rules.churn_model.horizon_days
    leads: list[int] = []
    for activity in customers:
        measures = compute_measures(activity, rules.revenue, as_of)
        last = as_of - timedelta(days=measures["days_since_last_order"])
        declared = last + timedelta(days=horizon)
        lead = 0
        day = last + timedelta(days=1)
        while day < declared:
            _value, band = scorer(compute_measures(activity, rules.revenue, day))
            if band == warn_band:
                lead = (declared - day).days
                break
            day += timedelta(days=step_days)
        leads.append(lead)
    if not leads:
        return None, None
    return float(statistics.median(leads)), sum(lead >= 30 for lead in leads) / len(leads)


def backtest_churn(customers: Sequence[CustomerActivity], rules: ScoringRules, as_of: date,
                   truth: Callable[[CustomerActivity], bool] | None = None,
                   lead_times: bool = True) -> ChurnBacktest:
    """Fit (on data before ``as_of``) and score as of ``as_of``; compare with the following horizon.

    ``truth`` (generated data only) says whether a customer really stops buying within the
    horizon, so the scores can also be judged against the pattern rather than the noisy outcome.
    """
    spec = rules.churn_model
    horizon, active = spec.horizon_days, spec.active_days
    result = ChurnBacktest(as_of=as_of, horizon_days=horizon, active_days=active, customers=0, churned=0)
    try:
        result.model = fit_churn_model(customers, rules, as_of)
    except NotEnoughHistory as exc:
        result.model_note = str(exc)

    def rules_scorer(measures: dict) -> tuple[float, str | None]:
        score = weighted_score("churn_risk", rules.churn_risk, as_numbers(measures))
        return float(score.value), score.band

    scorers: list[tuple[str, Scorer]] = [("rules (ramps)", rules_scorer)]
    if result.model is not None:
        model = result.model
        scorers.insert(0, ("model (logistic)", lambda m: (
            value := round(100 * model.probability(m), 2), rules.churn_risk.band(value))))
    active_customers: list[CustomerActivity] = []
    labels: list[int] = []
    true_labels: list[int] = []
    values: dict[str, list[tuple[float, str | None]]] = {name: [] for name, _ in scorers}
    for activity in customers:
        measures = compute_measures(activity, rules.revenue, as_of)
        if not is_active(measures, active):
            continue
        active_customers.append(activity)
        labels.append(int(churned_after(activity, rules, as_of, horizon)))
        if truth is not None:
            true_labels.append(int(truth(activity)))
        for name, scorer in scorers:
            values[name].append(scorer(measures))
    result.customers, result.churned = len(labels), sum(labels)
    warn = max(rules.churn_risk.bands, key=lambda b: rules.churn_risk.bands[b]) if rules.churn_risk.bands else None
    churners = [a for a, label in zip(active_customers, labels, strict=True) if label]
    for name, scorer in scorers:
        scores = [v for v, _ in values[name]]
        ranking = Ranking(name=name, auc=auc(scores, labels), top_decile=top_precision(scores, labels),
                          distinct_top25=distinct_in_top(scores),
                          bands=_band_table(scores, [b for _, b in values[name]], labels))
        if lead_times and warn is not None:
            ranking.lead_days_median, ranking.warned_30d = _lead_times(churners, rules, as_of, scorer, warn)
        if true_labels:
            ranking.truth_auc, ranking.truth_top_decile = auc(scores, true_labels), top_precision(scores, true_labels)
        result.rankings.append(ranking)
    return result


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def churn_lines(report: ChurnBacktest) -> list[str]:
    """The churn backtest as plain text, model and rules side by side."""
    rate = _pct(report.churned / report.customers if report.customers else None)
    lines = [f"churn: as of {report.as_of}, {report.customers:,} active customers (a revenue document in the "
             f"{report.active_days} days before), {report.churned:,} ({rate}) placed no order in the next "
             f"{report.horizon_days} days"]
    if report.model is not None:
        m = report.model
        lines.append(f"  model fitted as of {m.fitted_as_of} on {m.customers:,} customers ({m.churned:,} churned)")
    if report.model_note:
        lines.append(f"  no model: {report.model_note}")
    has_truth = any(r.truth_auc is not None for r in report.rankings)
    header = (f"  {'score':<18}{'AUC':>7}{'top 10%':>9}{'distinct top 25':>17}{'lead (median d)':>17}"
              f"{'warned >=30d':>14}")
    if has_truth:
        header += f"{'truth AUC':>11}{'truth top 10%':>15}"
    lines.append(header)
    for r in report.rankings:
        line = (f"  {r.name:<18}{_num(r.auc):>7}{_pct(r.top_decile):>9}{r.distinct_top25:>17}"
                f"{_num(r.lead_days_median, '.0f'):>17}{_pct(r.warned_30d):>14}")
        if has_truth:
            line += f"{_num(r.truth_auc):>11}{_pct(r.truth_top_decile):>15}"
        lines.append(line)
    for r in report.rankings:
        bands = ", ".join(f"{band} {n:,} customers, {rate:.0%} churned"
                          for band, (n, rate) in sorted(r.bands.items(), key=lambda kv: -kv[1][1]))
        lines.append(f"  bands, {r.name}: {bands}")
    return lines


def _num(value: float | None, fmt: str = ".3f") -> str:
    return "-" if value is None else format(value, fmt)
