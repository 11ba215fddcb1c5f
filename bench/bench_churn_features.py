"""Which churn features lift the AUC against the observed outcome? An experiment for issue 18.

    .venv/bin/python bench/bench_churn_features.py                      # 4,000 customers, seeds 42 and 7
    .venv/bin/python bench/bench_churn_features.py --customers 20000 --seeds 42

Fits, as crm2's churn model does (sync/enrich/churn_model.py), on customers active one horizon
before 2026-05-01 and their outcome, then scores those active on 2026-05-01: logistic regression on
crm2's factors without and with ``usual_gap_days`` (the customer's rhythm, kept), with candidate
trends in order frequency added (not kept: below 0.005 AUC), and gradient boosting on the same
factors (a check that the ceiling is not the model's linearity). AUC and top-decile precision
against the observed outcome (no order in the next 180 days), and AUC against the generator's truth.
"""

from __future__ import annotations

import argparse
import itertools
import math
from datetime import date, timedelta

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from sync.enrich.backtest import auc, top_precision
from sync.enrich.churn_model import FEATURES, _usual_gap, churned_after, feature_vector, is_active
from sync.enrich.measures import compute_measures, revenue_events
from sync.enrich.rules import RevenueSpec, ScoringRules
from synthetic.activity import synthetic_customers, usd_rates

AS_OF = date(2026, 5, 1)
RHYTHM = [f.name for f in FEATURES].index("usual_gap_days")
TRENDS = ("orders_6m_vs_prev_6m", "orders_12m_vs_prev_12m", "last_3_gaps_vs_usual")


def trends(activity, rules: ScoringRules, measures, day: date) -> list[float]:
    """Log ratios: order days in the last 6 (12) months vs the 6 (12) before; mean of the last 3 gaps vs usual."""
    docs = sorted({ago for ago, _a, _m, is_doc in revenue_events(activity, rules.revenue, day) if is_doc})
    count = lambda lo, hi: sum(lo < ago <= hi for ago in docs)  # noqa: E731
    gaps = [b - a for a, b in itertools.pairwise(docs)][:3]
    usual = _usual_gap(measures)
    recent = sum(gaps) / len(gaps) if gaps else usual
    return [math.log1p(count(0, 182)) - math.log1p(count(182, 364)),
            math.log1p(count(0, 364)) - math.log1p(count(364, 728)), math.log(max(1.0, recent) / usual)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=4000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7])
    args = parser.parse_args()
    rules = ScoringRules(revenue=RevenueSpec(source="invoices", rates=usd_rates()))
    horizon = rules.churn_model.horizon_days
    for seed in args.seeds:
        generated = list(synthetic_customers(args.customers, seed))
        end = AS_OF + timedelta(days=horizon)

        def rows(day: date, generated=generated, end=end):
            x, extra, y, truth = [], [], [], []
            for g in generated:
                m = compute_measures(g.activity, rules.revenue, day)
                if not is_active(m, rules.churn_model.active_days):
                    continue
                x.append(feature_vector(m))
                extra.append(trends(g.activity, rules, m, day))
                y.append(int(churned_after(g.activity, rules, day, horizon)))
                truth.append(int(g.stops_on is not None and g.stops_on <= end))
            return np.array(x), np.array(extra), np.array(y), np.array(truth)

        x_fit, e_fit, y_fit, _ = rows(AS_OF - timedelta(days=horizon))
        x, e, y, truth = rows(AS_OF)
        without = [k for k in range(x.shape[1]) if k != RHYTHM]
        variants = {"crm2 factors without usual_gap_days": (x_fit[:, without], x[:, without]),
                    "crm2 factors (with usual_gap_days)": (x_fit, x)}
        for k, name in enumerate(TRENDS):
            variants[f"  + {name}"] = (np.hstack([x_fit, e_fit[:, [k]]]), np.hstack([x, e[:, [k]]]))
        variants["  + all three trends"] = (np.hstack([x_fit, e_fit]), np.hstack([x, e]))
        print(f"\n=== seed {seed}: {len(y):,} active customers as of {AS_OF}, "
              f"{y.mean():.1%} no order in {horizon} days")
        print(f"  {'features':<42}{'AUC':>7}{'top 10%':>9}{'truth AUC':>11}")

        def show(name: str, p: np.ndarray, y=y, truth=truth) -> None:
            print(f"  {name:<42}{auc(list(p), list(y)):>7.3f}{top_precision(list(p), list(y)):>9.1%}"
                  f"{auc(list(p), list(truth)):>11.3f}")

        for name, (fit, test) in variants.items():
            mean, sd = fit.mean(axis=0), fit.std(axis=0)
            sd[sd == 0] = 1.0
            model = LogisticRegression(max_iter=2000).fit((fit - mean) / sd, y_fit)
            show("logistic: " + name, model.predict_proba((test - mean) / sd)[:, 1])
        boosted = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=0)
        show("boosting: crm2 factors", boosted.fit(x_fit, y_fit).predict_proba(x)[:, 1])


if __name__ == "__main__":
    main()
