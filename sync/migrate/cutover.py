"""`crm2 migrate cutover`: the final delta sync, then the reconciliation that proves it.

Cutover is one incremental ``crm2 sync`` run — from the bookmarks, with writeback as the config
says — recorded as ``migrate-cutover``, followed by :func:`sync.migrate.verify.verify` on the
same sources. Whatever changed at the source since the full run is loaded now, so records that
verify reported as "changed since load" are no longer.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from sync.migrate.full_run import narrowed
from sync.migrate.sources import open_sources
from sync.migrate.verify import DEFAULT_SAMPLE, VerifyReport, verify
from sync.orchestrate.config import LoadedConfig
from sync.orchestrate.lock import run_lock
from sync.orchestrate.run import RunOutcome, run
from sync.orchestrate.stages import StageReport
from sync.store import Store


@dataclass
class CutoverResult:
    outcome: RunOutcome
    report: VerifyReport | None
    """None when the sync failed: a reconciliation of a half-done delta would prove nothing."""

    @property
    def ok(self) -> bool:
        return self.outcome.status != "failed" and self.report is not None and self.report.ok


def cutover(loaded: LoadedConfig, store: Store, store_url: str, *, sources: Collection[str] = (),
            sample: int = DEFAULT_SAMPLE, env: Mapping[str, str] | None = None, log_dir: Path | None = None,
            on_stage: Callable[[StageReport], None] | None = None,
            on_record: Callable[[str, int], None] | None = None) -> CutoverResult:
    config = narrowed(loaded, sources)
    outcome = run(config, store, store_url, command="migrate-cutover", env=env, log_dir=log_dir, on_stage=on_stage)
    if outcome.status == "failed":
        return CutoverResult(outcome, None)
    with run_lock(store_url):  # no scheduled sync may change the store while it is counted
        report = verify(store, open_sources(loaded, list(sources), env=env, log_dir=log_dir), sample=sample,
                        on_record=on_record)
    return CutoverResult(outcome, report)
