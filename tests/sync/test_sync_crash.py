"""`crm2 sync` killed with SIGKILL anywhere, then run again, ends where an uninterrupted run ends.

Each scenario builds a fresh world — the three stand-ins seeded alike, an empty store — kills the
whole process group of a `crm2 sync` (the taps and targets with it) at one point, reruns, and
compares the store and the Salesforce stand-in's Accounts with those of an uninterrupted run.
Two more runs on one store must not overlap: the second exits with the lock message.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sync.orchestrate import standins
from sync.shipped import MAPPINGS
from sync.stage_marks import ENV as KILL_ENV
from sync.store import Store
from sync.store.schema import crosswalk, golden, quarantine, staging

CUSTOMERS, SEED = 120, 11
SOURCES = ("salesforce", "finance", "sales")
# Salesforce stamps every write with its own clock: two orgs cannot agree on these
REMOTE_CLOCK_FIELDS = {"SystemModstamp", "LastModifiedDate", "CRM2_Scored_At__c"}

pytestmark = pytest.mark.slow


@dataclass
class World:
    config: Path
    store: Path
    env: dict[str, str]
    salesforce: Any  # the stand-in handle


@contextmanager
def world(root: Path) -> Iterator[World]:
    handles = {name: standins.start(name, root / "standins", customers=CUSTOMERS, seed=SEED) for name in SOURCES}
    try:
        env: dict[str, str] = {}
        for handle in handles.values():
            env.update(getattr(handle, "env", {}) or {})
        store = root / "crm2.sqlite"
        pipeline = {
            "version": 1,
            "store": {"url": str(store)},
            "extractors": [{"name": name, "tap": f"tap-crm2-{name}", "mapping": str(MAPPINGS / f"{name}.yml"),
                            "config": handles[name].tap_config} for name in SOURCES],
            "enrich": {"as_of": "2026-11-01"},
            "writeback": {"enabled": True, "dry_run": False, "config": dict(handles["salesforce"].tap_config)},
        }
        config = root / "pipeline.yml"
        config.write_text(json.dumps(pipeline))  # JSON is YAML
        yield World(config, store, env, handles["salesforce"])
    finally:
        for handle in handles.values():
            handle.stop()


def sync_command(w: World) -> tuple[list[str], dict[str, str]]:
    return [sys.executable, "-m", "sync", "--json-logs", "sync", "--config", str(w.config)], {**os.environ, **w.env}


def run_to_end(w: World) -> subprocess.CompletedProcess[str]:
    args, env = sync_command(w)
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 3), done.stderr[-3000:]
    return done


def run_and_kill(w: World, stage: str) -> None:
    """Run a sync that SIGKILLs its whole process group at ``stage``'s mid-stage marker, then check
    that it died there: the last stage it started is ``stage`` and none after it began."""
    args, env = sync_command(w)
    done = subprocess.run(args, env={**env, KILL_ENV: stage}, capture_output=True, text=True, timeout=600,
                          start_new_session=True)
    started = STARTING.findall(done.stderr)
    assert done.returncode == -signal.SIGKILL, f"the run did not die at {stage}:\n" + done.stderr[-3000:]
    assert started and started[-1] == stage, f"killed in {started[-1:]} instead of {stage}"
    if not stage.startswith(("extract:", "writeback")):  # those markers are in the pipe's own log
        assert f"{stage}: mid-stage" in done.stderr


def snapshot(w: World) -> dict[str, Any]:
    """What a run leaves behind, without run ids and local timestamps."""
    with Store.open(w.store) as store, store.engine.connect() as conn:
        out: dict[str, Any] = {
            "staging": {(r.source_system, r.source_object, r.source_id): (r.entity, r.data, r.deleted)
                        for r in conn.execute(sa.select(staging))},
            "crosswalk": {(r.source_system, r.source_object, r.source_id): (r.golden_id, r.status)
                          for r in conn.execute(sa.select(crosswalk))},
            "golden": {r.golden_id: (r.entity, r.data, r.merged_into) for r in conn.execute(sa.select(golden))},
            "quarantine": sorted({(r.source_system, r.source_object, r.source_id or "", r.field or "", r.reason)
                                  for r in conn.execute(sa.select(quarantine).where(
                                      quarantine.c.resolved_at.is_(None)))}),
        }
    out["accounts"] = {a["Id"]: {k: v for k, v in a.items() if k not in REMOTE_CLOCK_FIELDS}
                       for a in w.salesforce.server.records("Account")}
    return out


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, Any]:
    with world(tmp_path_factory.mktemp("baseline")) as w:
        run_to_end(w)
        return snapshot(w)


STARTING = re.compile(r"\b(extract:[a-z_]+|checks|resolve|enrich|writeback): starting")
# Each stage logs a mid-stage marker (sync/stage_marks.py) and, asked to, dies right there: the
# kill lands at the same point of the work however busy the machine is.
KILL_POINTS = {
    "mid-salesforce-extract": "extract:salesforce",
    "mid-sales-extract": "extract:sales",
    "mid-checks": "checks",
    "mid-resolve": "resolve",
    "mid-enrich": "enrich",
    "mid-writeback": "writeback",
}


@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_killed_sync_then_rerun_ends_like_an_uninterrupted_run(point, tmp_path, uninterrupted):
    with world(tmp_path) as w:
        run_and_kill(w, KILL_POINTS[point])
        rerun = run_to_end(w)
        assert "was interrupted" in rerun.stderr
        after = snapshot(w)
        with Store.open(w.store) as store:
            statuses = [r.status for r in store.runs()]
    assert statuses[0] in ("ok", "partial") and "interrupted" in statuses
    for part in ("staging", "crosswalk", "golden", "quarantine", "accounts"):
        assert after[part] == uninterrupted[part], f"{part} differs after a kill at {point}"
    scored = [a for a in after["accounts"].values() if a.get("CRM2_Tier__c")]
    assert scored, "the writeback reached the stand-in"


def test_a_second_concurrent_sync_exits_with_the_lock_message(tmp_path):
    with world(tmp_path) as w:
        args, env = sync_command(w)
        first = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert first.stderr is not None
        for line in first.stderr:
            if "extract:salesforce: starting" in line:
                break
        second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        rest = first.stderr.read()
        first.wait(timeout=600)
    assert second.returncode == 1
    assert "another crm2 run is using this store" in second.stderr and "not starting a second run" in second.stderr
    assert first.returncode in (0, 3), rest[-3000:]
