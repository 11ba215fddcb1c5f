"""Benchmark the enrichment engine: customers/s for scoring, and a backtest of the revenue forecast.

    .venv/bin/python bench/bench_enrich.py                 # 100k customers
    .venv/bin/python bench/bench_enrich.py --customers 20000 --seed 7
    .venv/bin/python bench/bench_enrich.py --store 5000      # through the store: read, score, write

Activity is generated here (seeded, deterministic) until synthetic's mapped entities can
feed the engine: each customer has a size, a pattern (steady, growing, declining, churning,
new, seasonal) and orders, invoices, cases and surveys drawn from it. Models are built with
``model_construct`` so the figures measure scoring, not test-data validation.
"""

from __future__ import annotations

import argparse
import math
import random
import time
import tracemalloc
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sync.enrich import CustomerActivity, ScoringRules, score_customers, survey_population
from sync.enrich.forecast import forecast_revenue
from sync.enrich.measures import revenue_events
from sync.model import Invoice, Order, ServiceCase, SourceRef, Survey, SurveyKind

AS_OF = date(2026, 11, 1)
START = AS_OF - timedelta(days=3 * 365)
PATTERNS = ("steady", "steady", "steady", "growing", "declining", "churning", "new", "seasonal")
CENT = Decimal("0.01")


def _stamp(day: date, rnd: random.Random) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(minutes=rnd.randrange(24 * 60))


def make_customer(i: int, seed: int) -> CustomerActivity:
    rnd = random.Random(seed * 1_000_003 + i)
    pattern = rnd.choice(PATTERNS)
    monthly = math.exp(rnd.gauss(7.0, 1.3))           # Pareto-like spread of customer sizes
    gap = rnd.choice((14, 21, 30, 30, 45, 60, 90))     # typical days between orders
    begin = START + timedelta(days=rnd.randrange(0, 900) if pattern == "new" else rnd.randrange(0, 120))
    end = AS_OF - timedelta(days=rnd.randrange(120, 600)) if pattern == "churning" else AS_OF
    orders, invoices = [], []
    day, n = begin, 0
    while day < end:
        t = (day - START).days / (3 * 365)
        trend = {"growing": 0.5 + t, "declining": 1.5 - t, "seasonal": 1 + 0.5 * math.sin(2 * math.pi * t * 3)}
        amount = monthly * gap / 30 * trend.get(pattern, 1.0) * rnd.lognormvariate(0, 0.35)
        total = Decimal(str(round(amount, 2)))
        cost = (total * Decimal(str(round(rnd.uniform(0.5, 0.85), 2)))).quantize(CENT)
        ref = SourceRef.model_construct(system="sales", object="orders", id=f"SO-{i}-{n}")
        orders.append(Order.model_construct(source=ref, ordered_at=_stamp(day, rnd), total=total, cost=cost,
                                            currency="EUR", status="closed"))
        n += 1
        day += timedelta(days=max(1, int(rnd.expovariate(1 / gap))))
        if (AS_OF - day).days > 240:  # only recent invoices can still be open; older ones add nothing here
            continue
        due = day + timedelta(days=30)
        late = rnd.random() < 0.08
        paid = None if late and rnd.random() < 0.5 else due + timedelta(days=rnd.randrange(-20, 60 if late else 5))
        invoices.append(Invoice.model_construct(
            source=SourceRef.model_construct(system="finance", object="invoices", id=f"INV-{i}-{n}"),
            issued_on=day, due_on=due, amount=total, currency="EUR", status="paid" if paid else "open", paid_on=paid))
    cases = []
    for k in range(rnd.randrange(0, 4)):
        opened = _stamp(AS_OF - timedelta(days=rnd.randrange(1, 700)), rnd)
        cases.append(ServiceCase.model_construct(
            source=SourceRef.model_construct(system="salesforce", object="Case", id=f"500-{i}-{k}"),
            opened_at=opened, first_response_at=opened + timedelta(hours=rnd.uniform(0.2, 60)),
            closed_at=None if rnd.random() < 0.15 else opened + timedelta(hours=rnd.uniform(2, 400)),
            complaint=rnd.random() < 0.25, priority="medium"))
    surveys = [Survey.model_construct(
        source=SourceRef.model_construct(system="salesforce", object="Survey_Response__c", id=f"a01-{i}-{k}"),
        kind=SurveyKind.CSAT if k % 2 else SurveyKind.NPS,
        score=float(rnd.randint(1, 5) if k % 2 else rnd.randint(0, 10)),
        responded_at=_stamp(AS_OF - timedelta(days=rnd.randrange(1, 500)), rnd)) for k in range(rnd.randrange(0, 4))]
    terminated = AS_OF - timedelta(days=rnd.randrange(1, 300)) if rnd.random() < 0.01 else None
    return CustomerActivity(f"G{i:07d}", created_at=_stamp(begin, rnd), terminated_on=terminated,
                            orders=orders, invoices=invoices, cases=cases, surveys=surveys)


