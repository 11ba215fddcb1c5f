"""Rows/s of tap-crm2-finance and tap-crm2-sales, each run as the real console script.

    .venv/bin/python bench/bench_taps.py                    # 100,000 rows per tap
    .venv/bin/python bench/bench_taps.py --rows 20000       # quicker
    .venv/bin/python bench/bench_taps.py --tap sales --page-size 1000
    .venv/bin/python bench/bench_taps.py --tap finance --db postgres   # + MeltanoLabs tap-postgres beside it
    .venv/bin/python bench/bench_taps.py --tap finance --db postgres --to devnull

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
import contextlib
import json
import os
import random
import re
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
from peers import peer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests/throwaway_postgres.py

from connectors.finance import ledger
from connectors.sales.standin import TOKEN_ENV, RateLimit, SalesStandIn
from connectors.sales.tap_config import PaginationConfig

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
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


METRIC_RECORDS = re.compile(rb'"metric":\s*"record_count",\s*"value":\s*(\d+)')


class Run:
    """One tap process: its messages counted from the pipe, its wall, CPU and run-queue time."""

    def __init__(self, tap: str, config: dict[str, Any], workdir: Path, env: dict[str, str] | None = None,
                 *, exe: Path | None = None, extra: list[str] | None = None, devnull: bool = False,
                 into: list[str] | None = None) -> None:
        path = workdir / f"{tap}.json"
        path.write_text(json.dumps(config))
        self.cmd = [str(exe or BIN / tap), "--config", str(path), *(extra or [])]
        self.env = {**os.environ, **(env or {})}
        self.devnull = devnull
        self.into = into
        """A target's command line: the tap's output goes into it (and is not counted here)."""
        self.records = 0
        self.seconds = 0.0
        self.cpu = 0.0
        self.runq = 0.0

    def go(self) -> Run:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_before = usage.ru_utime + usage.ru_stime
        started = time.perf_counter()
        stdout = subprocess.DEVNULL if self.devnull else subprocess.PIPE
        with contextlib.ExitStack() as stack, \
                subprocess.Popen(self.cmd, stdout=stdout, stderr=subprocess.PIPE, env=self.env) as proc:
            out, err = proc.stdout, proc.stderr
            assert err is not None
            target = None
            # A file, not a pipe: the target logs as it goes, and an unread pipe would stall it.
            target_log = stack.enter_context(tempfile.TemporaryFile())
            if self.into is not None:
                target = subprocess.Popen(self.into, stdin=out, stdout=subprocess.DEVNULL, stderr=target_log)
                assert out is not None
                out.close()  # the target owns the pipe
                out = None
            stderr: list[bytes] = []
            # The tap logs to stderr as it goes; unread, a full stderr pipe would stall it.
            drain = threading.Thread(target=lambda: stderr.append(err.read()), daemon=True)
            drain.start()
            done = threading.Event()
            sampler = threading.Thread(target=self._sample_runq, args=(proc.pid, done), daemon=True)
            sampler.start()
            if out is not None:
                self._count(out)
            code = proc.wait()
            self.seconds = time.perf_counter() - started  # the tap's: a target may still be committing
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the tap's alone: the target is not reaped yet
            self.cpu = usage.ru_utime + usage.ru_stime - cpu_before
            done.set()
            drain.join()
            sampler.join()
            if target is not None and target.wait() != 0:
                target_log.seek(0)
                told = target_log.read().decode(errors="replace")[-3000:]
                sys.exit(f"target-crm2 failed ({target.returncode}):\n{told}")
        if self.devnull or self.into is not None:
            self.records = sum(int(n) for n in METRIC_RECORDS.findall(b"".join(stderr)))
        if code != 0:
            sys.exit(f"{self.cmd[0]} failed ({code}):\n{b''.join(stderr).decode(errors='replace')[-3000:]}")
        return self

    def _sample_runq(self, pid: int, done: threading.Event) -> None:
        """Time the process's threads spent runnable but not running (kernel schedstat, Linux)."""
        last: dict[str, int] = {}
        while not done.wait(0.02):
            for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
                with contextlib.suppress(OSError, IndexError, ValueError):  # the thread ended meanwhile
                    last[stat.parent.name] = int(stat.read_text().split()[1])
        self.runq = sum(last.values()) / 1e9

    @property
    def waiting(self) -> float:
        """Wall time neither on a CPU nor waiting for one: blocked on I/O, a lock, a sleep."""
        return max(self.seconds - self.cpu - self.runq, 0.0)

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


