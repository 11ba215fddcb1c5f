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

from sync import logs
from sync.cli import console as cli_console
from sync.cli import golden as cli_golden
from sync.cli import init as cli_init
from sync.cli import links as cli_links
from sync.cli import mapping as cli_mapping
from sync.cli import match as cli_match
from sync.cli import migrate as cli_migrate
from sync.cli import sandbox as cli_sandbox
from sync.cli import scores as cli_scores
from sync.cli import security as cli_security
from sync.cli import state as cli_state
from sync.cli.common import (
    EXIT_CODES_HELP,
    STORE_OPTION,
    handled,
    open_store,
    quiet_broken_pipe,
    say,
    stage_echo,
)
from sync.cli.common import console as _console


@click.group(help="crm2 — sync a primary CRM, finance and sales systems into a secondary CRM "
                  "with golden records, tiers and scores, and write them back.\n" + EXIT_CODES_HELP,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("-v", "--verbose", is_flag=True, help="More log output.")
@click.option("--json-logs/--no-json-logs", default=None,
              help="Log as JSON lines (default: JSON unless stderr is a terminal).")
@click.option("--actor", envvar="CRM2_ACTOR", default=None, metavar="NAME",
              help="Who is acting, for the audit log (a service account) [env CRM2_ACTOR; default: the OS user].")
@click.version_option(package_name="crm2")
def cli(debug: bool, verbose: bool, json_logs: bool | None, actor: str | None) -> None:
    logs.configure(verbose=verbose or debug, json_logs=json_logs)


def _print_outcome(outcome: Any) -> None:
    for stage in outcome.stages:
        click.echo(f"  {stage.name:<22} {stage.status}" + (f"  ({stage.detail.splitlines()[0]})"
                                                           if stage.detail else ""))


_stage_echo = stage_echo
_say = say


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
    from sync.orchestrate.demo import run_demo

    _say(f"crm2 demo: {customers} customers (seed {seed}) in {workdir}")
    started = time.monotonic()
    with _progress() as (on_start, on_progress):
        result = run_demo(workdir, customers=customers, seed=seed, fresh=fresh, on_stage=_stage_echo,
                          on_start=on_start, on_progress=on_progress)
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
    console.print(f"Store encrypted (SQLCipher); its key is kept in {result.key_file}" if result.key_file
                  else "Store NOT encrypted (made before encryption; crm2 store rekey encrypts it)", markup=False)
    if result.missing:
        console.print("[bold]Not there yet in this version:[/bold]")
        for item in result.missing:
            console.print(f"  • {item}", markup=False)
    sys.exit(int(result.outcome.exit_code))


@cli.command(epilog=EXIT_CODES_HELP)
@click.option("--config", "config_path", required=True, type=click.Path(path_type=Path), envvar="CRM2_CONFIG",
              help="Pipeline config (YAML), e.g. config/pipeline.example.yml [env CRM2_CONFIG].")
@click.option("--env", "env_name", default=None, envvar="CRM2_ENV", metavar="NAME",
              help="Apply the config's environments.NAME overrides (e.g. dev, prod) [env CRM2_ENV].")
@click.option("--select", multiple=True, metavar="NAME[,NAME]",
              help="Run only these sources (extractor names, or 'extract' for all) and stages "
                   "(checks, resolve, enrich, writeback). Repeatable.")
@click.option("--exclude", multiple=True, metavar="NAME[,NAME]", help="Leave out these sources or stages. Repeatable.")
@click.option("--full-refresh", "full_refresh", multiple=True, metavar="SOURCE",
              help="Read this source from the start, ignoring its bookmark ('all' for every source). "
                   "Unchanged records still cost nothing.")
@click.option("--dry-run", is_flag=True, help="Print what would run, from which bookmarks, and stop; touch nothing.")
@handled
def sync(config_path: Path, env_name: str | None, select: tuple[str, ...], exclude: tuple[str, ...],
         full_refresh: tuple[str, ...], dry_run: bool) -> None:
    """Run the configured pipeline once: extract every source into the store, then the later stages.

    Incremental: each source resumes from the bookmark its last durable batch saved.

    \b
    crm2 sync --config c.yml --select finance --select resolve
    crm2 sync --config c.yml --select checks,resolve,enrich,writeback   (on a store Meltano loaded)
    crm2 sync --config c.yml --full-refresh sales --env prod
    """
    from sync.orchestrate import config
    from sync.orchestrate.run import Selection, SelectionError, plan, run
    from sync.store import Store

    loaded = config.load(config_path, env=env_name)
    try:
        selection = Selection.parse(loaded, select, exclude, full_refresh)
    except SelectionError as exc:
        raise click.UsageError(str(exc)) from None
    if dry_run:
        _print_plan(loaded, selection, plan)
        return
    config.check_environment(loaded)  # an unset secret fails here, positioned, not midway through the run
    url = loaded.pipeline.store.resolved_url(loaded.base)
    with Store.open(url) as store, _progress() as (on_start, on_progress):
        outcome = run(loaded, store, url, on_stage=_stage_echo, on_start=on_start, selection=selection,
                      on_progress=on_progress)
    _say(f"run {outcome.run_id}: {outcome.status}", run_id=outcome.run_id, status=outcome.status)
    sys.exit(int(outcome.exit_code))


def _print_plan(loaded: Any, selection: Any, plan: Callable[..., list[tuple[str, str]]]) -> None:
    """--dry-run: the stages, what each would do, and from which bookmark; the store is only read."""
    bookmarks: dict[str, Any] = {}
    url = loaded.pipeline.store.url
    path = url if "://" not in url else None
    if path is None or loaded.resolve_path(Path(path)).is_file():
        with contextlib.suppress(Exception):  # a store that cannot be reached yet only loses the bookmark column
            from sync.store import Store

            with Store.open(loaded.pipeline.store.resolved_url(loaded.base), upgrade=False) as store:
                bookmarks = {ex.name: store.get_bookmark(ex.name) for ex in loaded.pipeline.extractors}
    click.echo(f"crm2 sync --dry-run: {loaded.path}" + (f" (environment {loaded.env})" if loaded.env else ""))
    for stage, what in plan(loaded, selection, bookmarks):
        click.echo(f"  {stage:<24} {what}")
    click.echo("nothing was run")


@contextlib.contextmanager
def _progress() -> Iterator[tuple[Callable[[str], None] | None, Callable[[str, int], None] | None]]:
    """Progress bars on a terminal: each stage with records done and rate for an extraction,
    elapsed time for every stage, ETA where a total is known. Nothing otherwise (the JSON log
    says when each stage starts and ends)."""
    if not sys.stderr.isatty():
        yield None, None
        return
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (SpinnerColumn(finished_text="✓"), TextColumn("{task.description:<22}"), BarColumn(bar_width=24),
               TextColumn("{task.fields[records]}"), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
               TimeRemainingColumn())
    tasks: dict[str, TaskID] = {}
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        def finish(task: TaskID) -> None:
            done = progress.tasks[task].completed
            progress.update(task, total=max(done, 1), completed=max(done, 1))  # a full bar, time frozen
            progress.stop_task(task)

        def on_start(stage: str) -> None:
            for task in tasks.values():  # stages run one after another: the previous one is over
                if not progress.tasks[task].finished:
                    finish(task)
            tasks[stage] = progress.add_task(stage, total=None, records="", rate="")

        def on_progress(stage: str, done: int) -> None:
            task = tasks.get(stage)
            if task is None:
                return
            progress.update(task, completed=done, records=f"{done:>10,} records")
            speed = progress.tasks[task].speed
            progress.update(task, rate=f"{speed:>8,.0f}/s" if speed else "")

        yield on_start, on_progress
        for task in tasks.values():
            if not progress.tasks[task].finished:
                finish(task)


@cli.command(epilog=EXIT_CODES_HELP)
@click.option("--config", "config_path", required=True, type=click.Path(path_type=Path),
              help="Pipeline config (YAML) to check, with every file it references.")
@click.option("--env", "env_name", default=None, envvar="CRM2_ENV", metavar="NAME",
              help="Check the config with its environments.NAME overrides applied [env CRM2_ENV].")
@click.option("--no-env", "skip_env", is_flag=True,
              help="Do not check that the environment variables the config names are set (e.g. in CI).")
@handled
def validate(config_path: Path, env_name: str | None, skip_env: bool) -> None:
    """Check a pipeline config and the files it references without running anything.

    Also checks that every secret it names by environment variable is set, and that an enabled
    writeback has its Salesforce connection. Problems are printed one per line as
    file:line:column: message (hint); exit code 2 if any.
    """
    from sync.errors import ConfigError
    from sync.orchestrate import config, stages

    loaded = config.load(config_path, env=env_name)
    problems: list[Any] = []
    rules: dict[str, Any] = {}
    # every kind of problem at once, so one round of fixes is enough
    for step in ((lambda: config.check_environment(loaded)) if not skip_env else (lambda: None),
                 lambda: rules.update(stages.load_rules(loaded)),
                 lambda: cli_mapping.check_pipeline_mappings(loaded),  # mappings fit their taps' catalogs
                 # the match rules compare fields the mappings' entities have (a declared one's too)
                 lambda: stages.check_rule_fields(loaded, rules["resolve"]) if "resolve" in rules else None,
                 # and the checks name entities and fields that exist
                 lambda: stages.check_check_targets(loaded, rules["checks"]) if "checks" in rules else None):
        try:
            step()
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    click.echo(f"{config_path}: ok ({len(loaded.pipeline.extractors)} extractors; "
               f"rules checked for {', '.join(rules) or 'no stage'})")


@cli.command(epilog=EXIT_CODES_HELP)
@STORE_OPTION
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@handled
def runs(store: str | None, limit: int, as_json: bool) -> None:
    """Show recent runs: status, duration, records per stage, API calls."""

    with open_store(store) as st:
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
    from sync import private
    from sync import report as reporting

    with open_store(store) as st:
        data = reporting.collect(st)
    private.write_text(out, reporting.render(data))
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

    from synthetic import write_dataset

    with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task("generating", total=customers)
        counts = write_dataset(out, customers, seed, workers=workers,
                               progress=lambda done, total: progress.update(task, completed=done, total=total))
    for name, count in sorted(counts.items()):
        click.echo(f"{name:<36} {count:>12,}")


for _command in (*cli_golden.COMMANDS, cli_mapping.mapping, cli_migrate.migrate, *cli_console.COMMANDS,
                 cli_scores.scores, cli_sandbox.sandbox, cli_state.state, cli_init.init, *cli_security.COMMANDS,
                 cli_links.links, cli_match.match):
    cli.add_command(_command)


def main() -> None:
    # click exits 2 on usage errors already, matching ExitCode.CONFIG
    with quiet_broken_pipe():
        cli(prog_name="crm2")
