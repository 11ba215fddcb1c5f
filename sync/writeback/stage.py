"""The writeback stage of ``crm2 sync``: ``tap-crm2 | target-crm2-salesforce`` as a Singer pipe.

The engine only knows program names and the files they leave (it never imports connectors):
the tap reads changed golden customers from the store, resuming from the bookmark the target
saved there; the target diffs, writes, records its state and audit in the same store, and
leaves ``summary.json`` (plus success/error or dry-run files) in an output folder, from which
this stage builds its report. Exit codes of the target: 0 ok, 3 some rows rejected (queued for
the next run), 75 stopped cleanly on the API limit or budget (the next run continues).
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sync.exitcodes import STOPPED_EARLY, ExitCode
from sync.orchestrate.config import LoadedConfig
from sync.orchestrate.pipe import StageUnavailable, run_pipe
from sync.orchestrate.stages import StageReport, StageStatus
from sync.shipped import MAPPINGS
from sync.store import Store

log = logging.getLogger(__name__)

TAP = "tap-crm2"
PREVIEW_LINES = 20
_PATH_SETTINGS = ("ca_bundle", "output_dir")


def bookmark_name(target: str) -> str:
    return f"writeback:{target}"


def mapping_path(loaded: LoadedConfig) -> Path:
    wb = loaded.pipeline.writeback
    return loaded.resolve_path(wb.mapping) if wb.mapping else MAPPINGS / "writeback.yml"


def _target_config(loaded: LoadedConfig, store_url: str, run_id: str, output_dir: Path) -> dict[str, Any]:
    wb = loaded.pipeline.writeback
    config: dict[str, Any] = dict(wb.config)
    for key in _PATH_SETTINGS:  # relative to the pipeline config, like every other path in it
        if isinstance(config.get(key), str) and not Path(config[key]).is_absolute():
            config[key] = str(loaded.resolve_path(Path(config[key])))
    return {**config, "store_url": store_url, "mapping": str(mapping_path(loaded)), "run_id": run_id,
            "dry_run": wb.dry_run, "bookmark_name": bookmark_name(wb.target), "output_dir": str(output_dir)}


def _summary(output_dir: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((output_dir / "summary.json").read_text()))
    except (OSError, ValueError):
        return {}


def _report(summary: Mapping[str, Any], target_exit: int, tap_exit: int, stderr_tail: str,
            dry_run: bool) -> StageReport:
    counts = {k: int(v) for k, v in (summary.get("counts") or {}).items() if isinstance(v, int)}
    counts["api_calls"] = int(summary.get("api_calls") or 0)
    if dry_run and target_exit in (0, ExitCode.PARTIAL):
        preview = list(summary.get("preview") or [])
        lines = [f"dry run: {counts.get('changed', 0):,} records would change; nothing was written", *preview[
            :PREVIEW_LINES]]
        if len(preview) > PREVIEW_LINES:
            lines.append(f"... {len(preview) - PREVIEW_LINES:,} more lines in changes.csv")
        return StageReport("writeback", StageStatus.OK, "\n".join(lines), counts)
    written = (f"{counts.get('written', 0):,} written, {counts.get('unchanged', 0):,} unchanged, "
               f"{counts.get('rejected', 0):,} rejected, {counts.get('api_calls', 0):,} API calls")
    if tap_exit == 0 and target_exit == 0:
        return StageReport("writeback", StageStatus.OK, written, counts)
    if tap_exit == 0 and target_exit == ExitCode.PARTIAL:
        return StageReport("writeback", StageStatus.PARTIAL, f"{written}; rejected rows are retried on the next run",
                           counts)
    if target_exit == STOPPED_EARLY:
        return StageReport("writeback", StageStatus.FAILED,
                           f"stopped early: {summary.get('stopped') or 'API limit'}; "
                           f"{written}; the next run continues", counts)
    return StageReport("writeback", StageStatus.FAILED,
                       f"tap exit {tap_exit}, target exit {target_exit}\n{stderr_tail}", counts)


def run_writeback(loaded: LoadedConfig, store: Store, store_url: str, run_id: str, *,
                  env: Mapping[str, str] | None = None, log_dir: Path | None = None) -> StageReport:
    """Run the writeback pipe once and report what it did (``unavailable`` if a program is missing)."""
    wb = loaded.pipeline.writeback
    with tempfile.TemporaryDirectory(prefix="crm2-writeback-") as tmp:
        configured = wb.config.get("output_dir")
        output_dir = Path(str(loaded.resolve_path(Path(configured)))) if configured else (
            (log_dir / f"writeback-{run_id}") if log_dir else Path(tmp))
        try:
            result = run_pipe(name="writeback", tap=TAP, tap_config={"store_url": store_url},
                              target=wb.target, target_config=_target_config(loaded, store_url, run_id, output_dir),
                              state=store.get_bookmark(bookmark_name(wb.target)), env=env, log_dir=log_dir)
        except StageUnavailable as exc:
            return StageReport("writeback", StageStatus.UNAVAILABLE, str(exc))
        report = _report(_summary(output_dir), result.target_exit, result.tap_exit, result.stderr_tail, wb.dry_run)
        if wb.dry_run:
            for line in report.detail.splitlines()[1:]:
                log.info("writeback %s", line)
        return report
