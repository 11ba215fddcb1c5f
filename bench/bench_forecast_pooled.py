"""Does a pooled model beat the per-customer forecasts? Gradient boosting on lags across customers.

    .venv/bin/python bench/bench_forecast_pooled.py                     # 4,000 customers, seed 42
    .venv/bin/python bench/bench_forecast_pooled.py --customers 4000 --seeds 42 7

An experiment for issue 18's forecast goal (customer-level quarterly WAPE 20 points below naive),
not a crm2 score: pooling across customers is the usual win for intermittent B2B demand, so this
fits scikit-learn's HistGradientBoostingRegressor on every customer's last eight quarters (scaled
by the customer's own mean quarter, weighted back by it so the loss counts money), weeks since its
last order and its order weeks, with the four quarters before each origin as training targets —
only data before the origin. Printed beside naive and mean_4 (as in bench_scores.py) for the same
customers and origins: WAPE and total error per loss (squared error: the mean; absolute error: the
median, which WAPE favours; quantile 0.6: in between).
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from sync.enrich.backtest import _period_sums, actual_revenue, weekly_series
from sync.enrich.rules import RevenueSpec, ScoringRules
from synthetic.activity import synthetic_customers, usd_rates

NOW = date(2026, 11, 1)
QUARTERS = 8
LOSSES: dict[str, dict[str, Any]] = {
    "gbm mean (squared)": {"loss": "squared_error"},
    "gbm median (absolute)": {"loss": "absolute_error"},
    "gbm quantile 0.6": {"loss": "quantile", "quantile": 0.6},
}


def features(customers, rules: ScoringRules, origin: date) -> np.ndarray:
    rows = []
    for c in customers:
        terminated = c.terminated_on is not None and c.terminated_on < origin
        series = [] if terminated else weekly_series(c, rules, origin, 156)
        quarters = _period_sums(series, 13, QUARTERS)
        order_weeks = [k for k, v in enumerate(reversed(series)) if v > 0]  # weeks ago, newest first
        rows.append([*quarters, order_weeks[0] if order_weeks else 999, sum(k < 52 for k in order_weeks),
                     len(order_weeks), len(series)])
    return np.array(rows, dtype=float)


def scaled(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quarters divided by the customer's mean quarter since its first order (1 for none)."""
    seen = np.clip(np.minimum(QUARTERS, np.ceil(x[:, QUARTERS + 3] / 13)), 1, None)
    level = x[:, :QUARTERS].sum(axis=1) / seen
    level = np.where(level > 0, level, 1.0)
    return np.column_stack([x[:, :QUARTERS] / level[:, None], x[:, QUARTERS:]]), level


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=4000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    args = parser.parse_args()
    rules = ScoringRules(revenue=RevenueSpec(source="invoices", rates=usd_rates()))
    period = rules.forecast.period_days
    for seed in args.seeds:
        t0 = time.process_time()
        customers = [g.activity for g in synthetic_customers(args.customers, seed)]
        cache: dict[date, tuple[np.ndarray, np.ndarray]] = {}

        def data(origin: date, customers=customers, cache=cache) -> tuple[np.ndarray, np.ndarray]:
            if origin not in cache:
                cache[origin] = (features(customers, rules, origin),
                                 np.array(actual_revenue(customers, rules, origin)))
            return cache[origin]

        print(f"\n=== seed {seed}: {len(customers):,} customers; revenue in the {period} days after each origin, "
              f"WAPE (total error)")
        for k in (2, 1):
            origin = NOW - timedelta(days=period * k)
            train = [data(origin - timedelta(days=period * j)) for j in (1, 2, 3, 4)]
            x_train, level_train = scaled(np.vstack([x for x, _ in train]))
            y_train = np.maximum(np.concatenate([y for _, y in train]), 0) / level_train
            raw, actual = data(origin)
            x, level = scaled(raw)
            seen = np.clip(np.minimum(4, np.ceil(raw[:, QUARTERS + 3] / 13)), 1, None)
            forecasts = {"naive": raw[:, 0], "mean_4": raw[:, :4].sum(axis=1) / seen}
            for name, loss in LOSSES.items():
                model = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, min_samples_leaf=50,
                                                      random_state=0, **loss)
                model.fit(x_train, y_train, sample_weight=level_train)
                forecasts[name] = np.maximum(model.predict(x), 0) * level
            total = actual.sum()
            print(f"  {origin}: " + ", ".join(
                f"{name} {np.abs(f - actual).sum() / total:.1%} ({f.sum() / total - 1:+.1%})"
                for name, f in forecasts.items()))
        print(f"  ({time.process_time() - t0:.0f} CPU s)")


if __name__ == "__main__":
    main()
