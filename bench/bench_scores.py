"""Backtest crm2's scores on generated data: churn risk, forecast and CLV against what happened next.

    .venv/bin/python bench/bench_scores.py                          # 20,000 customers, seeds 42 and 7
    .venv/bin/python bench/bench_scores.py --customers 4000 --seeds 42
    .venv/bin/python bench/bench_scores.py --only churn

Customers come from crm2's own generator (synthetic) as activity, as if mapping and
resolve were perfect (synthetic/activity.py), so the figures measure the scores alone. The
generator also says which customers follow a churning pattern and when they stop: the churn
table is judged both against the observed outcome (no order in the next N days — what
``crm2 scores backtest`` measures on a real store) and against that truth.

``--oracle`` adds the ceiling of any score on the same split: the generator's own order process
run forward from the date with each customer's hidden parameters (bench/oracle_scores.py) — its
churn probability ranked like the scores, and its mean and median revenue per customer scored
like the forecasts, beside naive.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

from sync.enrich.activity import CustomerActivity
from sync.enrich.backtest import (
    _period_sums,
    actual_revenue,
    auc,
    backtest_churn,
    backtest_clv,
    backtest_forecast,
    churn_lines,
    clv_lines,
    forecast_lines,
    top_precision,
    weekly_series,
)
from sync.enrich.churn_model import churned_after, is_active
from sync.enrich.measures import compute_measures
from sync.enrich.rules import RevenueSpec, ScoringRules
from synthetic.activity import SyntheticCustomer, synthetic_customers, usd_rates

NOW = date(2026, 11, 1)
AS_OF = date(2026, 5, 1)
"""Six months before the generator's "now" (2026-11-01): room for a 180-day outcome window."""
CLV_AS_OF = date(2025, 11, 1)
"""A year before "now": a 365-day holdout for purchases and spend."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7])
    parser.add_argument("--as-of", type=date.fromisoformat, default=AS_OF)
    parser.add_argument("--only", choices=["churn", "forecast", "clv"], nargs="*", default=None)
    parser.add_argument("--origins", type=int, default=2, help="quarterly forecast origins, the last ending at now")
    parser.add_argument("--oracle", action="store_true",
                        help="also print the ceiling: the generator's own process with its hidden parameters")
    parser.add_argument("--oracle-only", action="store_true",
                        help="print only the oracle rows (with naive), not crm2's scores and models: faster")
    parser.add_argument("--paths", type=int, default=2000, help="oracle Monte-Carlo paths per customer (churn; "
                        "half as many for the forecast)")
    parser.add_argument("--no-lead-times", action="store_true", help="skip the churn warning lead times (slow)")
    parser.add_argument("--horizon", type=int, default=None,
                        help="churn outcome window in days (default: the rules' horizon_days, 180); the "
                             "outcome must end before the generator's now (2026-11-01), so move --as-of back")
    args = parser.parse_args()
    args.oracle = args.oracle or args.oracle_only
    parts = set(args.only or ["churn", "forecast", "clv"])
    rules = ScoringRules(revenue=RevenueSpec(source="invoices", rates=usd_rates()))
    if args.horizon is not None:
        rules = rules.model_copy(update={"churn_model": rules.churn_model.model_copy(
            update={"horizon_days": args.horizon})})
    horizon = rules.churn_model.horizon_days
    if args.as_of + timedelta(days=horizon) > NOW:
        parser.error(f"--as-of {args.as_of} + {horizon} days ends after the data (2026-11-01)")
    for seed in args.seeds:
        t0 = time.perf_counter()
        generated = list(synthetic_customers(args.customers, seed))
        customers = [g.activity for g in generated]
        stops = {g.activity.golden_id: g.stops_on for g in generated}
        print(f"\n=== seed {seed}: {len(customers):,} customers generated in {time.perf_counter() - t0:.1f}s")
        truths = None
        if args.oracle:
            from oracle_scores import truths as read_truths

            t1 = time.process_time()
            truths = read_truths(args.customers, seed)
            print(f"  oracle: hidden parameters read back in {time.process_time() - t1:.1f} CPU s")
        if "churn" in parts and truths is not None:
            t1 = time.process_time()
            print("\n".join(churn_oracle_lines(generated, truths, rules, args.as_of, args.paths)))
            print(f"  ({time.process_time() - t1:.1f} CPU s)")
        if "forecast" in parts and truths is not None:
            t1 = time.process_time()
            origins = [NOW - timedelta(days=rules.forecast.period_days * k) for k in range(args.origins, 0, -1)]
            print("\n".join(forecast_oracle_lines(customers, truths, rules, origins, max(1, args.paths // 2))))
            print(f"  ({time.process_time() - t1:.1f} CPU s)")
        if args.oracle_only:
            continue
        if "churn" in parts:
            t1 = time.perf_counter()
            end = args.as_of.toordinal() + horizon

            def truth(activity, stops=stops, end=end) -> bool:
                stop = stops[activity.golden_id]
                return stop is not None and stop.toordinal() <= end

            report = backtest_churn(customers, rules, args.as_of, truth=truth, lead_times=not args.no_lead_times)
            print("\n".join(churn_lines(report)))
            print(f"  ({time.perf_counter() - t1:.1f}s; truth: the generator's churning customers whose orders "
                  f"stop before {date.fromordinal(end)})")
        if "forecast" in parts:
            t1 = time.perf_counter()
            period = rules.forecast.period_days
            results = [backtest_forecast(customers, rules, NOW - timedelta(days=period * k))
                       for k in range(args.origins, 0, -1)]
            print("\n".join(forecast_lines(results, period)))
            print(f"  ({time.perf_counter() - t1:.1f}s)")
        if "clv" in parts:
            t1 = time.perf_counter()
            print("\n".join(clv_lines(backtest_clv(customers, rules, CLV_AS_OF, days=365))))
            print(f"  ({time.perf_counter() - t1:.1f}s)")


def churn_oracle_lines(generated: list[SyntheticCustomer], truths: list, rules: ScoringRules, as_of: date,
                       paths: int) -> list[str]:
    """The oracle's churn probability ranked against the outcome and the truth, as the scores are."""
    from oracle_scores import churn_oracle

    horizon, active = rules.churn_model.horizon_days, rules.churn_model.active_days
    probability = churn_oracle(truths, as_of, horizon, paths=paths)
    end = as_of.toordinal() + horizon
    scores: list[float] = []
    labels: list[int] = []
    true_labels: list[int] = []
    for g, p in zip(generated, probability, strict=True):
        if not is_active(compute_measures(g.activity, rules.revenue, as_of), active):
            continue
        scores.append(float(p))
        labels.append(int(churned_after(g.activity, rules, as_of, horizon)))
        true_labels.append(int(g.stops_on is not None and g.stops_on.toordinal() <= end))
    n = len(labels)
    return [f"churn oracle: as of {as_of}, {n:,} active customers, {sum(labels) / n:.1%} placed no order in the "
            f"next {horizon} days; the oracle expected {sum(scores) / n:.1%} ({paths:,} paths a customer)",
            f"  {'score':<18}{'AUC':>7}{'top 10%':>9}{'truth AUC':>11}{'truth top 10%':>15}",
            f"  {'oracle':<18}{auc(scores, labels):>7.3f}{top_precision(scores, labels):>9.1%}"
            f"{auc(scores, true_labels):>11.3f}{top_precision(scores, true_labels):>15.1%}"]


