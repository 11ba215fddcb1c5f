"""Extract N Accounts from the local Salesforce stand-in via REST and via Bulk 2.0.

    .venv/bin/python bench/bench_salesforce_extract.py            # 100,000 Accounts
    .venv/bin/python bench/bench_salesforce_extract.py --accounts 20000

Prints, for each API, records/s through the whole tap (auth, count, query, typing, Singer
messages written to a null sink) and the API calls it cost. The stand-in runs in this process
on loopback HTTPS, so the figures measure crm2's client and tap, not a network.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

from connectors.salesforce.standin import SalesforceStandIn
from connectors.salesforce.tap import TapSalesforce

SECRET_ENV = "CRM2_BENCH_SF_CLIENT_SECRET"


class _CountingSink(io.TextIOBase):
    """stdout replacement: counts RECORD lines, keeps nothing."""

    def __init__(self) -> None:
        self.records = 0

    def write(self, text: str) -> int:
        self.records += text.count('"type":"RECORD"')
        return len(text)

    def flush(self) -> None:
        pass


def make_accounts(n: int) -> list[dict[str, object]]:
    kinds = ["Customer - Direct", "Customer - Channel", "Channel Partner / Reseller", "Supplier"]
    rows = []
    for i in range(n):
        # ~20 rows share each second, as after a mass update: the tie-breaking path is exercised.
        stamp = f"2026-{1 + i % 12:02d}-{1 + (i // 12) % 28:02d}T{(i // 336) % 24:02d}:{(i // 8064) % 60:02d}:00Z"
        rows.append({
            "Id": f"001BENCH{i:010d}",
            "Name": f"Bench Account {i}",
            "Type": kinds[i % len(kinds)],
            "Industry": "Manufacturing",
            "Website": f"https://bench{i}.example",
            "BillingCity": "Lyon",
            "BillingCountry": "FR",
            "Tax_Id__c": f"FR{i:011d}",
            "CreatedDate": stamp,
            "LastModifiedDate": stamp,
            "SystemModstamp": stamp,
        })
    return rows


def run_tap(standin: SalesforceStandIn, *, bulk: bool) -> tuple[int, float, int]:
    config = {
        "instance_url": standin.url,
        "ca_bundle": str(standin.ca_path),
        "client_id": standin.credentials["client_id"],
        "client_secret_env": SECRET_ENV,
        "objects": ["Account"],
        "bulk_threshold": 0 if bulk else None,
        "page_size": 2000,
        "bulk_poll_max": 0.5,
    }
    sink = _CountingSink()
    started = time.perf_counter()
    tap = TapSalesforce(config=config)
    with contextlib.redirect_stdout(sink):
        tap.sync_all()
    elapsed = time.perf_counter() - started
    return sink.records, elapsed, tap.client.budget.calls + tap.client.budget.auth_calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crm2-bench-sf-") as tmp:
        standin = SalesforceStandIn(Path(tmp) / "org.sqlite", host="127.0.0.1", port=0, daily_limit=10_000_000)
        standin.start()
        try:
            t0 = time.perf_counter()
            standin.insert("Account", make_accounts(args.accounts))
            print(f"seeded {args.accounts:,} Accounts in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
            os.environ[SECRET_ENV] = standin.credentials["client_secret"]
            print(f"{'api':<9}{'records':>10}{'seconds':>10}{'records/s':>12}{'api calls':>11}")
            for label, bulk in (("REST", False), ("Bulk 2.0", True)):
                n, secs, calls = run_tap(standin, bulk=bulk)
                if n != args.accounts:
                    print(f"{label}: extracted {n} of {args.accounts} records", file=sys.stderr)
                    return 1
                print(f"{label:<9}{n:>10,}{secs:>10.2f}{n / secs:>12,.0f}{calls:>11}")
        finally:
            standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