def seed_finance(url: str, rows: int, seed: int) -> None:
    engine = sa.create_engine(url)
    started = time.perf_counter()
    counts = ledger.load(engine, finance_rows(rows, seed))
    engine.dispose()
    mix = ", ".join(f"{n:,} {table}" for table, n in counts.items())
    print(f"finance: seeded {sum(counts.values()):,} rows ({mix}) in {time.perf_counter() - started:.1f}s",
          flush=True)


def into_target(workdir: Path, source: str) -> list[str]:
    """target-crm2 into a fresh SQLite store with the shipped mapping of ``source``."""
    config = workdir / f"target-{source}.json"
    config.write_text(json.dumps({"store_url": str(workdir / f"store-{source}.sqlite"),
                                  "mapping": str(ROOT / "mappings" / f"{source}.yml")}))
    return [str(BIN / "target-crm2"), "--config", str(config)]


def bench_finance(url: str, rows: int, workdir: Path, devnull: bool, to_target: bool = False) -> Run:
    into = into_target(workdir, "finance") if to_target else None
    run = Run("tap-crm2-finance", {"url": url}, workdir, devnull=devnull, into=into).go()
    if run.records != rows:
        sys.exit(f"finance: the tap emitted {run.records:,} records of {rows:,}")
    return run


def tap_postgres() -> Path | None:
    """MeltanoLabs tap-postgres in its own virtualenv (created once); None when it cannot be installed."""
    return peer("tap-postgres", "meltanolabs-tap-postgres==0.10.0")


def bench_peer(exe: Path, url: str, rows: int, workdir: Path, devnull: bool) -> Run:
    """tap-postgres over the same tables: every stream selected, incremental on updated_at."""
    parts = sa.make_url(url)
    # It insists on a password in its settings; the throwaway server trusts loopback and ignores it.
    config = {"host": parts.host, "port": parts.port, "user": parts.username, "password": "unused",
              "database": parts.database, "filter_schemas": ["public"]}
    (workdir / "peer.json").write_text(json.dumps(config))
    found = subprocess.run([str(exe), "--config", str(workdir / "peer.json"), "--discover"],
                           capture_output=True, check=True)
    catalog = json.loads(found.stdout)
    for stream in catalog["streams"]:
        stream.update({"replication_method": "INCREMENTAL", "replication_key": "updated_at"})
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"].update({"selected": True, "replication-method": "INCREMENTAL",
                                          "replication-key": "updated_at"})
    (workdir / "peer-catalog.json").write_text(json.dumps(catalog))
    subprocess.run([str(exe), "--about"], capture_output=True, check=False)  # warm-up, as for crm2's taps
    run = Run("tap-postgres", config, workdir, exe=exe, extra=["--catalog", str(workdir / "peer-catalog.json")],
              devnull=devnull).go()
    if run.records != rows:
        sys.exit(f"tap-postgres: emitted {run.records:,} records of {rows:,}")
    return run


