"""The `crm2` command line."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from sync import cli_golden, cli_mapping, cli_migrate, logs
from sync.cli_common import EXIT_CODES_HELP, STORE_OPTION, Abort, handled
from sync.cli_common import console as _console
from sync.exitcodes import ExitCode


@click.group(help="crm2 — sync a primary CRM, finance and sales systems into a secondary CRM "
                  "with golden records, tiers and scores, and write them back.\n" + EXIT_CODES_HELP,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("-v", "--verbose", is_flag=True, help="More log output.")
@click.option("--json-logs/--no-json-logs", default=None,
              help="Log as JSON lines (default: JSON unless stderr is a terminal).")
@click.version_option(package_name="crm2")
def cli(debug: bool, verbose: bool, json_logs: bool | None) -> None:
    logs.configure(verbose=verbose or debug, json_logs=json_logs)


def _print_outcome(outcome: Any) -> None:
    for stage in outcome.stages:
        click.echo(f"  {stage.name:<22} {stage.status}" + (f"  ({stage.detail.splitlines()[0]})"
                                                           if stage.detail else ""))


def _stage_echo(stage: Any) -> None:
    mark = {"ok": "✓", "partial": "!", "failed": "✗", "skipped": "-", "unavailable": "…"}.get(stage.status, "?")
    first = stage.detail.splitlines()[0] if stage.detail else ""
    click.echo(f"  {mark} {stage.name:<22} {stage.status}{'  — ' + first if first else ''}", err=True)


@cli.command(epilog=EXIT_CODES_HELP)
@click.option("--customers", default=2000, show_default=True, type=click.IntRange(1, 1_000_000),
              help="How many real customers the generated demo org has.")
@click.option("--seed", default=42, show_default=True, help="Seed for the synthetic data.")
@click.option("--workdir", type=click.Path(path_type=Path), default=Path(".crm2/demo"), show_default=True,
              help="Where the demo keeps its store, stand-in state and logs.")
@click.option("--fresh", is_flag=True, help="Delete the work folder first and start over.")
@handled
def demo(customers: int, seed: int, workdir: Path, fresh: bool) -> None:
    """Run the whole job on generated data and local stand-ins, then print a summary.

    Needs no account anywhere: a fake Salesforce, sales API and finance ledger are started on
    loopback ports, seeded from the synthetic generator, and synced into a SQLite store.
    """
    from sync.demo import run_demo

    click.echo(f"crm2 demo: {customers} customers (seed {seed}) in {workdir}", err=True)
    started = time.monotonic()
    result = run_demo(workdir, customers=customers, seed=seed, fresh=fresh, on_stage=_stage_echo)
    elapsed = time.monotonic() - started
    summary = result.summary
    console = _console()
    table = Table(title=f"crm2 demo summary (run {result.outcome.run_id[:8]}, {elapsed:.1f}s)")
    table.add_column("what")
    table.add_column("count", justify="right")
    for source, count in summary["staged"].items():
        table.add_row(f"records from {source}", f"{count:,}")
    if not summary["staged"]:
        table.add_row("records loaded", "0")
    table.add_row("golden customers", f"{summary['golden'].get('customer', 0):,}")
    table.add_row("quarantined", f"{summary['quarantined']:,}")
    for tier, count in sorted(summary["tiers"].items()):
        table.add_row(f"tier {tier}", f"{count:,}")
    for stage in result.outcome.stages:
        if stage.name == "writeback" and stage.status in ("ok", "partial"):
            table.add_row("Salesforce Accounts written back", f"{stage.counts.get('written', 0):,}")
            table.add_row("Salesforce API calls for the writeback", f"{stage.counts.get('api_calls', 0):,}")
    console.print(table)
    store_flag = f"--store {workdir / 'crm2.sqlite'}"
    console.print(f"Look around: crm2 runs {store_flag} · crm2 checks {store_flag} · crm2 report {store_flag}",
                  markup=False, highlight=False)
    if summary.get("example"):
        console.print(f"Why is a customer tier A? crm2 explain customer {summary['example']} {store_flag}",
                      markup=False, highlight=False)
    if result.missing:
        console.print("[bold]Not there yet in this version:[/bold]")
        for item in result.missing:
            console.print(f"  • {item}", markup=False)
    sys.exit(int(result.outcome.exit_code))


@cli.command(epilog=EXIT_CODES_HELP)
@click.option("--config", "config_path", required=True, type=click.Path(path_type=Path),
              help="Pipeline config (YAML), e.g. config/pipeline.example.yml.")
@handled
def sync(config_path: Path) -> None:
    """Run the configured pipeline once: extract every source into the store, then the later stages.

    Incremental: each source resumes from the bookmark its last durable batch saved.
    """
    from sync import config
    from sync.run import run
    from sync.store import Store

    loaded = config.load(config_path)
    url = loaded.pipeline.store.resolved_url(loaded.base)
    with Store.open(url) as store, _progress() as on_start:
        outcome = run(loaded, store, url, on_stage=_stage_echo, on_start=on_start)
    click.echo(f"run {outcome.run_id}: {outcome.status}", err=True)
    sys.exit(int(outcome.exit_code))


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[str], None] | None]:
    """A live 'working on <stage>' line on a terminal; nothing otherwise (the JSON log says it)."""
    if not sys.stderr.isatty():
        yield None
        return
    started = time.monotonic()
    with Console(stderr=True).status("starting", spinner="dots") as status:
        yield lambda stage: status.update(f"{stage} … ({time.monotonic() - started:.0f}s into the run)")


@cli.command(epilog=EXIT_CODES_HELP)
@click.option("--config", "config_path", required=True, type=click.Path(path_type=Path),
              help="Pipeline config (YAML) to check, with every file it references.")
@handled
def validate(config_path: Path) -> None:
    """Check a pipeline config and the files it references without running anything.

    Problems are printed one per line as file:line:column: message (hint); exit code 2 if any.
    """
    from sync import config, stages

    loaded = config.load(config_path)
    rules = stages.load_rules(loaded)
    cli_mapping.check_pipeline_mappings(loaded)  # every mapping loads and fits its tap's catalog
    click.echo(f"{config_path}: ok ({len(loaded.pipeline.extractors)} extractors; "
               f"rules checked for {', '.join(rules) or 'no stage'})")


@cli.command(epilog=EXIT_CODES_HELP)
@STORE_OPTION
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@handled
def runs(store: str | None, limit: int, as_json: bool) -> None:
    """Show recent runs: status, duration, records per stage, API calls."""
    from sync.store import Store

    with Store.open(store) as st:
        records = st.runs(limit)
    if as_json:
        click.echo(json.dumps([{
            "run_id": r.run_id, "command": r.command, "status": r.status, "exit_code": r.exit_code,
            "started_at": r.started_at.isoformat(), "seconds": r.seconds, "api_calls": r.api_calls,
            "counts": r.counts} for r in records], indent=2))
        return
    table = Table(title="crm2 runs")
    for col in ("run", "command", "started", "seconds", "status", "exit", "staged", "quarantined", "unmapped streams",
                "API calls"):
        table.add_column(col)
    for r in records:
        staged = sum((r.counts.get("staged") or {}).values())
        table.add_row(r.run_id[:8], r.command, r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                      f"{r.seconds:.1f}" if r.seconds is not None else "running", r.status,
                      "" if r.exit_code is None else str(r.exit_code), f"{staged:,}",
                      str(r.counts.get("quarantined", "")), str(r.counts.get("unmapped_streams", "")),
                      str(r.api_calls))
    _console().print(table)


@cli.command()
@STORE_OPTION
@click.option("--out", type=click.Path(path_type=Path), default=Path("crm2-report.html"), show_default=True,
              help="Where to write the HTML file.")
@handled
def report(store: str | None, out: Path) -> None:
    """Write one self-contained HTML report: tiers, churn risk, lifecycle, data quality, sync volumes."""
    from sync import report as reporting
    from sync.store import Store

    with Store.open(store) as st:
        data = reporting.collect(st)
    out.write_text(reporting.render(data), encoding="utf-8")
    click.echo(f"wrote {out} ({data.golden_customers:,} golden customers, {len(data.runs)} runs)")


@cli.command()
@click.option("--customers", default=1000, show_default=True, type=click.IntRange(1, 10_000_000))
@click.option("--seed", default=42, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--workers", default=os.cpu_count() or 1, show_default=True, type=click.IntRange(1, 64))
@handled
def generate(customers: int, seed: int, out: Path, workers: int) -> None:
    """Write a synthetic dataset (three systems plus ground truth) as JSONL files.

    Deterministic: the same --customers and --seed give byte-identical files.
    """
    from rich.progress import Progress

    from sync.synthetic import write_dataset

    with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task("generating", total=customers)
        counts = write_dataset(out, customers, seed, workers=workers,
                               progress=lambda done, total: progress.update(task, completed=done, total=total))
    for name, count in sorted(counts.items()):
        click.echo(f"{name:<36} {count:>12,}")


@cli.command()
@click.argument("name", type=click.Choice(["salesforce", "sales", "finance"]))
@click.option("--workdir", type=click.Path(path_type=Path), default=Path(".crm2/sandbox"), show_default=True)
@click.option("--customers", default=2000, show_default=True)
@click.option("--seed", default=42, show_default=True)
@handled
def sandbox(name: str, workdir: Path, customers: int, seed: int) -> None:
    """Start a local stand-in (fake Salesforce, sales API or finance ledger) until Ctrl-C."""
    from sync import standins

    try:
        handle = standins.start(name, workdir, customers=customers, seed=seed)
    except LookupError as exc:
        raise Abort(ExitCode.FAILED, str(exc)) from None
    click.echo(handle.describe())
    click.echo("tap config: " + json.dumps(handle.tap_config))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()


for _command in (*cli_golden.COMMANDS, cli_mapping.mapping, cli_migrate.migrate):
    cli.add_command(_command)


def main() -> None:
    # click exits 2 on usage errors already, matching ExitCode.CONFIG
    cli(prog_name="crm2")
