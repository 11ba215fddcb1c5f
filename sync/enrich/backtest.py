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

import contextlib
import io
import statistics
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction

from sync.enrich.activity import CustomerActivity
from sync.enrich.churn_model import (
    SCORE_DECIMALS,
    ChurnModel,
    NotEnoughHistory,
    churned_after,
    fit_churn_model,
    is_active,
)
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
    leads: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Warning band (the top two) -> (median lead days, share of churners flagged at least 30 days before
    they had been silent a whole horizon), flagged meaning a score at or above the band's minimum."""
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
                minimum: float, step_days: int = 15) -> tuple[float, float] | None:
    """Median days between the first score >= ``minimum`` and the day a churner had been silent a horizon.

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
            value, _band = scorer(compute_measures(activity, rules.revenue, day))
            if value >= minimum:
                lead = (declared - day).days
                break
            day += timedelta(days=step_days)
        leads.append(lead)
    if not leads:
        return None
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
            value := round(100 * model.probability(m), SCORE_DECIMALS), rules.churn_risk.band(value))))
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
    warn = sorted(rules.churn_risk.bands.items(), key=lambda kv: -kv[1])[:2]  # e.g. high >= 60, medium >= 30
    churners = [a for a, label in zip(active_customers, labels, strict=True) if label]
    for name, scorer in scorers:
        scores = [v for v, _ in values[name]]
        ranking = Ranking(name=name, auc=auc(scores, labels), top_decile=top_precision(scores, labels),
                          distinct_top25=distinct_in_top(scores),
                          bands=_band_table(scores, [b for _, b in values[name]], labels))
        for band, minimum in warn if lead_times else ():
            lead = _lead_times(churners, rules, as_of, scorer, minimum)
            if lead is not None:
                ranking.leads[band] = lead
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
    warn = [band for r in report.rankings[:1] for band in r.leads]
    header = f"  {'score':<18}{'AUC':>7}{'top 10%':>9}{'distinct top 25':>17}" + "".join(
        f"{band + ' lead (median d)':>24}{band + ' warned >=30d':>22}" for band in warn)
    if has_truth:
        header += f"{'truth AUC':>11}{'truth top 10%':>15}"
    lines.append(header)
    for r in report.rankings:
        line = f"  {r.name:<18}{_num(r.auc):>7}{_pct(r.top_decile):>9}{r.distinct_top25:>17}" + "".join(
            f"{_num(r.leads[band][0], '.0f') if band in r.leads else '-':>24}"
            f"{_pct(r.leads[band][1]) if band in r.leads else '-':>22}" for band in warn)
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


# -- forecast ---------------------------------------------------------------------------------

WEEK = 7
FORECAST_METHODS = ("naive", "mean_4", "ses", "croston", "tsb", "adida", "bg/nbd")
"""naive: last period again; mean_4: mean of the last four periods (of those since the first order);
ses: crm2's exponential smoothing (alpha from the rules); croston, tsb, adida: statsforecast's
intermittent-demand models on weekly revenue; bg/nbd: expected purchases in the period (MBG/NBD) times
expected spend per purchase (Gamma-Gamma), the CLV models below.."""

DEMAND_CLASSES = ("smooth", "erratic", "intermittent", "lumpy")


def demand_class(series: Sequence[float]) -> str:
    """Syntetos-Boylan class of a weekly series: ADI (weeks per demand) 1.32 and CV² of sizes 0.49 split it."""
    sizes = [v for v in series if v > 0]
    if len(sizes) < 2:
        return "lumpy"
    adi = len(series) / len(sizes)
    mean = sum(sizes) / len(sizes)
    cv2 = statistics.pvariance(sizes) / (mean * mean)
    if adi < 1.32:
        return "smooth" if cv2 < 0.49 else "erratic"
    return "intermittent" if cv2 < 0.49 else "lumpy"


def weekly_series(activity: CustomerActivity, rules: ScoringRules, as_of: date, weeks: int) -> list[float]:
    """Revenue per week before ``as_of``, oldest first, from the customer's first week with a document."""
    from sync.enrich.measures import revenue_events

    buckets = [0.0] * weeks
    oldest = -1
    for ago, amount, _margin, is_doc in revenue_events(activity, rules.revenue, as_of):
        k = (ago - 1) // WEEK
        if k < weeks:
            buckets[k] += float(amount)
            if is_doc:
                oldest = max(oldest, k)
    return buckets[oldest::-1] if oldest >= 0 else []


