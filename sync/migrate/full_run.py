"""`crm2 migrate run`: the full extract of a retiring system, loaded and resolved.

Bookmarks are ignored (every record is read again, deleted and archived rows included — the
Salesforce tap's ``include_deleted`` is on by default, i.e. queryAll) and the records go through
the same orchestrator as ``crm2 sync`` (:func:`sync.orchestrate.run.run`): same lock, same run record, same
target-crm2 pipe, so what verify checks is exactly what a sync produces. Records crm2 already
holds unchanged cost nothing (their fingerprints match the crosswalk). Enrich and writeback are
off unless asked for; checks and resolve run as configured. The run is recorded with the
command ``migrate-run`` so a migration's runs can be found in ``crm2 runs`` and the archive.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from pathlib import Path

import sqlalchemy as sa

from sync.migrate.sources import select
from sync.orchestrate.config import LoadedConfig
from sync.orchestrate.run import RunOutcome, run
from sync.orchestrate.stages import StageReport
from sync.store import Store
from sync.store.schema import runs

MIGRATION_COMMANDS = ("migrate-run", "migrate-cutover")


def narrowed(loaded: LoadedConfig, sources: Collection[str] = (), *, enrich: bool = True,
             writeback: bool = True) -> LoadedConfig:
    """The config with only ``sources`` extracting (all enabled ones when empty), and enrich /
    writeback switched off unless asked for (when asked, they run as configured)."""
    chosen = {ex.name for ex in select(loaded, list(sources))}
    pipeline = loaded.pipeline
    extractors = [ex if ex.name in chosen else ex.model_copy(update={"enabled": False})
                  for ex in pipeline.extractors]
    update: dict[str, object] = {"extractors": extractors}
    if not enrich:
        update["enrich"] = pipeline.enrich.model_copy(update={"enabled": False})
    if not writeback:
        update["writeback"] = pipeline.writeback.model_copy(update={"enabled": False})
    return LoadedConfig(path=loaded.path, pipeline=pipeline.model_copy(update=update))


def migrate_run(loaded: LoadedConfig, store: Store, store_url: str, *, sources: Collection[str] = (),
                enrich: bool = False, writeback: bool = False, env: Mapping[str, str] | None = None,
                log_dir: Path | None = None, on_stage: Callable[[StageReport], None] | None = None) -> RunOutcome:
    """Full extract of ``sources`` (all enabled extractors when empty), load, checks, resolve."""
    config = narrowed(loaded, sources, enrich=enrich, writeback=writeback)
    return run(config, store, store_url, command="migrate-run", env=env, log_dir=log_dir, on_stage=on_stage,
               full=True)


def last_migration_run(store: Store) -> str | None:
    """The id of the latest finished migration run or cutover, if any."""
    with store.engine.connect() as conn:
        return conn.execute(sa.select(runs.c.run_id).where(runs.c.command.in_(MIGRATION_COMMANDS),
                                                            runs.c.finished_at.is_not(None))
                            .order_by(runs.c.started_at.desc()).limit(1)).scalar()
