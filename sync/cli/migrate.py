"""`crm2 migrate plan|run|verify|cutover|archive|erase`: retiring a CRM with proof that nothing was lost.

Every subcommand reads the same pipeline config as ``crm2 sync`` (``--config FILE``) and works on
all its enabled extractors or those named with ``--source`` (repeatable). The runbook is
docs/migration.md.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import click
from rich.console import Console
from rich.progress import Progress, TaskID

from sync import private
from sync.cli.common import Abort, handled, say, stage_echo
from sync.exitcodes import ExitCode
from sync.migrate import archive_files, plan, verify_report
from sync.migrate.archive import FORMATS, write_archive
from sync.migrate.cutover import cutover as run_cutover
from sync.migrate.erase import Eraser
from sync.migrate.full_run import migrate_run
from sync.migrate.retention import load_policy
from sync.migrate.sources import open_sources
from sync.migrate.verify import DEFAULT_SAMPLE, VerifyReport, verify
from sync.orchestrate import config as pipeline_config
from sync.orchestrate import stages
from sync.orchestrate.config import LoadedConfig
from sync.orchestrate.lock import run_lock
from sync.orchestrate.stages import StageReport
from sync.shipped import CONFIG
from sync.store import Store

CONFIG_OPTION = click.option("--config", "config_path", required=True, type=click.Path(path_type=Path),
                             help="Pipeline config (YAML), the same as for crm2 sync.")
SOURCE_OPTION = click.option("--source", "sources", multiple=True, metavar="NAME",
                             help="Only this extractor (repeatable; default: every enabled one).")
SAMPLE_OPTION = click.option("--sample", default=DEFAULT_SAMPLE, show_default=True, type=click.IntRange(0, 1_000_000),
                             help="Records per object compared field by field (the ids with the smallest SHA-256).")

VERIFY_EXIT = """
\b
Exit codes:
  0  every source record is accounted for and the field sample matches
  1  unexplained records or field mismatches (named in the report), or a tap failed
  2  bad configuration or usage: nothing ran