def backtest(customers: list[CustomerActivity], rules: ScoringRules, origins: int = 4) -> None:
    """Forecast from past origins and compare with what happened in the following period."""
    spec, period = rules.forecast, rules.forecast.period_days
    print(f"\nforecast backtest: next {period} days, {origins} origins, {len(customers)} customers")
    print(f"{'origin':<12}{'actual':>16}{'forecast':>16}{'total err':>11}{'WAPE':>8}"
          f"{'naive WAPE':>12}{'mean-4 WAPE':>13}")
    for k in range(origins, 0, -1):
        origin = AS_OF - timedelta(days=period * k)
        actual_total = forecast_total = abs_err = naive_err = mean_err = Decimal(0)
        for c in customers:
            later = revenue_events(c, rules.revenue, origin + timedelta(days=period))
            actual = sum((a for ago, a, _, _ in later if ago <= period), Decimal(0))
            events = revenue_events(c, rules.revenue, origin)
            terminated = c.terminated_on is not None and c.terminated_on < origin
            forecast, _ = forecast_revenue(events, spec, terminated)
            periods = [sum((a for ago, a, _, _ in events if p * period < ago <= (p + 1) * period), Decimal(0))
                       for p in range(4)]
            actual_total += actual
            forecast_total += forecast
            abs_err += abs(forecast - actual)
            naive_err += abs(periods[0] - actual)
            mean_err += abs(sum(periods) / 4 - actual)
        print(f"{origin.isoformat():<12}{actual_total:>16,.2f}{forecast_total:>16,.2f}"
              f"{(forecast_total - actual_total) / actual_total:>11.1%}{abs_err / actual_total:>8.1%}"
              f"{naive_err / actual_total:>12.1%}{mean_err / actual_total:>13.1%}")


