"""`crm2 demo`: the whole job on the embedded default — generated data, local stand-ins, SQLite.

Nothing here needs an account anywhere: stand-ins (fake Salesforce, sales API, finance ledger)
are started in-process on loopback ports and seeded from the synthetic generator.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from sync import private
from sync.orchestrate import standins
from sync.orchestrate.config import EnrichToggle, Extractor, LoadedConfig, PipelineConfig, StoreConfig, WritebackConfig
from sync.orchestrate.run import RunOutcome, StageReport, run
from sync.shipped import MAPPINGS
from sync.store import Store, keys
from sync.store.schema import crosswalk, golden
from synthetic import NOW_DATE

log = logging.getLogger(__name__)

SOURCES = ("salesforce", "finance", "sales")


@dataclass
class DemoResult:
    outcome: RunOutcome
    summary: dict[str, Any]
    missing: list[str] = field(default_factory=list)
    """Stand-ins or stages that are not there yet, with the reason."""
    key_file: Path | None = None
    """Where the store's SQLCipher key is kept (None: the store is not encrypted)."""


@contextlib.contextmanager
def _started_standins(workdir: Path, customers: int, seed: int,
                      missing: list[str]) -> Iterator[dict[str, standins.StandInHandle]]:
    handles: dict[str, standins.StandInHandle] = {}
    try:
        for name in SOURCES:
            try:
                handles[name] = standins.start(name, workdir, customers=customers, seed=seed)
                log.info("%s", handles[name].describe())
            except LookupError as exc:
                missing.append(f"{name} stand-in: {exc}")
        yield handles
    finally:
        for handle in handles.values():
            handle.stop()


def run_demo(workdir: Path, *, customers: int = 2000, seed: int = 42, fresh: bool = False,
             on_stage: Callable[[StageReport], None] | None = None,
             on_start: Callable[[str], None] | None = None,
             on_progress: Callable[[str, int], None] | None = None) -> DemoResult:
    # absolute: stand-ins hand out file paths (CA bundle, ledger) that must mean the same to every
    # program the run starts, whatever folder each resolves relative paths against
    workdir = workdir.resolve()
    if fresh and workdir.exists():
        shutil.rmtree(workdir)
    private.mkdir(workdir)
    missing: list[str] = []
    store_path = workdir / "crm2.sqlite"
    key, key_file = _store_key(store_path)
    with _started_standins(workdir, customers, seed, missing) as handles:
        extractors: list[Extractor] = []
        env: dict[str, str] = {}
        for name, handle in handles.items():
            extractors.append(Extractor(name=name, tap=f"tap-crm2-{name}", config=handle.tap_config,
                                        mapping=MAPPINGS / f"{name}.yml"))
            env.update(getattr(handle, "env", {}) or {})
        if key_file is not None:
            env[keys.KEY_FILE_ENV] = str(key_file)  # target-crm2 opens the store too
        writeback = WritebackConfig(enabled="salesforce" in handles, dry_run=False,
                                    config=dict(handles["salesforce"].tap_config) if "salesforce" in handles else {})
        # the generated histories end at the generator's "now": score as of then, whatever today is
        pipeline = PipelineConfig(store=StoreConfig(url=str(store_path)), extractors=extractors,
                                  enrich=EnrichToggle(as_of=NOW_DATE), writeback=writeback)
        loaded = LoadedConfig(path=workdir / "demo.yml", pipeline=pipeline)
        with Store.open(store_path, key=key) as store:
            outcome = run(loaded, store, f"sqlite:///{store_path}", command="demo", env=env,
                          log_dir=workdir / "logs", on_stage=on_stage, on_start=on_start, on_progress=on_progress)
            summary = store.summary()
            summary["example"] = _example_customer(store)
    missing += [f"{s.name}: {s.detail}" for s in outcome.stages if s.status == "unavailable"]
    return DemoResult(outcome, summary, missing, key_file)


def _store_key(store_path: Path) -> tuple[str | None, Path | None]:
    """The demo store is encrypted: a new store gets a new key, kept in crm2's key folder (never
    beside the data); an existing one keeps the key it has (or stays plain, if it was made so)."""
    if not store_path.exists() or store_path.stat().st_size == 0:
        key = keys.new_key()
        kept = keys.keep(store_path, key)
        log.info("demo store encrypted with SQLCipher; its key is kept in %s", kept)
        return key, kept
    found, source = keys.find(store_path)
    return found, Path(source) if found and source and not source.startswith("$") else None


def _example_customer(store: Store) -> str | None:
    """A tier-A golden customer known to several sources: the one worth `crm2 explain`-ing first."""
    x = crosswalk
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(golden.c.golden_id, golden.c.data, sa.func.count(sa.distinct(x.c.source_system)))
            .join(x, x.c.golden_id == golden.c.golden_id)
            .where(golden.c.entity == "customer", golden.c.merged_into.is_(None))
            .group_by(golden.c.golden_id, golden.c.data)
            .order_by(sa.func.count(sa.distinct(x.c.source_system)).desc(), golden.c.golden_id)).all()
    tier_a = [gid for gid, data, _ in rows if (data or {}).get("tier") == "A"]
    return (tier_a or [gid for gid, _, _ in rows] or [None])[0]
