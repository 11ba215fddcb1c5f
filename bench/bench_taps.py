"""Rows/s of tap-crm2-finance and tap-crm2-sales, each run as the real console script.

    .venv/bin/python bench/bench_taps.py                    # 100,000 rows per tap
    .venv/bin/python bench/bench_taps.py --rows 20000       # quicker
    .venv/bin/python bench/bench_taps.py --tap sales --page-size 1000

finance: a SQLite ledger written with connectors/finance/ledger.py, ``--rows`` rows in all:
one customer per twenty rows, ten invoices, eight payments and one credit note each, change
times in runs of a hundred rows per second (the tie path of the incremental query is the hot
one). sales: the stand-in (in this process, loopback HTTP, no rate limit) loaded through its
``load`` with ``--rows`` orders; the tap reads every default endpoint, the others empty.

Each tap runs as a subprocess, as ``crm2 sync`` and Meltano run it, writing Singer messages into
a pipe that this script reads and only counts. Printed per tap: records, wall seconds (process
start to exit, so interpreter start-up is in), rows/s, the tap process's CPU seconds, and for
sales the HTTP requests the stand-in served. Programs run with compiled bytecode, as installed
(see bench/bytecode.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from bytecode import use_compiled_bytecode  # bench/ is on sys.path as the script's folder

from connectors.finance import ledger
from connectors.sales.standin import TOKEN_ENV, RateLimit, SalesStandIn
from connectors.sales.tap_config import PaginationConfig

BIN = Path(sys.executable).parent
RECORD = b'"type":"RECORD"'
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
TIE = 100
"""Rows sharing one change time."""


def _stamp(i: int) -> str:
    return (EPOCH + timedelta(seconds=i // TIE)).isoformat().replace("+00:00", "Z")


def _cents(rnd: random.Random, low: int, high: int) -> str:
    amount = rnd.randrange(low, high)
    return f"{amount // 100}.{amount % 100:02d}"


def finance_rows(n: int, seed: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """Exactly ``n`` ledger rows over the four tables, in the proportions of a real ledger."""
    rnd = random.Random(seed)
    plan = ["customers"] + ["invoices"] * 10 + ["payments"] * 8 + ["credit_notes"]
    counters = dict.fromkeys(plan, 0)
    for i in range(n):
        table = plan[i % len(plan)]
        k = counters[table]
        counters[table] += 1
        customer = f"C{i // len(plan):07d}"
        if table == "customers":
            yield table, {"customer_no": customer, "name": f"{rnd.choice(['Acme', 'Nordwind', '远航'])} {k} GmbH",
                          "tax_id": f"DE{rnd.randrange(10**9):09d}", "address": f"Hauptstr. {k % 200}",
                          "city": "Berlin", "postal_code": "10115", "country": "DE",
                          "phone": f"030 {rnd.randrange(10**6, 10**7)}", "email": f"billing{k}@example.com",
                          "currency": "EUR", "payment_terms_days": 30, "created_at": "2024-01-01T00:00:00Z",
                          "updated_at": _stamp(i)}
        elif table == "invoices":
            yield table, {"invoice_no": f"INV-{k:09d}", "customer_no": customer, "issue_date": "2026-02-01",
                          "due_date": "2026-03-03", "currency": "EUR", "net_amount": _cents(rnd, 100, 10**7),
                          "tax_amount": _cents(rnd, 0, 10**6), "total_amount": _cents(rnd, 100, 10**7),
                          "status": rnd.choice(["open", "paid", "overdue"]), "paid_date": None,
                          "updated_at": _stamp(i)}
        elif table == "payments":
            yield table, {"payment_id": f"PAY-{k:09d}", "invoice_no": f"INV-{k:09d}", "customer_no": customer,
                          "paid_at": _stamp(i), "amount": _cents(rnd, 100, 10**7), "currency": "EUR",
                          "method": rnd.choice(["wire", "card", "sepa"]), "updated_at": _stamp(i)}
        else:
            yield table, {"credit_note_no": f"CN-{k:09d}", "invoice_no": f"INV-{k:09d}", "customer_no": customer,
                          "issued_at": _stamp(i), "amount": _cents(rnd, 100, 10**5), "currency": "EUR",
                          "reason": "discount", "updated_at": _stamp(i)}


def sales_orders(n: int, seed: int) -> Iterator[tuple[str, dict[str, Any]]]:
    rnd = random.Random(seed)
    for i in range(n):
        yield "orders", {"id": f"SO-{i:010d}", "number": str(1_000_000 + i), "account_id": f"ACC-{i // 8:07d}",
                         "placed_at": _stamp(i), "status": rnd.choice(["open", "shipped", "cancelled"]),
                         "currency": "EUR", "total": _cents(rnd, 100, 10**7), "cost": _cents(rnd, 100, 10**6),
                         "channel": rnd.choice(["web", "phone", "partner"]), "updated_at": _stamp(i)}


class Run:
    """One tap process: its messages counted from the pipe, its wall and CPU time."""

    def __init__(self, tap: str, config: dict[str, Any], workdir: Path, env: dict[str, str] | None = None) -> None:
        path = workdir / f"{tap}.json"
        path.write_text(json.dumps(config))
        self.cmd = [str(BIN / tap), "--config", str(path)]
        self.env = {**os.environ, **(env or {})}
        self.records = 0
        self.seconds = 0.0
        self.cpu = 0.0

    def go(self) -> Run:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_before = usage.ru_utime + usage.ru_stime
        started = time.perf_counter()
        with subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env) as proc:
            out, err = proc.stdout, proc.stderr
            assert out is not None and err is not None
            stderr: list[bytes] = []
            # The tap logs to stderr as it goes; unread, a full stderr pipe would stall it.
            drain = threading.Thread(target=lambda: stderr.append(err.read()), daemon=True)
            drain.start()
            self._count(out)
            code = proc.wait()
            drain.join()
        self.seconds = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu = usage.ru_utime + usage.ru_stime - cpu_before
        if code != 0:
            sys.exit(f"{self.cmd[0]} failed ({code}):\n{b''.join(stderr).decode(errors='replace')[-3000:]}")
        return self

    def _count(self, stdout: IO[bytes]) -> None:
        """Count RECORD messages a chunk at a time, keeping nothing else."""
        tail = b""
        while chunk := stdout.read1(1 << 20):  # type: ignore[attr-defined]
            # Whole lines only; the partial last one waits for the next chunk, so a marker cut
            # in two by the pipe is still counted once.
            data = tail + chunk
            cut = data.rfind(b"\n") + 1
            self.records += data.count(RECORD, 0, cut)
            tail = data[cut:]
        self.records += tail.count(RECORD)


def bench_finance(rows: int, seed: int, workdir: Path) -> Run:
    path = workdir / "finance.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    started = time.perf_counter()
    counts = ledger.load(engine, finance_rows(rows, seed))
    engine.dispose()
    mix = ", ".join(f"{n:,} {table}" for table, n in counts.items())
    print(f"finance: seeded {sum(counts.values()):,} rows ({mix}) in {time.perf_counter() - started:.1f}s",
          flush=True)
    run = Run("tap-crm2-finance", {"url": f"sqlite:///{path}"}, workdir).go()
    if run.records != rows:
        sys.exit(f"finance: the tap emitted {run.records:,} records of {rows:,}")
    return run


def bench_sales(rows: int, seed: int, workdir: Path, page_size: int | None) -> tuple[Run, int]:
    standin = SalesStandIn(rate_limit=RateLimit())
    started = time.perf_counter()
    standin.load(sales_orders(rows, seed))
    print(f"sales: seeded {rows:,} orders in {time.perf_counter() - started:.1f}s", flush=True)
    config: dict[str, Any] = {"base_url": standin.url, "auth": {"type": "bearer", "token_env": TOKEN_ENV}}
    if page_size is not None:
        config["endpoints"] = {"orders": {"pagination": {"size": page_size}}}
    standin.start()
    try:
        run = Run("tap-crm2-sales", config, workdir, env={TOKEN_ENV: standin.token}).go()
    finally:
        standin.stop()
    if run.records != rows:
        sys.exit(f"sales: the tap emitted {run.records:,} records of {rows:,}")
    return run, standin.requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows per tap (default 100,000)")
    parser.add_argument("--tap", choices=["finance", "sales", "both"], default="both")
    parser.add_argument("--page-size", type=int, default=None,
                        help=f"sales orders per request (default: the tap's own, {PaginationConfig().size})")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    use_compiled_bytecode()
    for tap in ("tap-crm2-finance", "tap-crm2-sales"):  # warm-up: first start after install compiles bytecode
        subprocess.run([str(BIN / tap), "--about"], capture_output=True, check=False)

    results: list[tuple[str, Run, str]] = []
    with tempfile.TemporaryDirectory(prefix="crm2-bench-taps-") as tmp:
        if args.tap in ("finance", "both"):
            results.append(("tap-crm2-finance (SQLite)", bench_finance(args.rows, args.seed, Path(tmp)), ""))
        if args.tap in ("sales", "both"):
            run, requests = bench_sales(args.rows, args.seed, Path(tmp), args.page_size)
            results.append(("tap-crm2-sales (HTTP)", run, f"{requests:,}"))

    print(f"{'tap':<28}{'records':>10}{'seconds':>10}{'rows/s':>10}{'cpu s':>8}{'http requests':>15}")
    for label, run, requests in results:
        print(f"{label:<28}{run.records:>10,}{run.seconds:>10.2f}{run.records / run.seconds:>10,.0f}"
              f"{run.cpu:>8.2f}{requests:>15}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
