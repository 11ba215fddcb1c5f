"""Benchmark the console: time to serve the key-accounts page, a customer 360 and the report for N customers.

    .venv/bin/python bench/bench_console.py                  # 20k golden customers
    .venv/bin/python bench/bench_console.py --customers 100000

Golden customers are written straight into a fresh SQLite store with stored scores shaped like
enrichment's (tier, churn-risk factors, health, satisfaction), so the figures measure reading
and rendering, not scoring. Pages are requested through Starlette's TestClient (no network),
signed in as a viewer; each figure is the median of --repeat requests.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from starlette.testclient import TestClient

from sync import report
from sync.access import Role
from sync.console.app import create_app
from sync.console.users import add_user
from sync.store import Store
from sync.store.schema import golden


def record(i: int, rnd: random.Random) -> dict:
    risk = round(rnd.random() * 90, 2)
    return {"name": f"Customer {i:06d} Co., Ltd.", "email": f"owner{i}@example.com", "tier": rnd.choice("AABCCC"),
            "lifecycle_stage": rnd.choice(["growth", "stable", "at_risk", "churned"]),
            "lineage": {"name": {"source": f"salesforce/Account/{i}", "rule": "source_priority"}},
            "scores": {
                "tier": {"name": "tier", "value": "A", "reasons": [
                    {"factor": "revenue_12m", "value": f"{rnd.random() * 1e6:.2f}", "contribution": 1.0}]},
                "churn_risk": {"name": "churn_risk", "value": risk, "band": "high" if risk > 60 else "low", "reasons": [
                    {"factor": "falling_revenue", "value": -rnd.random(), "contribution": risk / 2,
                     "note": "revenue_change_6m = -0.5; 0 at 0, full at -0.6"},
                    {"factor": "long_silence", "value": rnd.randrange(400), "contribution": risk / 2,
                     "note": "days_since_last_activity = 100; 0 at 45, full at 180"}]},
                "health": {"name": "health", "value": 100 - risk, "band": "watch", "reasons": []},
                "satisfaction": {"name": "satisfaction", "value": rnd.random() * 100, "reasons": []}}}


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rnd = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "bench.sqlite") as store:
        now = datetime.now(UTC)
        with store.begin() as conn:
            for start in range(0, args.customers, 5000):
                conn.execute(golden.insert(), [
                    {"golden_id": f"G{i:07d}", "entity": "customer", "created_at": now, "updated_at": now,
                     "data": record(i, rnd)} for i in range(start, min(start + 5000, args.customers))])
        add_user(store, "bench", "bench-password-1", Role.VIEWER)
        with TestClient(create_app(store, secret="b" * 40), base_url="http://127.0.0.1") as client:
            page = client.get("/login").text
            csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            client.post("/login", data={"csrf": csrf, "name": "bench", "password": "bench-password-1"})
            figures = {
                "key accounts (first 500 by revenue)": lambda: client.get("/accounts"),
                "key accounts, tier A, by churn risk": lambda: client.get("/accounts?tier=A&sort=risk"),
                "key accounts CSV (all)": lambda: client.get("/accounts.csv"),
                "customer 360": lambda: client.get("/customers/G0000042"),
            }
            print(f"console, {args.customers:,} golden customers, median of {args.repeat} (SQLite, one process):")
            for name, fn in figures.items():
                assert fn().status_code == 200, name
                print(f"  {name:<40} {median_seconds(fn, args.repeat) * 1000:>9,.0f} ms")
        seconds = median_seconds(lambda: report.render(report.collect(store)), 1)
        print(f"  {'crm2 report (collect + render)':<40} {seconds * 1000:>9,.0f} ms")


if __name__ == "__main__":
    main()