"""


def _exits(*lines: str) -> str:
    return "\n\b\nExit codes:\n" + "\n".join(f"  {line}" for line in lines) + "\n"


@click.group()
def migrate() -> None:
    """Retire a CRM: plan, full run, verify, cutover, archive, erase (see docs/migration.md)."""


@contextlib.contextmanager
def _progress(what: str) -> Iterator[Callable[[str, int], None]]:
    """Records read so far per source, as a live line on a terminal; nothing otherwise."""
    with Progress(transient=True, disable=not sys.stderr.isatty(), console=Console(stderr=True)) as progress:
        tasks: dict[str, TaskID] = {}

        def update(source: str, count: int) -> None:
            if source not in tasks:
                tasks[source] = progress.add_task(f"{what} {source}", total=None)
            progress.update(tasks[source], completed=count, description=f"{what} {source}: {count:,} records")

        yield update


def _load(config_path: Path) -> tuple[LoadedConfig, str]:
    loaded = pipeline_config.load(config_path)
    return loaded, loaded.pipeline.store.resolved_url(loaded.base)


def _stage_echo(stage: StageReport) -> None:
    stage_echo(stage)  # a JSON log record when stderr is not a terminal, like crm2 sync


# -- plan ---------------------------------------------------------------------------------------
@migrate.command("plan", epilog=_exits("0  the plan was made and every mapping fits its tap's catalog",
                                       "1  a tap failed", "2  bad configuration, or a mapping does not fit"))
@CONFIG_OPTION
@SOURCE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@handled
def plan_command(config_path: Path, sources: tuple[str, ...], as_json: bool) -> None:
    """What each source holds and how much of it the mapping covers, before anything moves.

    Runs each tap's discovery and one full read of only keys and deletion flags: records per
    stream and per mapping entry, deleted at source, without a usable key, already in crm2, and
    the source fields and streams nothing maps.
    """
    loaded, url = _load(config_path)
    with Store.open(url) as store, _progress("reading keys of") as progress:
        # recorded as a 'migrate-plan' run (counts only), so the console's Migration page shows it
        run_id = store.start_run("migrate-plan", str(loaded.path))
        try:
            plans = [plan.plan_source(s, store, on_record=functools.partial(progress, s.name))
                     for s in open_sources(loaded, sources)]
        except BaseException as exc:
            store.finish_run(run_id, status="failed", exit_code=int(ExitCode.FAILED), error=type(exc).__name__)
            raise
        misfit = any(p.errors for p in plans)
        store.finish_run(run_id, status="failed" if misfit else "ok",
                         exit_code=int(ExitCode.CONFIG if misfit else ExitCode.OK), counts=plan.summary(plans))
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in plans], indent=2, ensure_ascii=False))
    else:
        for line in plan.lines(plans):
            click.echo(line)
    if any(p.errors for p in plans):
        sys.exit(ExitCode.CONFIG)


# -- run ----------------------------------------------------------------------------------------
@migrate.command("run", epilog=_exits("0  every source was extracted and every record loaded",
                                      "1  the run failed (rerun: unchanged records cost nothing)",
                                      "2  bad configuration or usage: nothing ran",
                                      "3  finished, some records were quarantined (verify explains them)"))
@CONFIG_OPTION
@SOURCE_OPTION
@click.option("--enrich", is_flag=True, help="Also compute tiers and scores (as configured).")
@click.option("--writeback", is_flag=True, help="Also write back to the primary CRM (as configured).")
@handled
def run_command(config_path: Path, sources: tuple[str, ...], enrich: bool, writeback: bool) -> None:
    """The full extract: every record of each source (deleted and archived rows too), ignoring
    bookmarks, loaded through target-crm2, then checks and resolve.

    Recorded as a 'migrate-run' in crm2 runs. Enrich and writeback only run when asked for.
    """
    loaded, url = _load(config_path)
    with Store.open(url) as store:
        outcome = migrate_run(loaded, store, url, sources=sources, enrich=enrich, writeback=writeback,
                              on_stage=_stage_echo)
    say(f"migration run {outcome.run_id}: {outcome.status}", run_id=outcome.run_id, status=outcome.status)
    sys.exit(int(outcome.exit_code))


# -- verify -------------------------------------------------------------------------------------
def _emit(report: VerifyReport, as_json: bool, html: Path | None) -> None:
    if html is not None:
        private.write_text(html, verify_report.render_html(report))
        click.echo(f"wrote {html}", err=True)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        for line in verify_report.text_lines(report):
            click.echo(line)


@contextlib.contextmanager
def _verify_run(store: Store, config: str) -> Iterator[Callable[[VerifyReport], None]]:
    """A 'migrate-verify' run record around a reconciliation, so crm2 runs shows each sign-off."""
    run_id = store.start_run("migrate-verify", config)
    try:
        yield lambda report: _finish_verify(store, run_id, report)
    except BaseException as exc:
        store.finish_run(run_id, status="failed", exit_code=int(ExitCode.FAILED), error=type(exc).__name__)
        raise


def _finish_verify(store: Store, run_id: str, report: VerifyReport) -> None:
    report.run_id = run_id
    store.finish_run(run_id, status="ok" if report.ok else "failed", exit_code=0 if report.ok else 1,
                     counts={"verify": report.as_dict()["totals"],
                             "objects": {f"{o.source}/{o.name}": {"source": o.source_count,
                                                                  "unexplained": o.unexplained,
                                                                  "mismatched": o.mismatched}
                                         for o in report.objects}})


@migrate.command("verify", epilog=VERIFY_EXIT)
@CONFIG_OPTION
@SOURCE_OPTION
@SAMPLE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--html", type=click.Path(path_type=Path), default=None, help="Also write the report as one HTML file.")
@handled
def verify_command(config_path: Path, sources: tuple[str, ...], sample: int, as_json: bool,
                   html: Path | None) -> None:
    """Reconcile each source with crm2: per object, source = loaded + merged + quarantined +
    deleted + erased, with every unexplained record named, and a field-by-field sample.

    Records changed at the source since they were loaded are listed (cutover loads them), and so
    are records crm2 holds that the source no longer has. Holds the store's run lock, so no sync
    changes the store while it counts.
    """
    loaded, url = _load(config_path)
    with (Store.open(url) as store, run_lock(url), _progress("verifying") as progress,
          _verify_run(store, str(loaded.path)) as finish):
        report = verify(store, open_sources(loaded, sources), sample=sample, on_record=progress)
        finish(report)
    _emit(report, as_json, html)
    sys.exit(ExitCode.OK if report.ok else ExitCode.FAILED)


# -- cutover ------------------------------------------------------------------------------------
@migrate.command("cutover", epilog=VERIFY_EXIT.replace("or a tap failed", "or the sync or a tap failed"))
@CONFIG_OPTION
@SOURCE_OPTION
@SAMPLE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the reconciliation as JSON.")
@click.option("--html", type=click.Path(path_type=Path), default=None, help="Also write it as one HTML file.")
@handled
def cutover_command(config_path: Path, sources: tuple[str, ...], sample: int, as_json: bool,
                    html: Path | None) -> None:
    """The final delta sync — one incremental crm2 sync, writeback as configured — then verify."""
    loaded, url = _load(config_path)
    with Store.open(url) as store, _progress("verifying") as progress:
        result = run_cutover(loaded, store, url, sources=sources, sample=sample, on_stage=_stage_echo,
                             on_record=progress)
        click.echo(f"cutover sync {result.outcome.run_id}: {result.outcome.status}", err=True)
        if result.report is None:
            raise Abort(ExitCode.FAILED, "the delta sync failed; fix it and run cutover again (nothing to verify yet)")
        report = result.report
        report.run_id = result.outcome.run_id  # the cutover's own run record is the one to sign off
    _emit(report, as_json, html)
    sys.exit(ExitCode.OK if result.ok else ExitCode.FAILED)


# -- archive ------------------------------------------------------------------------------------
@migrate.command("archive", epilog=_exits("0  the archive was written (or --check found it intact)",
                                          "1  --check found a changed, missing or unlisted file, or a tap failed",
                                          "2  bad configuration or usage (OUT not empty, DIR not an archive)"))
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="Pipeline config (YAML); required unless --check. With --check, the result is "
                   "recorded in its store as a 'migrate-archive-check' run (the console shows it).")
@SOURCE_OPTION
@click.option("--out", type=click.Path(path_type=Path), default=None, help="New (or empty) folder to write.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True,
              help="JSON lines, or Parquet (needs the crm2[parquet] extra).")
@click.option("--gzip", "compress", is_flag=True, help="Compress JSON lines files (.jsonl.gz).")
@click.option("--check", "check_dir", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="Check an existing archive instead: every file against the manifest's SHA-256 and rows.")
@click.option("--encrypt", is_flag=True,
              help="Encrypt every file (AES-256-GCM) with the key in CRM2_ARCHIVE_KEY (64 hex digits).")
@handled
def archive_command(config_path: Path | None, sources: tuple[str, ...], out: Path | None, fmt: str,
                    compress: bool, check_dir: Path | None, encrypt: bool) -> None:
    """Export the retired system's raw records (every stream and field, from a fresh full read)
    and crm2's crosswalk for it, with a manifest of SHA-256 checksums.
    """
    if check_dir is not None:
        problems = archive_files.check(check_dir)
        for problem in problems:
            click.echo(f"{check_dir}/{problem}")
        click.echo(f"{check_dir}: {'intact' if not problems else f'{len(problems)} problem(s)'}", err=True)
        if config_path is not None:
            _record_check(config_path, check_dir, problems)
        sys.exit(ExitCode.FAILED if problems else ExitCode.OK)
    if config_path is None or out is None:
        raise click.UsageError("give --config and --out (or --check DIR)")
    loaded, url = _load(config_path)
    with Store.open(url) as store, _progress("archiving") as progress:
        manifest = write_archive(out, store, open_sources(loaded, sources), fmt=fmt,
                                 compress=compress and fmt == "jsonl", config=str(loaded.path), on_record=progress,
                                 encrypt=encrypt)
    for entry in manifest.files:
        click.echo(f"{entry.path:<48} {entry.rows:>10,} rows  sha256 {entry.sha256}")
    click.echo(f"wrote {out}/manifest.json ({len(manifest.files)} files, run {manifest.run_id})", err=True)


def _record_check(config_path: Path, folder: Path, problems: list[str]) -> None:
    loaded, url = _load(config_path)
    manifest = archive_files.Manifest.load(folder)
    with Store.open(url) as store:
        run_id = store.start_run("migrate-archive-check", str(loaded.path))
        store.finish_run(run_id, status="failed" if problems else "ok",
                         exit_code=int(ExitCode.FAILED if problems else ExitCode.OK),
                         counts={"archive": str(folder.resolve()), "archive_run_id": manifest.run_id,
                                 "files": len(manifest.files), "rows": sum(f.rows for f in manifest.files),
                                 "problems": problems[:100], "more_problems": max(0, len(problems) - 100)})


# -- erase --------------------------------------------------------------------------------------
@migrate.command("erase", epilog=_exits("0  erased (or, without --apply, shown what would be erased)",
                                        "1  the erasure failed (see docs/migration.md: rerun it)",
                                        "2  bad policy, config or subject: nothing ran"))
@CONFIG_OPTION
@click.option("--policy", type=click.Path(path_type=Path), default=CONFIG / "retention.yml",
              show_default="the shipped config/retention.yml",
              help="Retention policy (YAML).")
@click.option("--subject", "subjects", multiple=True, metavar="SYSTEM/OBJECT/ID",
              help="A right-to-erasure request: this record's person, everywhere (repeatable).")
@click.option("--delete", "delete", is_flag=True, help="Delete the subjects' records instead of anonymising them.")
@click.option("--rule", "rules", multiple=True, metavar="NAME",
              help="Apply only this rule of the policy (repeatable; default: all rules, when no --subject).")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Judge the rules' ages as of this date (default: today).")
@click.option("--archive", "archives", multiple=True, type=click.Path(path_type=Path), metavar="DIR",
              help="Also erase in this archive (repeatable).")
@click.option("--apply", is_flag=True, help="Erase. Without it, only show what would be erased.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@handled
def erase_command(config_path: Path, policy: Path, subjects: tuple[str, ...], delete: bool, rules: tuple[str, ...],
                  as_of: Any, archives: tuple[Path, ...], apply: bool, as_json: bool) -> None:
    """Delete or anonymise personal data per the retention policy, in the store and in archives.

    With --subject, the person behind each record (all their source records, their golden
    record) is erased; otherwise the policy's rules choose. Values become irreversible
    'erased:...' tokens (or the records are deleted with --delete / a rule's action: delete).
    A dry run unless --apply: the report lists records and tables by reference, never values.
    Every erased record gets an audit entry (action erase, no values).
    """
    loaded, url = _load(config_path)
    retention = load_policy(policy, stages.known_entities(loaded))
    if rules and subjects:
        raise click.UsageError("give --subject or --rule, not both")
    known = {r.name for r in retention.rules}
    for name in rules:
        if name not in known:
            raise click.UsageError(f"the policy has no rule '{name}' (it has: {', '.join(sorted(known)) or 'none'})")
    with Store.open(url) as store, run_lock(url):
        mappings = {s.name: s.mapping for s in open_sources(loaded)}
        eraser = Eraser(store, retention, mappings)
        action: Literal["anonymise", "delete"] = "delete" if delete else "anonymise"
        chosen = (eraser.requested(subjects, action) if subjects
                  else eraser.by_rules(as_of.date() if isinstance(as_of, datetime) else None, rules))
        run_id = store.start_run("migrate-erase", str(loaded.path)) if apply else None
        try:
            report = eraser.erase(chosen, archives=archives, apply=apply, run_id=run_id)
        except BaseException as exc:
            if run_id:
                store.finish_run(run_id, status="failed", exit_code=1, error=type(exc).__name__)
            raise
        if run_id:
            store.finish_run(run_id, status="ok", exit_code=0,
                             counts={"erased": len(report.records), "changed": report.changed})
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    verb = "erased" if apply else "would erase"
    click.echo(f"{len(report.subjects)} subject(s); {verb} {len(report.records)} source record(s) and "
               f"{len(report.golden)} golden record(s)")
    for ref, how in report.records.items():
        click.echo(f"  {how:<9} {ref}")
    for gid, how in report.golden.items():
        click.echo(f"  {how:<9} golden {gid}")
    for ref in report.shared:
        click.echo(f"  anonymise {ref} (held some of their data)")
    for table, n in report.changed.items():
        click.echo(f"  {table}: {n:,} row(s) {'changed' if apply else 'to change'}")
    for path in report.archive_files:
        click.echo(f"  archive file {'rewritten' if apply else 'to rewrite'}: {path}")
    if not apply:
        click.echo("dry run: nothing was changed (add --apply to erase)", err=True)