def _period_sums(series: Sequence[float], per: int, n: int) -> list[float]:
    """The last ``n`` periods of ``per`` weeks, newest first (zero before the series starts)."""
    out = []
    for p in range(n):
        chunk = series[max(0, len(series) - (p + 1) * per): max(0, len(series) - p * per)]
        out.append(float(sum(chunk)))
    return out


def forecast_all(customers: Sequence[CustomerActivity], rules: ScoringRules, origin: date,
                 history_weeks: int = 156) -> tuple[dict[str, list[float]], list[str]]:
    """Every method's forecast of each customer's revenue in the ``period_days`` after ``origin``,
    and each customer's demand class then."""
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import ADIDA, TSB, CrostonClassic

    from sync.enrich.forecast import forecast_revenue
    from sync.enrich.measures import revenue_events

    per = max(1, round(rules.forecast.period_days / WEEK))
    out: dict[str, list[float]] = {m: [0.0] * len(customers) for m in FORECAST_METHODS}
    classes = ["lumpy"] * len(customers)
    ids: list[int] = []
    steps: list[int] = []
    values: list[float] = []
    for i, activity in enumerate(customers):
        terminated = activity.terminated_on is not None and activity.terminated_on < origin
        events = revenue_events(activity, rules.revenue, origin)
        out["ses"][i] = float(forecast_revenue(events, rules.forecast, terminated)[0])
        series = [] if terminated else weekly_series(activity, rules, origin, history_weeks)
        if not any(v > 0 for v in series):
            continue
        # classified on 4-week sums: by the week nearly every B2B customer is "intermittent"
        classes[i] = demand_class([sum(series[k:k + 4]) for k in range(0, len(series), 4)])
        quarters = _period_sums(series, per, 4)
        out["naive"][i] = max(0.0, quarters[0])
        seen = min(4, -(-len(series) // per))  # a new customer's periods before its first order do not count
        out["mean_4"][i] = max(0.0, sum(quarters) / seen)
        ids.extend([i] * len(series))
        steps.extend(range(len(series)))
        values.extend(max(0.0, v) for v in series)  # a credit-note week is no negative demand
    if ids:
        frame = pd.DataFrame({"unique_id": ids, "ds": steps, "y": values})
        models = [CrostonClassic(alias="croston"), TSB(alpha_d=0.1, alpha_p=0.1, alias="tsb"), ADIDA(alias="adida")]
        fitted = StatsForecast(models=models, freq=1, n_jobs=1).forecast(df=frame, h=per)
        totals = fitted.groupby("unique_id")[["croston", "tsb", "adida"]].sum()
        for method in ("croston", "tsb", "adida"):
            column = out[method]
            for i, value in totals[method].items():
                column[int(i)] = 0.0 if value != value else max(0.0, float(value))  # NaN: no demand seen
    out["bg/nbd"] = predict_purchases(customers, rules, origin, rules.forecast.period_days).spend["BG/NBD+GG"]
    return out, classes


def actual_revenue(customers: Sequence[CustomerActivity], rules: ScoringRules, origin: date) -> list[float]:
    from sync.enrich.measures import revenue_events

    days = rules.forecast.period_days
    end = origin + timedelta(days=days)
    return [float(sum(a for ago, a, _m, _d in revenue_events(c, rules.revenue, end) if ago <= days))
            for c in customers]


@dataclass
class ForecastBacktest:
    origin: date
    actual_total: float
    wape: dict[str, float]
    total_error: dict[str, float]
    chosen: dict[str, int]
    """How many customers the per-customer choice gave to each method."""


def backtest_forecast(customers: Sequence[CustomerActivity], rules: ScoringRules, origin: date,
                      validation_periods: int = 2) -> ForecastBacktest:
    """Each method, and crm2's per-customer choice, forecasting the period after ``origin``.

    The choice for a customer is the method with the least absolute error, over the
    ``validation_periods`` periods before ``origin`` (each forecast from the data before it), among
    the customers of its demand class (:func:`demand_class`): chosen per customer alone, two
    periods of one customer are too few and the choice chases noise. It uses nothing at or after
    ``origin``. Ties go to the simpler method (listed first).
    """
    days = rules.forecast.period_days
    errors = {c: dict.fromkeys(FORECAST_METHODS, 0.0) for c in DEMAND_CLASSES}
    for k in range(validation_periods, 0, -1):
        start = origin - timedelta(days=days * k)
        forecasts, classes = forecast_all(customers, rules, start)
        actual = actual_revenue(customers, rules, start)
        for i, a in enumerate(actual):
            for m in FORECAST_METHODS:
                errors[classes[i]][m] += abs(forecasts[m][i] - a)
    best = {c: min(FORECAST_METHODS, key=e.__getitem__) for c, e in errors.items()}
    forecasts, classes = forecast_all(customers, rules, origin)
    actual = actual_revenue(customers, rules, origin)
    choice = [best[c] for c in classes]
    forecasts["crm2 choice"] = [forecasts[m][i] for i, m in enumerate(choice)]
    total = sum(actual)
    wape = {m: sum(abs(f - a) for f, a in zip(fs, actual, strict=True)) / total if total else float("nan")
            for m, fs in forecasts.items()}
    error = {m: (sum(fs) - total) / total if total else float("nan") for m, fs in forecasts.items()}
    chosen = {f"{c}->{best[c]}": classes.count(c) for c in DEMAND_CLASSES}
    return ForecastBacktest(origin=origin, actual_total=total, wape=wape, total_error=error, chosen=chosen)


def forecast_lines(results: Sequence[ForecastBacktest], period_days: int) -> list[str]:
    methods = [*FORECAST_METHODS, "crm2 choice"]
    lines = [f"forecast: revenue in the {period_days} days after each origin; WAPE (total error) per method",
             f"  {'origin':<12}{'actual':>16}" + "".join(f"{m:>20}" for m in methods)]
    for r in results:
        lines.append(f"  {r.origin.isoformat():<12}{r.actual_total:>16,.0f}" + "".join(
            f"{r.wape[m]:>11.1%} ({r.total_error[m]:+.1%})" for m in methods))
    for r in results:
        lines.append(f"  chosen as of {r.origin}: " + ", ".join(f"{m} {n:,}" for m, n in r.chosen.items()))
    return lines


# -- CLV: purchases and spend over a holdout ---------------------------------------------------

CLV_MODELS = ("naive", "closed form", "BG/NBD+GG")
"""BG/NBD here is lifetimes' ModifiedBetaGeoFitter (MBG/NBD, Batislam et al. 2007): it lets a customer drop
out after the first purchase too; plain BG/NBD's fit on B2B ledgers runs to a and b near 0, where its
expectation for one-time buyers is 0/0."""


@dataclass
class Rfm:
    """A customer's purchase history before a date, in lifetimes' terms (weeks; repeat purchases only)."""

    frequency: int
    """Repeat purchases: days with a revenue document, less the first."""
    recency: float
    """Weeks from the first to the last purchase."""
    age: float
    """Weeks from the first purchase to the date."""
    monetary: float
    """Mean spend of the repeat purchases (0 without any)."""


def purchase_history(activity: CustomerActivity, rules: ScoringRules, as_of: date) -> Rfm | None:
    from sync.enrich.measures import revenue_events

    days: dict[int, float] = {}
    for ago, amount, _margin, is_doc in revenue_events(activity, rules.revenue, as_of):
        if is_doc:
            days[ago] = days.get(ago, 0.0) + float(amount)
    if not days:
        return None
    first, last = max(days), min(days)
    repeat = [v for ago, v in days.items() if ago != first]
    return Rfm(frequency=len(repeat), recency=(first - last) / WEEK, age=first / WEEK,
               monetary=max(0.01, sum(repeat) / len(repeat)) if repeat else 0.0)


def _holdout(activity: CustomerActivity, rules: ScoringRules, start: date, days: int) -> tuple[int, float]:
    """(purchase days, spend) in [start, start + days)."""
    from sync.enrich.measures import revenue_events

    seen: set[int] = set()
    spend = 0.0
    for ago, amount, _margin, is_doc in revenue_events(activity, rules.revenue, start + timedelta(days=days)):
        if ago <= days:
            spend += float(amount)
            if is_doc:
                seen.add(ago)
    return len(seen), spend


@dataclass
class ClvPredictions:
    purchases: dict[str, list[float]]
    spend: dict[str, list[float]]
    repeat: list[int]
    """Each customer's repeat purchases before the date (-1: never bought)."""


def predict_purchases(customers: Sequence[CustomerActivity], rules: ScoringRules, as_of: date,
                      days: int) -> ClvPredictions:
    """Each model's expected purchases and spend in the ``days`` after ``as_of``, from data before it.

    naive: the same as in the ``days`` before. closed form: crm2's CLV model's first ``days`` —
    last year's orders and revenue times retention x p_active, pro rata. BG/NBD + Gamma-Gamma
    (lifetimes): fitted on everyone's history before ``as_of``.
    """
    from sync.enrich.clv import p_active

    n = len(customers)
    purchases = {m: [0.0] * n for m in CLV_MODELS}
    spend = {m: [0.0] * n for m in CLV_MODELS}
    histories: list[tuple[int, Rfm]] = []
    repeat = [-1] * n
    share = days / 365
    for i, activity in enumerate(customers):
        before = as_of - timedelta(days=days)
        purchases["naive"][i], spend["naive"][i] = map(float, _holdout(activity, rules, before, days))
        measures = compute_measures(activity, rules.revenue, as_of)
        r = float(rules.clv.retention * p_active(measures, rules.clv))
        purchases["closed form"][i] = measures["orders_12m"] * r * share
        spend["closed form"][i] = max(0.0, float(measures["revenue_12m"])) * r * share
        history = purchase_history(activity, rules, as_of)
        if history is not None and not measures["terminated"]:
            histories.append((i, history))
            repeat[i] = history.frequency
    if histories:
        with warnings.catch_warnings():  # autograd's log of 0 while the optimiser probes; the fit is checked below
            warnings.simplefilter("ignore", RuntimeWarning)
            _fit_purchase_models(histories, days, purchases, spend)
    return ClvPredictions(purchases=purchases, spend=spend, repeat=repeat)


def _fit_purchase_models(histories: list[tuple[int, Rfm]], days: int, purchases: dict[str, list[float]],
                         spend: dict[str, list[float]]) -> None:
    import numpy as np
    from lifetimes import GammaGammaFitter, ModifiedBetaGeoFitter
    from lifetimes.utils import ConvergenceError

    if histories:
        f = np.array([h.frequency for _, h in histories], dtype=float)
        rec = np.array([h.recency for _, h in histories])
        age = np.array([h.age for _, h in histories])
        money = np.array([h.monetary for _, h in histories])
        bgf = ModifiedBetaGeoFitter(penalizer_coef=0.001).fit(f, rec, age)
        expected = np.nan_to_num(bgf.conditional_expected_number_of_purchases_up_to_time(days / WEEK, f, rec, age))
        repeaters = f > 0
        # lifetimes' optimiser needs spend near 1: fit in units of the median repeat spend
        unit = float(np.median(money[repeaters])) if repeaters.any() else 1.0
        ggf = None
        for penalty in (0.0, 0.001, 0.01):  # lifetimes' advice when the optimiser does not converge
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # lifetimes prints the optimiser's state on failure
                    ggf = GammaGammaFitter(penalizer_coef=penalty).fit(f[repeaters], money[repeaters] / unit)
                break
            except ConvergenceError:
                continue
        if ggf is not None and ggf.params_["q"] > 1:
            average = unit * ggf.conditional_expected_average_profit(f, np.where(repeaters, money / unit, 0.0))
        else:  # no fit, or a tail too heavy for a finite mean: each customer's own mean, the median for none
            average = np.where(repeaters, money, unit)
        for (i, _h), e, a in zip(histories, np.asarray(expected), np.asarray(average), strict=True):
            purchases["BG/NBD+GG"][i] = float(e)
            spend["BG/NBD+GG"][i] = float(e) * float(a)


REPEAT_SEGMENTS = (0, 1, 3, 6)
"""Lower bounds of the repeat-purchase segments crm2's CLV choice picks a model for."""


def _segment(repeat: int) -> int:
    return max((b for b in REPEAT_SEGMENTS if repeat >= b), default=-1)


@dataclass
class ClvBacktest:
    as_of: date
    days: int
    customers: int
    chosen: dict[int | None, tuple[str, str]]
    """Repeat-purchase segment (lower bound; None: every segment too small for a choice of its own) ->
    (model or blend for purchases, for spend)."""
    actual_purchases: float
    actual_spend: float
    mae_purchases: dict[str, float]
    mae_spend: dict[str, float]
    total_error_purchases: dict[str, float]
    total_error_spend: dict[str, float]


BLEND_WEIGHTS = (Fraction(1, 4), Fraction(1, 2), Fraction(3, 4))
"""Weights of the two-model blends crm2's CLV choice may pick: quarters, so a blend of exact amounts stays exact."""

MIN_SEGMENT = 200
"""A segment with fewer validation customers takes the choice made over all customers: its own best is noise."""


def clv_candidates() -> list[tuple[str, tuple[tuple[str, Fraction], ...]]]:
    """The single models, then every pair of them blended at each of :data:`BLEND_WEIGHTS`.

    Why blends: the models err in different directions (MBG/NBD shrinks big customers towards the
    mean, the closed form under-predicts everyone by about a fifth, naive repeats last year's luck),
    so a weighted mean cancels part of each error. On the 20,000-customer backtest no single model
    beats the best blend in any segment with repeat purchases (docs/scoring.md).
    """
    out: list[tuple[str, tuple[tuple[str, Fraction], ...]]] = [(m, ((m, Fraction(1)),)) for m in CLV_MODELS]
    for i, first in enumerate(CLV_MODELS):
        for second in CLV_MODELS[i + 1:]:
            for w in BLEND_WEIGHTS:
                out.append((f"{w} {first} + {1 - w} {second}", ((first, w), (second, 1 - w))))
    return out


def _blend(table: dict[str, list[float]], parts: tuple[tuple[str, Fraction], ...], i: int) -> float:
    return sum(float(w) * table[m][i] for m, w in parts)


def _pick(pred: ClvPredictions, truth: Sequence[tuple[int, float]], which: int) -> dict[int | None, str]:
    """Per repeat-purchase segment, the candidate (model or blend) with the least absolute error
    (purchases 0, spend 1); a segment smaller than :data:`MIN_SEGMENT` gets the best over everyone
    (key ``None``). Ties go to the candidate listed first (single models before blends)."""
    candidates = clv_candidates()
    table = pred.purchases if which == 0 else pred.spend
    errors: dict[int, list[float]] = {}
    sizes: dict[int, int] = {}
    overall = [0.0] * len(candidates)
    for i, actual in enumerate(truth):
        seg = _segment(pred.repeat[i])
        row = errors.setdefault(seg, [0.0] * len(candidates))
        sizes[seg] = sizes.get(seg, 0) + 1
        for k, (_name, parts) in enumerate(candidates):
            e = abs(_blend(table, parts, i) - actual[which])
            row[k] += e
            overall[k] += e

    def best(errs: list[float]) -> str:
        return candidates[min(range(len(errs)), key=errs.__getitem__)][0]

    chosen: dict[int | None, str] = {None: best(overall)}
    chosen.update({seg: best(e) for seg, e in errors.items() if sizes[seg] >= MIN_SEGMENT})
    return chosen


def choose_clv(validation: ClvPredictions, truth: Sequence[tuple[int, float]],
               pred: ClvPredictions) -> dict[int | None, tuple[str, str]]:
    """Add crm2's choice to ``pred`` (as "crm2 choice"), picked on ``validation`` against ``truth``."""
    by_purchases, by_spend = _pick(validation, truth, 0), _pick(validation, truth, 1)
    parts = dict(clv_candidates())
    for table, by in ((pred.purchases, by_purchases), (pred.spend, by_spend)):
        table["crm2 choice"] = [_blend(table, parts[by.get(_segment(r), by[None])], i)
                                for i, r in enumerate(pred.repeat)]
    segments = sorted(set(by_purchases) | set(by_spend), key=lambda seg: -2 if seg is None else seg)
    return {seg: (by_purchases.get(seg, by_purchases[None]), by_spend.get(seg, by_spend[None])) for seg in segments}


def backtest_clv(customers: Sequence[CustomerActivity], rules: ScoringRules, as_of: date,
                 days: int = 365) -> ClvBacktest:
    """Predict purchases and spend in the ``days`` after ``as_of``; compare with what happened.

    crm2's choice picks, per segment of customers by repeat purchases (none, 1-2, 3-5, 6+), the
    model or two-model blend (:func:`clv_candidates`) that did best on a backtest of half the
    holdout just before ``as_of`` — so the choice too uses only data before ``as_of``. A segment
    with fewer than :data:`MIN_SEGMENT` customers then takes the best over everyone.
    """
    # validate on the half-length holdout just before as_of: closer in history length to the real one
    half = max(30, days // 2)
    earlier = as_of - timedelta(days=half)
    validation = predict_purchases(customers, rules, earlier, half)
    truth = [_holdout(c, rules, earlier, half) for c in customers]
    pred = predict_purchases(customers, rules, as_of, days)
    chosen = choose_clv(validation, truth, pred)
    actual = [_holdout(c, rules, as_of, days) for c in customers]
    n = len(customers)
    total_p = sum(a[0] for a in actual)
    total_s = sum(a[1] for a in actual)
    mae_p = {m: sum(abs(x - a[0]) for x, a in zip(v, actual, strict=True)) / n for m, v in pred.purchases.items()}
    mae_s = {m: sum(abs(x - a[1]) for x, a in zip(v, actual, strict=True)) / n for m, v in pred.spend.items()}
    err_p = {m: (sum(v) - total_p) / total_p if total_p else float("nan") for m, v in pred.purchases.items()}
    err_s = {m: (sum(v) - total_s) / total_s if total_s else float("nan") for m, v in pred.spend.items()}
    return ClvBacktest(as_of=as_of, days=days, customers=n, chosen=chosen, actual_purchases=total_p,
                       actual_spend=total_s, mae_purchases=mae_p, mae_spend=mae_s,
                       total_error_purchases=err_p, total_error_spend=err_s)


def clv_lines(r: ClvBacktest) -> list[str]:
    names = {None: "small segments", -1: "never bought", 0: "0 repeat", 1: "1-2 repeat", 3: "3-5 repeat",
             6: "6+ repeat"}
    rule = "; ".join(f"{names.get(seg, seg)}: {p} / {s}" for seg, (p, s) in r.chosen.items())
    lines = [f"clv: purchases and spend in the {r.days} days after {r.as_of}, {r.customers:,} customers "
             f"({r.actual_purchases:,.0f} purchase days, spend {r.actual_spend:,.0f})",
             f"  crm2 choice (purchases / spend model per segment): {rule}",
             f"  {'model':<14}{'MAE purchases':>15}{'total error':>13}{'MAE spend':>14}{'total error':>13}"]
    for m in r.mae_purchases:
        lines.append(f"  {m:<14}{r.mae_purchases[m]:>15.3f}{r.total_error_purchases[m]:>+13.1%}"
                     f"{r.mae_spend[m]:>14,.0f}{r.total_error_spend[m]:>+13.1%}")
    return lines
