"""Backtest crm2's scores on generated data: churn risk, forecast and CLV against what happened next.

    .venv/bin/python bench/bench_scores.py                          # 20,000 customers, seeds 42 and 7
    .venv/bin/python bench/bench_scores.py --customers 4000 --seeds 42
    .venv/bin/python bench/bench_scores.py --only churn

Customers come from crm2's own generator (synthetic) as activity, as if mapping and
resolve were perfect (synthetic/activity.py), so the figures measure the scores alone. The
generator also says which customers follow a churning pattern and when they stop: the churn
table is judged both against the observed outcome (no order in the next N days — what
``crm2 scores backtest`` measures on a real store) and against that truth.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

from sync.enrich.backtest import backtest_churn, backtest_clv, backtest_forecast, churn_lines, clv_lines, forecast_lines
from sync.enrich.rules import RevenueSpec, ScoringRules
from synthetic.activity import synthetic_customers, usd_rates

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
    args = parser.parse_args()
    parts = set(args.only or ["churn", "forecast", "clv"])
    rules = ScoringRules(revenue=RevenueSpec(source="invoices", rates=usd_rates()))
    horizon = rules.churn_model.horizon_days
    for seed in args.seeds:
        t0 = time.perf_counter()
        generated = list(synthetic_customers(args.customers, seed))
        customers = [g.activity for g in generated]
        stops = {g.activity.golden_id: g.stops_on for g in generated}
        print(f"\n=== seed {seed}: {len(customers):,} customers generated in {time.perf_counter() - t0:.1f}s")
        if "churn" in parts:
            t1 = time.perf_counter()
            end = args.as_of.toordinal() + horizon

            def truth(activity, stops=stops, end=end) -> bool:
                stop = stops[activity.golden_id]
                return stop is not None and stop.toordinal() <= end

            report = backtest_churn(customers, rules, args.as_of, truth=truth)
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


if __name__ == "__main__":
    main()