def store_run(n: int, seed: int, rules: ScoringRules) -> None:
    """Stage generated activity in a throwaway SQLite store and time enrich_store end to end."""
    import tempfile
    from pathlib import Path

    from sync.enrich.store_io import enrich_store
    from sync.store.schema import crosswalk, golden, staging
    from sync.store.store import Store, to_json

    stamp = datetime(2026, 11, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "bench.sqlite") as store:
        t0 = time.perf_counter()
        rows = 0
        for start in range(0, n, 500):
            gold, xwalk, staged = [], [], []
            for i in range(start, min(n, start + 500)):
                c = make_customer(i, seed)
                account = f"ACC-{i}"
                gold.append({"golden_id": c.golden_id, "entity": "customer", "data": {"name": f"Customer {i}"},
                             "created_at": stamp, "updated_at": stamp})
                ref = {"source_system": "sales", "source_object": "accounts", "source_id": account}
                xwalk.append({**ref, "entity": "customer", "golden_id": c.golden_id, "content_hash": "-",
                              "updated_at": stamp})
                staged.append({**ref, "entity": "customer", "data": {"name": f"Customer {i}",
                               "created_at": c.created_at.isoformat() if c.created_at else None},
                               "content_hash": "-", "updated_at": stamp})
                for entity, system, items in (("order", "sales", c.orders), ("invoice", "sales", c.invoices),
                                              ("service_case", "sales", c.cases), ("survey", "sales", c.surveys)):
                    for item in items:
                        data = to_json({k: v for k, v in item.__dict__.items() if k != "source"})
                        staged.append({"source_system": system, "source_object": item.source.object,
                                       "source_id": item.source.id, "entity": entity,
                                       "data": {**data, "customer": account}, "content_hash": "-",
                                       "updated_at": stamp})
            with store.begin() as conn:
                conn.execute(golden.insert(), gold)
                conn.execute(crosswalk.insert(), xwalk)
                conn.execute(staging.insert(), staged)
            rows += len(staged)
        t1 = time.perf_counter()
        summary = enrich_store(store.engine, rules, AS_OF, run_id="bench")
        t2 = time.perf_counter()
        again = enrich_store(store.engine, rules, AS_OF, run_id="bench-2")
        t3 = time.perf_counter()
        full = enrich_store(store.engine, rules, AS_OF, run_id="bench-3", incremental=False)
        t4 = time.perf_counter()
    print(f"\nstore (SQLite): staged {rows:,} rows for {n:,} customers in {t1 - t0:.1f}s")
    print(f"enrich_store: {t2 - t1:.2f}s  {n / (t2 - t1):,.0f} customers/s  (read both passes, score, write "
          f"{summary.written.updated:,} records)")
    print(f"enrich_store rerun: {t3 - t2:.2f}s  {n / (t3 - t2):,.0f} customers/s  "
          f"({again.written.updated} written, {again.written.unchanged:,} unchanged, {again.rescored:,} re-scored: "
          f"{again.why})")
    print(f"enrich_store rerun, everyone re-scored (incremental=False): {t4 - t3:.2f}s  "
          f"({full.written.updated} written, {full.rescored:,} re-scored)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--backtest-customers", type=int, default=20_000)
    parser.add_argument("--store", type=int, default=0, metavar="N",
                        help="only time enrich_store over N customers staged in a throwaway SQLite store")
    parser.add_argument("--alpha", type=Decimal, default=None, help="forecast smoothing (default: the rules')")
    args = parser.parse_args()
    rules = ScoringRules()
    if args.alpha is not None:
        rules = rules.model_copy(update={"forecast": rules.forecast.model_copy(update={"alpha": args.alpha})})
    if args.store:
        store_run(args.store, args.seed, rules)
        return

    t0 = time.perf_counter()
    customers = [make_customer(i, args.seed) for i in range(args.customers)]
    t1 = time.perf_counter()
    orders = sum(len(c.orders) for c in customers)
    print(f"generated {len(customers):,} customers, {orders:,} orders, "
          f"{sum(len(c.invoices) for c in customers):,} invoices in {t1 - t0:.1f}s")

    t2 = time.perf_counter()
    population = survey_population(customers, rules, AS_OF)
    t3 = time.perf_counter()
    tiers: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    total_forecast = Decimal(0)
    for result in score_customers(customers, rules, AS_OF, population):
        tiers[result.tier.value] += 1
        stages[result.lifecycle_stage.value] += 1
        total_forecast += result.forecast
    t4 = time.perf_counter()
    n = len(customers)
    print(f"pass 1 (population: tier cut-offs, RFM): {t3 - t2:.2f}s  {n / (t3 - t2):,.0f} customers/s")
    print(f"pass 2 (all scores):                     {t4 - t3:.2f}s  {n / (t4 - t3):,.0f} customers/s")
    print(f"end to end:                              {t4 - t2:.2f}s  {n / (t4 - t2):,.0f} customers/s")
    print("tiers:", dict(sorted(tiers.items())), " stages:", dict(sorted(stages.items())))
    print(f"total forecast next {rules.forecast.period_days} days: {total_forecast:,.2f}")
    tracemalloc.start()
    survey_population(customers, rules, AS_OF)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"pass 1 peak memory beyond the input: {peak / 2**20:.1f} MiB ({peak / n:.0f} bytes a customer)")
    backtest(customers[: args.backtest_customers], rules)


if __name__ == "__main__":
    main()