def bench_sales(rows: int, seed: int, workdir: Path, page_size: int | None, devnull: bool,
                to_target: bool = False) -> tuple[Run, int]:
    standin = SalesStandIn(rate_limit=RateLimit())
    started = time.perf_counter()
    standin.load(sales_orders(rows, seed))
    print(f"sales: seeded {rows:,} orders in {time.perf_counter() - started:.1f}s", flush=True)
    config: dict[str, Any] = {"base_url": standin.url, "auth": {"type": "bearer", "token_env": TOKEN_ENV}}
    if page_size is not None:
        config["endpoints"] = {"orders": {"pagination": {"size": page_size}}}
    standin.start()
    try:
        into = into_target(workdir, "sales") if to_target else None
        run = Run("tap-crm2-sales", config, workdir, env={TOKEN_ENV: standin.token}, devnull=devnull,
                  into=into).go()
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
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite",
                        help="the finance ledger's database (postgres: a throwaway server, and the peer beside it)")
    parser.add_argument("--no-peer", action="store_true", help="with --db postgres: skip tap-postgres")
    parser.add_argument("--to", choices=["pipe", "devnull", "target-crm2"], default="pipe",
                        help="where the taps write: this script's pipe (counted), /dev/null, or target-crm2 "
                             "(a fresh SQLite store; the peer is not run: its stream names fit no mapping)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    devnull, to_target = args.to == "devnull", args.to == "target-crm2"
    use_compiled_bytecode()
    for tap in ("tap-crm2-finance", "tap-crm2-sales"):  # warm-up: first start after install compiles bytecode
        subprocess.run([str(BIN / tap), "--about"], capture_output=True, check=False)

    results: list[tuple[str, Run, str]] = []
    with tempfile.TemporaryDirectory(prefix="crm2-bench-taps-") as tmp, contextlib.ExitStack() as stack:
        if args.tap in ("finance", "both"):
            if args.db == "postgres" and not postgres_installed():
                print("--db postgres: PostgreSQL is not installed (initdb/pg_ctl not found): SQLite instead, no peer")
                args.db = "sqlite"
            if args.db == "postgres":
                url = stack.enter_context(postgres())
                seed_finance(url, args.rows, args.seed)
                peer = None if args.no_peer or to_target else tap_postgres()
                results.append(("tap-crm2-finance (PostgreSQL)",
                                bench_finance(url, args.rows, Path(tmp), devnull, to_target), ""))
                if peer is not None:
                    results.append(("tap-postgres (peer)", bench_peer(peer, url, args.rows, Path(tmp), devnull), ""))
                elif not args.no_peer and not to_target:
                    print("tap-postgres: not run (it could not be installed)")
            else:
                url = f"sqlite:///{Path(tmp) / 'finance.sqlite'}"
                seed_finance(url, args.rows, args.seed)
                results.append(("tap-crm2-finance (SQLite)",
                                bench_finance(url, args.rows, Path(tmp), devnull, to_target), ""))
        if args.tap in ("sales", "both"):
            run, served = bench_sales(args.rows, args.seed, Path(tmp), args.page_size, devnull, to_target)
            results.append(("tap-crm2-sales (HTTP)", run, f"{served:,}"))

    where = {"pipe": "a pipe this script reads", "devnull": "/dev/null", "target-crm2": "target-crm2 (seconds: "
             "until the tap exits)"}[args.to]
    print(f"output to {where}; cpu s: the tap process's own "
          f"(a database server's is not in it); runq s: ready but waiting for a core; waiting s: the rest")
    print(f"{'tap':<30}{'records':>10}{'seconds':>10}{'rows/s':>10}{'cpu s':>8}{'runq s':>8}{'waiting s':>10}"
          f"{'http requests':>15}")
    for label, run, requests in results:
        print(f"{label:<30}{run.records:>10,}{run.seconds:>10.2f}{run.records / run.seconds:>10,.0f}"
              f"{run.cpu:>8.2f}{run.runq:>8.2f}{run.waiting:>10.2f}{requests:>15}")
    return 0


def postgres_installed() -> bool:
    from tests.throwaway_postgres import pg_bin

    return pg_bin() is not None


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """URL of a fresh database on a throwaway PostgreSQL server, stopped afterwards."""
    from tests.throwaway_postgres import ThrowawayPostgres, pg_bin

    bindir = pg_bin()
    if bindir is None:
        sys.exit("--db postgres: PostgreSQL is not installed (initdb/pg_ctl not found)")
    server = ThrowawayPostgres(bindir)
    try:
        yield server.create_database()
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
