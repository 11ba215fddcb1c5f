"""What a writeback run tells people: the dry-run listing, a one-line summary, Data Loader style
success/error files, ``summary.json`` for the orchestrator, and the exit code.

Lines name records by their Salesforce Id (or external id) and fields by API name; the values
are crm2's own scores and tiers. Error messages are Salesforce's, which name fields and codes.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from connectors.salesforce.writeback.engine import EngineResult, PreviewLine
from sync import private
from sync.exitcodes import STOPPED_EARLY, ExitCode
from sync.writeback.values import shown


def exit_code(result: EngineResult) -> int:
    if result.stopped_fatal:
        return ExitCode.FAILED
    if result.stopped:  # cleanly on the API limit or budget, or Salesforce unreachable; a rerun continues
        return STOPPED_EARLY
    if result.counts.rejected or result.bad_values:
        return ExitCode.PARTIAL  # rejected rows are queued and retried on the next run
    return ExitCode.OK


def preview_lines(lines: Sequence[PreviewLine]) -> list[str]:
    """``Account 001… CRM2_Tier__c: B -> A``, one per record and field."""
    return [f"{p.object} {p.record} {p.field}: {p.before if not p.known else shown(p.before)} -> {shown(p.after)}"
            for p in lines]


def summary_line(result: EngineResult, *, dry_run: bool) -> str:
    c = result.counts
    if dry_run:
        text = (f"dry run: {c.changed:,} records would change ({len(result.preview):,} fields), "
                f"{c.unchanged:,} unchanged, {c.no_match:,} without a match; nothing was written")
    else:
        text = (f"writeback: {c.written:,} written ({c.created:,} created), {c.rejected:,} rejected, "
                f"{c.unchanged:,} unchanged, {c.deferred:,} deferred, {c.no_match:,} without a match; "
                f"{c.collections_calls:,} Collections calls, {c.bulk_jobs:,} Bulk jobs")
        if c.retried:
            text += f"; {c.retried:,} retried from earlier runs"
        if c.recovered:
            text += f"; {c.recovered:,} writes of an interrupted run confirmed"
    text += f"; API calls {result.api_calls:,} (+{result.auth_calls:,} auth)"
    if result.stopped:
        text += f"; STOPPED EARLY: {result.stopped}"
    if result.bad_values:
        text += f"; {len(result.bad_values):,} records with values that do not fit their field"
    return text


def summary_json(result: EngineResult, *, dry_run: bool, run_id: str) -> dict[str, Any]:
    return {"run_id": run_id, "dry_run": dry_run, "exit_code": exit_code(result), "stopped": result.stopped,
            "counts": asdict(result.counts), "api_calls": result.api_calls, "auth_calls": result.auth_calls,
            "bad_values": result.bad_values[:100], "preview": preview_lines(result.preview)[:1000]}


def write_files(folder: Path, result: EngineResult, *, dry_run: bool, run_id: str) -> None:
    private.mkdir(folder)
    private.write_text(folder / "summary.json", json.dumps(summary_json(result, dry_run=dry_run, run_id=run_id),
                                                           indent=2, default=str))
    if dry_run:
        with private.open_write(folder / "changes.csv", "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["object", "record", "field", "before", "after"])
            for p in result.preview:
                writer.writerow([p.object, p.record, p.field, p.before if not p.known else shown(p.before),
                                 shown(p.after)])
        return
    with private.open_write(folder / "success.csv", "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["object", "record_id", "key_field", "key_value", "created", "fields"])
        for o in result.successes:
            i = o.change.intent
            writer.writerow([i.object, o.record_id or "", i.key_field, i.key_value, o.created,
                             " ".join(sorted(o.change.sent))])
    with private.open_write(folder / "errors.csv", "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["object", "record_id", "key_field", "key_value", "golden_id", "error_code", "error"])
        for o in result.rejections:
            i = o.change.intent
            writer.writerow([i.object, o.record_id or "", i.key_field, i.key_value, i.golden_id or "",
                             o.error_code or "", o.error_message])


def print_report(result: EngineResult, *, dry_run: bool, out: TextIO) -> None:
    if dry_run:
        for line in preview_lines(result.preview):
            print(line, file=out)
    print(summary_line(result, dry_run=dry_run), file=out)
