"""One crm2 run over a pipeline config: extract every source into the store, then the later
stages (checks, resolve, enrich, writeback).

Each stage reports what it did; a stage whose programs are not installed says so instead of
failing. Scores are not computed (nor written back) when an extraction failed: they would be
computed on incomplete data. A failing check of severity ``fail`` stops everything after it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from sync.exitcodes import STOPPED_EARLY, ExitCode
from sync.orchestrate import programs, stages
from sync.orchestrate.config import LoadedConfig
from sync.orchestrate.lock import run_lock
from sync.orchestrate.pipe import BATCH_SIZE, PipeResult, StageUnavailable, run_pipe
from sync.orchestrate.stages import StageReport, StageStatus
from sync.store import Store
from sync.store.schema import quarantine, staging
from sync.writeback import run_writeback

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class _Context:
    """What a later stage needs from the run."""

    loaded: LoadedConfig
    rules: Mapping[str, Any]
    store: Store
    store_url: str
    run_id: str
    env: Mapping[str, str] | None
    log_dir: Path | None


@dataclass(frozen=True)
class LaterStage:
    """A stage after extraction, run on the store in pipeline order."""

    name: str
    needs_every_source: bool
    """Skipped when an extraction failed: its results would rest on incomplete data."""
    run: Callable[[_Context], StageReport]


LATER: tuple[LaterStage, ...] = (
    LaterStage("checks", False, lambda c: stages.checks(c.store, c.rules["checks"], c.run_id)),
    LaterStage("resolve", False,
               lambda c: stages.resolve(c.store, c.rules["resolve"], c.run_id, c.loaded.pipeline.resolve,
                                        c.loaded.resolve_path)),
    LaterStage("enrich", True,
               lambda c: stages.enrich(c.store, c.rules["enrich"], c.run_id, c.loaded.pipeline.enrich.as_of)),
    LaterStage("writeback", True,
               lambda c: run_writeback(c.loaded, c.store, c.store_url, c.run_id, env=c.env, log_dir=c.log_dir)),
)
LATER_STAGES = tuple(stage.name for stage in LATER)


@dataclass
class RunOutcome:
    run_id: str
    stages: list[StageReport]
    quarantined: int

    @property
    def exit_code(self) -> ExitCode:
        if any(s.status == "failed" for s in self.stages):
            return ExitCode.FAILED
        partial = self.quarantined or any(s.status == "partial" for s in self.stages)
        return ExitCode.PARTIAL if partial else ExitCode.OK

    @property
    def status(self) -> str:
        return {ExitCode.OK: "ok", ExitCode.PARTIAL: "partial"}.get(self.exit_code, "failed")


def _progress_for(stage: str, on_progress: Callable[[str, int], None] | None) -> Callable[[int], None] | None:
    if on_progress is None:
        return None
    return lambda done: on_progress(stage, done)


def _run_counts(store: Store, run_id: str) -> tuple[dict[str, int], int]:
    with store.engine.connect() as conn:
        staged = {f"{r[0]}/{r[1]}": r[2] for r in conn.execute(
            sa.select(staging.c.source_system, staging.c.source_object, sa.func.count())
            .where(staging.c.run_id == run_id).group_by(staging.c.source_system, staging.c.source_object))}
        quarantined = conn.execute(sa.select(sa.func.count()).select_from(quarantine)
                                   .where(quarantine.c.run_id == run_id)).scalar_one()
    return staged, quarantined


def _extract_report(name: str, result: PipeResult) -> StageReport:
    counts = {k: int(v) for k, v in result.target_metrics.items() if isinstance(v, int)}
    counts["api_calls"] = int(result.tap_metrics.get("api_calls") or 0)
    shown = ("received", "skipped", "inserted", "updated", "unchanged", "deleted", "quarantined", "unmapped_streams")
    figures = ", ".join(f"{counts[k]:,} {k}" for k in shown if counts.get(k))
    if result.ok:
        return StageReport(f"extract:{name}", StageStatus.OK, figures, counts)
    if result.tap_exit == 0 and result.target_exit == ExitCode.PARTIAL:  # lines or streams kept in quarantine
        return StageReport(f"extract:{name}", StageStatus.PARTIAL, f"{figures}\n{result.stderr_tail}", counts)
    why = ("stopped early on the API limit or budget; the next run resumes from the saved state"
           if result.tap_exit == STOPPED_EARLY else f"tap exit {result.tap_exit}, target exit {result.target_exit}")
    return StageReport(f"extract:{name}", StageStatus.FAILED, f"{why}\n{result.stderr_tail}", counts)


class SelectionError(ValueError):
    """--select/--exclude/--full-refresh named something the config does not have."""


@dataclass(frozen=True)
class Selection:
    """Which parts of a run go ahead: sources by extractor name (``extract`` means all of them)
    and later stages by name, like dbt's and Meltano's ``--select``. Empty ``select`` means all."""

    select: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()
    full_refresh: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, loaded: LoadedConfig, select: Iterable[str] = (), exclude: Iterable[str] = (),
              full_refresh: Iterable[str] = ()) -> Selection:
        """Names may be given repeatedly or comma-separated; an unknown name is an error."""
        sources = [ex.name for ex in loaded.pipeline.extractors]
        known = [*sources, "extract", *LATER_STAGES]

        def names(values: Iterable[str], allowed: list[str], what: str) -> frozenset[str]:
            found = {n.strip() for v in values for n in v.split(",") if n.strip()}
            for name in sorted(found - set(allowed)):
                from sync.yamlconf import did_you_mean

                hint = did_you_mean(name, allowed)
                raise SelectionError(f"{what} '{name}' is not in {loaded.path}" + (f" ({hint})" if hint else ""))
            return frozenset(found)

        return cls(names(select, known, "--select"), names(exclude, known, "--exclude"),
                   names(full_refresh, [*sources, "all"], "--full-refresh source"))

    def wants(self, name: str, *, source: bool = False) -> bool:
        keys = {name, "extract"} if source else {name}
        if keys & self.exclude:
            return False
        return not self.select or bool(keys & self.select)

    def refresh(self, source: str) -> bool:
        return source in self.full_refresh or "all" in self.full_refresh


ALL = Selection()


def plan(loaded: LoadedConfig, selection: Selection = ALL,
         bookmarks: Mapping[str, Any] | None = None) -> list[tuple[str, str]]:
    """What ``crm2 sync`` would do, stage by stage, without doing it (``--dry-run``)."""
    pipeline, out = loaded.pipeline, []
    for ex in pipeline.extractors:
        if not ex.enabled:
            out.append((f"extract:{ex.name}", "skip (disabled in config)"))
        elif not selection.wants(ex.name, source=True):
            out.append((f"extract:{ex.name}", "skip (not selected)"))
        else:
            start = ("from the start (full refresh)" if selection.refresh(ex.name) else
                     "from its bookmark" if (bookmarks or {}).get(ex.name) else "from the start (no bookmark yet)")
            out.append((f"extract:{ex.name}", f"run {ex.tap} | target-crm2, {start}"))
    for stage in LATER_STAGES:
        toggle = getattr(pipeline, stage)
        if not toggle.enabled:
            out.append((stage, "skip (disabled in config)"))
        elif not selection.wants(stage):
            out.append((stage, "skip (not selected)"))
        elif stage == "writeback":
            mode = "dry run: writes nothing" if pipeline.writeback.dry_run else "LIVE: writes to Salesforce"
            out.append((stage, f"run tap-crm2 | {pipeline.writeback.target} ({mode})"))
        else:
            out.append((stage, "run"))
    return out


def _stage_counts(stage: StageReport) -> dict[str, Any]:
    """A stage as the run record keeps it: status, counts and, when it ran, its wall seconds."""
    kept: dict[str, Any] = {"status": stage.status, **stage.counts}
    if stage.seconds is not None:
        kept["seconds"] = stage.seconds
    return kept


def run(loaded: LoadedConfig, store: Store, store_url: str, *, command: str = "sync",
        env: Mapping[str, str] | None = None, log_dir: Path | None = None,
        on_stage: Callable[[StageReport], None] | None = None,
        on_start: Callable[[str], None] | None = None, full: bool = False,
        selection: Selection = ALL, on_progress: Callable[[str, int], None] | None = None) -> RunOutcome:
    """Run the pipeline once, recording the run in the store; raises LockHeld if one is running
    and ConfigError (before anything runs) if a rule file is bad. ``on_start`` hears each stage's
    name as it begins, ``on_stage`` its report as it ends, ``on_progress`` an extraction's records
    so far. ``full`` ignores the bookmarks: every source is read from the start (a migration's full
    extract; unchanged records still cost nothing); ``selection`` narrows the run to some sources
    and stages and can read some sources from the start."""
    rules = stages.load_rules(loaded)  # fail fast, before the lock and the run record
    with run_lock(store_url):
        return _run_locked(loaded, rules, store, store_url, command=command, env=env, log_dir=log_dir,
                           on_stage=on_stage, on_start=on_start, full=full, selection=selection,
                           on_progress=on_progress)


def _run_locked(loaded: LoadedConfig, rules: Mapping[str, Any], store: Store, store_url: str, *, command: str,
                env: Mapping[str, str] | None, log_dir: Path | None,
                on_stage: Callable[[StageReport], None] | None,
                on_start: Callable[[str], None] | None, full: bool = False,
                selection: Selection = ALL, on_progress: Callable[[str, int], None] | None = None) -> RunOutcome:
    pipeline = loaded.pipeline
    # we hold the lock, so a run still marked running was killed: say so instead of "running" forever
    for stale in store.mark_interrupted():
        log.warning("run %s was interrupted; this run finishes its work", stale)
    run_id = store.start_run(command, str(loaded.path))
    reports: list[StageReport] = []
    began: dict[str, float] = {}

    def start(stage: str) -> None:
        log.info("%s: starting", stage)
        began[stage] = time.monotonic()
        if on_start:
            on_start(stage)

    def report(stage: StageReport) -> None:
        if stage.name in began and stage.seconds is None:
            stage.seconds = round(time.monotonic() - began.pop(stage.name), 3)
        reports.append(stage)
        if on_stage:
            on_stage(stage)

    try:
        for ex in pipeline.extractors:
            if not ex.enabled:
                report(StageReport(f"extract:{ex.name}", StageStatus.SKIPPED, "disabled in config"))
                continue
            if not selection.wants(ex.name, source=True):
                report(StageReport(f"extract:{ex.name}", StageStatus.SKIPPED, "not selected"))
                continue
            target_config: dict[str, Any] = {
                "store_url": store_url, "mapping": str(loaded.resolve_path(ex.mapping)),
                "source_system": ex.name, "bookmark_name": ex.name, "run_id": run_id,
            }
            start(f"extract:{ex.name}")
            try:
                from_start = full or selection.refresh(ex.name)
                batches = pipeline.batch if ex.batch is None else ex.batch
                result = run_pipe(name=ex.name, tap=ex.tap, tap_config=ex.config, target_config=target_config,
                                  state=None if from_start else store.get_bookmark(ex.name), env=env,
                                  log_dir=log_dir, on_records=_progress_for(f"extract:{ex.name}", on_progress),
                                  batch_size=BATCH_SIZE if batches and programs.is_crm2(ex.tap) else None)
            except StageUnavailable as exc:
                report(StageReport(f"extract:{ex.name}", StageStatus.UNAVAILABLE, str(exc)))
                continue
            report(_extract_report(ex.name, result))
        extract_failed = any(s.status == "failed" for s in reports)
        stopped = ""
        context = _Context(loaded, rules, store, store_url, run_id, env, log_dir)
        for later in LATER:
            skipped = ("disabled in config" if not getattr(pipeline, later.name).enabled else
                       "not selected" if not selection.wants(later.name) else
                       stopped if stopped else
                       "an extraction failed: scores would use incomplete data"
                       if extract_failed and later.needs_every_source else "")
            if skipped:
                report(StageReport(later.name, StageStatus.SKIPPED, skipped))
                continue
            start(later.name)
            report(later.run(context))
            if reports[-1].status == StageStatus.FAILED:
                stopped = f"{later.name} failed"
        staged, quarantined = _run_counts(store, run_id)
        outcome = RunOutcome(run_id, reports, quarantined)
        store.finish_run(run_id, status=outcome.status, exit_code=int(outcome.exit_code),
                         counts={"staged": staged, "quarantined": quarantined,
                                 "unmapped_streams": sum(s.counts.get("unmapped_streams", 0) for s in reports),
                                 "stages": {s.name: _stage_counts(s) for s in reports}},
                         api_calls=sum(s.counts.get("api_calls", 0) for s in reports))
        return outcome
    except BaseException as exc:
        store.finish_run(run_id, status="failed", exit_code=int(ExitCode.FAILED), error=type(exc).__name__)
        raise
