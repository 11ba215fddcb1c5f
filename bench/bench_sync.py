"""The whole crm2 sync stage by stage: a first run against an unchanged re-run.

    python bench/bench_sync.py --customers 20000 --customers 100000

For each size, ``crm2 demo --fresh`` seeds the local stand-ins from the generator and runs one
sync into a new store. Then ``crm2 demo`` runs again with nothing changed. The figures come from
the two run records that crm2 itself keeps: each stage's wall seconds and the whole run's. A run
record does not include generating the data or starting the stand-ins, because a real sync does
neither. The goal is that the unchanged re-run is at least 20 times faster than the first run
(issue 13).

Wall time is the only clock a run record keeps. On a machine that other work shares, run this
on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bytecode import use_compiled_bytecode  # noqa: E402

GOAL = 20.0


def crm2(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sync", "--no-json-logs", *args], capture_output=True, text=True,
                          env=env, check=False)


def demo(workdir: Path, customers: int, seed: int, fresh: bool, env: dict[str, str]) -> dict:
    """Run the demo once; the run record it leaves (command, seconds, stages)."""
    args = ["demo", "--customers", str(customers), "--seed", str(seed), "--workdir", str(workdir)]
    started = time.perf_counter()
    done = crm2(*args, *(["--fresh"] if fresh else []), env=env)
    took = time.perf_counter() - started
    if done.returncode not in (0, 3):  # 3: the demo's data is dirty on purpose, some records are quarantined
        sys.exit(f"crm2 demo failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    listed = crm2("runs", "--store", str(workdir / "crm2.sqlite"), "--json", "--limit", "1", env=env)
    if listed.returncode != 0:
        sys.exit(f"crm2 runs failed:\n{listed.stderr[-2000:]}")
    record = json.loads(listed.stdout)[0]
    record["command_seconds"] = took
    return record


def table(customers: int, first: dict, again: dict) -> bool:
    stages_first, stages_again = first["counts"]["stages"], again["counts"]["stages"]
    print(f"\n{customers:,} customers: the sync run's own record, wall seconds")
    print(f"  {'stage':<24} {'first':>9} {'re-run':>9} {'faster':>8}")
    for name, stage in stages_first.items():
        a, b = stage.get("seconds"), (stages_again.get(name) or {}).get("seconds")
        ratio = f"{a / b:7.1f}x" if a and b else "       -"
        print(f"  {name:<24} {a or 0:>9.2f} {b or 0:>9.2f} {ratio}")
    whole = first["seconds"] / again["seconds"]
    print(f"  {'whole run':<24} {first['seconds']:>9.2f} {again['seconds']:>9.2f} {whole:7.1f}x  "
          f"(goal >= {GOAL:.0f}x: {'met' if whole >= GOAL else 'NOT met'})")
    print(f"  the crm2 demo command, generation and stand-ins included: {first['command_seconds']:.1f} s, "
          f"then {again['command_seconds']:.1f} s")
    return whole >= GOAL


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, action="append",
                        help="Size of the generated org (repeatable; default 20000).")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="Keep stores and logs here (default: a temporary folder, removed after).")
    args = parser.parse_args()
    use_compiled_bytecode()
    env = dict(os.environ)
    met = True
    with tempfile.TemporaryDirectory(prefix="crm2-bench-sync-") as scratch:
        root = args.workdir or Path(scratch)
        for customers in args.customers or [20000]:
            workdir = root / f"demo-{customers}"
            first = demo(workdir, customers, args.seed, True, env)
            again = demo(workdir, customers, args.seed, False, env)
            met = table(customers, first, again) and met
    print("\nunchanged re-run goal:", "met" if met else "NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
