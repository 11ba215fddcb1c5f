"""A pipe's temporary folder (configs, logs, BATCH files of customer records) left by a run killed
with SIGKILL is removed by the next pipe to start; a folder of a pipe still running, or one that
is not a crm2 pipe's, never is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sync.orchestrate import standins
from sync.orchestrate.pipe_folders import LOCK, PREFIX, pipe_folder, sweep_stale
from sync.shipped import MAPPINGS
from sync.stage_marks import ENV as KILL_ENV

HOLDER = """
import sys
from pathlib import Path
from sync.orchestrate.pipe_folders import pipe_folder
with pipe_folder("finance", Path(sys.argv[1])) as folder:
    (folder.path / "batches").mkdir()
    (folder.path / "batches" / "part-1.jsonl").write_text('{"customer_no": "C1"}\\n')
    print(folder.path, flush=True)
    sys.stdin.read()  # hold the folder until the test closes stdin (or kills this process)
"""


@contextmanager
def holder(root: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A real process holding a pipe folder under ``root``; yields it once the folder exists."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None
    try:
        yield proc, Path(proc.stdout.readline().strip())
    finally:
        if proc.poll() is None:
            proc.stdin.close()
        proc.wait()


def test_a_killed_pipes_folder_goes_and_a_running_pipes_stays(tmp_path: Path) -> None:
    with holder(tmp_path) as (killed, stale), holder(tmp_path) as (_, alive):
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert (stale / "batches" / "part-1.jsonl").exists()  # SIGKILL: nothing could clean up
        assert sweep_stale(tmp_path) == [stale]
        assert not stale.exists()
        assert (alive / "batches" / "part-1.jsonl").exists()
        assert sweep_stale(tmp_path) == []
    assert not alive.exists()  # ended normally: removed by its own pipe


def test_only_crm2_pipe_folders_with_a_free_lock_are_removed(tmp_path: Path) -> None:
    others = [tmp_path / "crm2-pg-abc", tmp_path / "someone-else"]
    for folder in others:
        folder.mkdir()
        (folder / LOCK).touch()  # a free lock, but not a pipe folder's name
    unlocked = tmp_path / f"{PREFIX}finance-nolock"
    unlocked.mkdir()  # killed before its lock existed: nothing in it, and indistinguishable from a start
    (tmp_path / f"{PREFIX}finance-file").touch()  # not a folder
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / LOCK).touch()
    (tmp_path / f"{PREFIX}finance-link").symlink_to(target)  # a link to a folder is never followed
    assert sweep_stale(tmp_path) == []
    assert all(p.exists() for p in [*others, unlocked, target, tmp_path / f"{PREFIX}finance-link"])


def test_a_pipe_sweeps_before_it_starts_and_keeps_its_own_folder_private(tmp_path: Path) -> None:
    with holder(tmp_path) as (killed, stale):
        killed.send_signal(signal.SIGKILL)
        killed.wait()
    assert stale.exists()
    with pipe_folder("sales", tmp_path) as folder:
        assert not stale.exists()
        assert (folder.path.stat().st_mode & 0o777) == 0o700
        assert sweep_stale(tmp_path) == []  # its own lock is held
    assert not folder.path.exists()


@pytest.mark.slow
def test_the_next_sync_removes_the_folder_a_killed_sync_left(tmp_path: Path) -> None:
    """A real `crm2 sync` SIGKILLed mid-extract (CRM2_KILL_AT_STAGE) leaves its pipe folder; the next
    run's pipe removes it."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    handle = standins.start("finance", tmp_path / "standins", customers=60, seed=5)
    try:
        pipeline = {"version": 1, "store": {"url": str(tmp_path / "crm2.sqlite")},
                    "extractors": [{"name": "finance", "tap": "tap-crm2-finance",
                                    "mapping": str(MAPPINGS / "finance.yml"), "config": handle.tap_config}]}
        config = tmp_path / "pipeline.yml"
        config.write_text(json.dumps(pipeline))
        args = [sys.executable, "-m", "sync", "sync", "--config", str(config)]
        env = {**os.environ, **(getattr(handle, "env", {}) or {}), "TMPDIR": str(temp)}
        killed = subprocess.run(args, env={**env, KILL_ENV: "extract:finance"}, capture_output=True, text=True,
                                timeout=600, start_new_session=True)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
        left = [p for p in temp.iterdir() if p.name.startswith(f"{PREFIX}finance-")]
        assert len(left) == 1 and (left[0] / "tap.json").exists()

        again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
        assert again.returncode in (0, 3), again.stderr[-3000:]
        assert not left[0].exists()
        assert not [p for p in temp.iterdir() if p.name.startswith(PREFIX)]
    finally:
        handle.stop()
