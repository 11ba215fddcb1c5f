"""Write back N changed Accounts through the real pipe, via sObject Collections and via Bulk API 2.0.

    .venv/bin/python bench/bench_writeback.py                 # 10,000 Accounts
    .venv/bin/python bench/bench_writeback.py --accounts 2000

``tap-crm2 | target-crm2-salesforce`` run as two processes against the Salesforce stand-in
(in this process, loopback HTTPS). The store holds N golden customers, each linked to one
Account. Three runs:

1. every Account changed, Collections (bulk_threshold above N);
2. every Account changed again (new scores), Bulk API 2.0 (bulk_threshold 1);
3. nothing changed: must cost no API call at all.

For each: wall time, records/s, API calls the target made (and token requests apart), and the
calls the stand-in served, writes among them. Targets: <= 50 calls with Collections for 10k,
<= 5 with Bulk 2.0 (auth excluded).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.salesforce.standin import SalesforceStandIn
from sync.shipped import MAPPINGS
from sync.store import Store
from sync.store.schema import crosswalk, golden

SECRET_ENV = "CRM2_BENCH_SF_CLIENT_SECRET"
BIN = Path(sys.executable).parent
STAMP = datetime(2026, 11, 1, tzinfo=UTC)


def account_id(i: int) -> str:
    return f"001WBENCH{i:09d}"


def data(i: int, round_: int) -> dict[str, Any]:
    computed = "2026-11-01T00:00:00Z"
    return {"name": f"Bench Customer {i}", "tier": "ABC"[(i + round_) % 3], "lifecycle_stage": "stable",
            "scores": {
                "health": {"value": round(40 + (i * 7 + round_) % 60 + 0.25, 2), "band": "watch",
                           "computed_at": computed},
                "churn_risk": {"value": round((i * 3 + round_) % 90 + 0.5, 2), "band": "low", "computed_at": computed,
                               "reasons": [{"factor": "long_silence", "contribution": 10.0 + round_}]},
                "clv": {"value": f"{1000 + i}.{round_ % 100:02d}", "computed_at": computed},
                "forecast": {"value": f"{500 + i}.00", "computed_at": computed},
            }}


def fill_store(db: Path, n: int) -> None:
    with Store.open(db) as store, store.begin() as conn:
        conn.execute(golden.insert(), [
            {"golden_id": f"CUS-{i:08d}", "entity": "customer", "data": data(i, 0), "merged_into": None,
             "created_at": STAMP, "updated_at": STAMP} for i in range(n)])
        conn.execute(crosswalk.insert(), [
            {"source_system": "salesforce", "source_object": "Account", "source_id": account_id(i),
             "entity": "customer", "golden_id": f"CUS-{i:08d}", "content_hash": "h", "status": "loaded",
             "updated_at": STAMP} for i in range(n)])


def rescore(db: Path, n: int, round_: int) -> None:
    """What an enrich run does: new values, a newer updated_at."""
    import sqlalchemy as sa

    stamp = STAMP + timedelta(days=round_)
    with Store.open(db) as store, store.begin() as conn:
        conn.execute(golden.update().where(golden.c.golden_id == sa.bindparam("gid")).values(
            data=sa.bindparam("new_data"), updated_at=stamp),
            [{"gid": f"CUS-{i:08d}", "new_data": data(i, round_)} for i in range(n)])


def run_pipe(tmp: Path, db: Path, sf: SalesforceStandIn, **settings: Any) -> tuple[float, dict[str, Any]]:
    n = len(list(tmp.glob("target-*.json")))
    out = tmp / f"out-{n}"
    target_cfg = {"instance_url": sf.url, "ca_bundle": str(sf.ca_path), "client_id": sf.credentials["client_id"],
                  "client_secret_env": SECRET_ENV, "store_url": str(db), "mapping": str(MAPPINGS / "writeback.yml"),
                  "output_dir": str(out), "bulk_poll_initial": 0.5, **settings}
    (tmp / f"target-{n}.json").write_text(json.dumps(target_cfg))
    (tmp / f"tap-{n}.json").write_text(json.dumps({"store_url": str(db), "full_refresh": True}))
    start = time.perf_counter()
    tap = subprocess.Popen([str(BIN / "tap-crm2"), "--config", str(tmp / f"tap-{n}.json")], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
    target = subprocess.run([str(BIN / "target-crm2-salesforce"), "--config", str(tmp / f"target-{n}.json")],
                            stdin=tap.stdout, capture_output=True, text=True, check=False)
    tap.wait()
    seconds = time.perf_counter() - start
    if target.returncode != 0:
        sys.exit(f"target exited {target.returncode}:\n{target.stderr[-3000:]}")
    return seconds, json.loads((out / "summary.json").read_text())


def report(label: str, n: int, seconds: float, summary: dict[str, Any], served: dict[str, int]) -> None:
    counts = summary["counts"]
    print(f"{label:<28} {counts['written']:>7,} written in {seconds:6.2f}s ({counts['written'] / seconds:8,.0f}/s)"
          f"  target API calls {summary['api_calls']:>3} (+{summary['auth_calls']} auth)"
          f"  stand-in served rest={served['rest']} bulk={served['bulk']} auth={served['auth']}"
          f" writes={served['writes']}")


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    n = parser.parse_args().accounts
    with tempfile.TemporaryDirectory(prefix="crm2-bench-wb-") as folder:
        tmp = Path(folder)
        sf = SalesforceStandIn(tmp / "org.sqlite", host="127.0.0.1", port=0, daily_limit=1_000_000)
        sf.start()
        try:
            os.environ[SECRET_ENV] = sf.credentials["client_secret"]
            sf.insert("Account", [{"Id": account_id(i), "Name": f"Bench Customer {i}"} for i in range(n)])
            db = tmp / "store.sqlite"
            fill_store(db, n)
            print(f"{n:,} golden customers, each linked to one Account; pipe: tap-crm2 | target-crm2-salesforce")

            before = sf.api_calls()
            seconds, summary = run_pipe(tmp, db, sf, bulk_threshold=n + 1)
            report("Collections (200/call)", n, seconds, summary, delta(sf.api_calls(), before))

            rescore(db, n, 1)
            before = sf.api_calls()
            seconds, summary = run_pipe(tmp, db, sf, bulk_threshold=1)
            report("Bulk API 2.0 (one job)", n, seconds, summary, delta(sf.api_calls(), before))

            before = sf.api_calls()
            seconds, summary = run_pipe(tmp, db, sf)
            served = delta(sf.api_calls(), before)
            print(f"{'unchanged rerun':<28} {summary['counts']['unchanged']:>7,} unchanged in {seconds:6.2f}s"
                  f"  target API calls {summary['api_calls']} (+{summary['auth_calls']} auth)"
                  f"  stand-in served {sum(v for k, v in served.items() if k != 'writes')}")
        finally:
            sf.stop()


if __name__ == "__main__":
    main()