def naive_forecast(customers: list[CustomerActivity], rules: ScoringRules, origin: date) -> list[float]:
    """The last period again, as the forecast backtest's naive method (sync.enrich.backtest.forecast_all)."""
    per = max(1, round(rules.forecast.period_days / 7))
    out = []
    for activity in customers:
        terminated = activity.terminated_on is not None and activity.terminated_on < origin
        series = [] if terminated else weekly_series(activity, rules, origin, 156)
        out.append(max(0.0, _period_sums(series, per, 1)[0]) if any(v > 0 for v in series) else 0.0)
    return out


def forecast_oracle_lines(customers: list[CustomerActivity], truths: list, rules: ScoringRules,
                          origins: list[date], paths: int) -> list[str]:
    """The oracle's mean and median revenue per customer, WAPE (total error) beside naive; and what a
    model reading only the history can reach: the oracle on customers with a revenue document before
    the origin (others forecast 0, as every model here does), and a renewal model of order rhythm."""
    from oracle_scores import forecast_oracle, wape
    from renewal_forecast import renewal_forecast

    from sync.enrich.measures import revenue_events

    period = rules.forecast.period_days
    lines = [f"forecast oracle: revenue in the {period} days after each origin ({paths:,} paths a customer)",
             f"  {'origin':<12}{'forecast':<42}{'WAPE':>7}{'total error':>13}{'below naive':>13}"]
    for origin in origins:
        actual = actual_revenue(customers, rules, origin)
        mean, median = forecast_oracle(truths, origin, period, paths=paths)
        bought = [any(is_doc for *_rest, is_doc in revenue_events(c, rules.revenue, origin)) for c in customers]
        renewal, hazard = renewal_forecast(customers, rules, origin)
        known = [m if b else 0.0 for m, b in zip(mean, bought, strict=True)]
        rows = [("naive", naive_forecast(customers, rules, origin)),
                ("oracle mean", list(mean)), ("oracle median", list(median)),
                ("oracle mean, customers who bought before", known),
                (f"renewal from history (hazard {hazard:.5f}/day)", renewal)]
        naive = wape(rows[0][1], actual)[0]
        for k, (name, forecast) in enumerate(rows):
            w, e = wape(forecast, actual)
            lines.append(f"  {origin.isoformat() if k == 0 else '':<12}{name:<42}{w:>7.1%}{e:>+13.1%}"
                         f"{100 * (naive - w):>13.1f}")
    return lines

if __name__ == "__main__":
    main()
