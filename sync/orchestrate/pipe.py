"""Run one source into the store: ``tap --config … --state … | target-crm2 --config …``.

Both ends are real processes. target-crm2 commits each batch of rows together with the Singer
STATE that covers them (as the bookmark named after the extractor), so the next run resumes
from what is durable, whatever happened to this one.

With ``batch_size`` set (crm2's own taps, see run.py), the tap writes its records into Singer
BATCH files in a private folder inside this pipe's temporary folder and sends one BATCH message
per file; target-crm2 deletes each file once its rows are committed, and the folder goes with the
temporary folder when the pipe ends, whatever happened. A pipe killed with SIGKILL cannot remove
its folder; the next pipe to start does (sync/orchestrate/pipe_folders.py).

Each process gets its own ``CRM2_METRICS_FILE`` path; crm2's connectors write a small JSON summary
there when they end (API calls, records per stream), which becomes the stage's counts. Any other
Singer program simply ignores the variable.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sync import private
from sync.orchestrate import programs
from sync.orchestrate.pipe_folders import pipe_folder
from sync.redaction import redact

log = logging.getLogger(__name__)

TARGET = "target-crm2"
BATCH_SIZE = 10_000
"""Records per BATCH file (singer-sdk's default): target-crm2 commits it in transactions of 2,000."""
METRICS_ENV = "CRM2_METRICS_FILE"


class StageUnavailable(RuntimeError):
    """A program the stage needs is not installed (yet)."""


@dataclass
class PipeResult:
    name: str
    tap_exit: int
    target_exit: int
    stderr_tail: str
    tap_metrics: dict[str, Any] = field(default_factory=dict)
    target_metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.tap_exit == 0 and self.target_exit == 0


def _write_json(folder: Path, name: str, data: Mapping[str, Any]) -> Path:
    path = folder / name
    private.write_text(path, json.dumps(data, indent=2, default=str))
    return path


def _tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return redact("\n".join(text))


def _metrics(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


_CHUNK = 1 << 16
_RECORD = b'"RECORD"'
_BATCH_RECORDS = re.compile(rb'"crm2_records":(\d+)(?=\D)')
"""How many records the files of a BATCH message from crm2's taps hold."""
_TAIL = 48


def _relay(source: IO[bytes], sink: IO[bytes], on_records: Callable[[int], None]) -> None:
    """Copy the tap's output to the target, counting RECORD messages on the way (a message's
    type tag; counting is for a progress bar, so a record whose text holds the tag may count
    twice) and the records of BATCH messages that say how many they carry. If the target goes
    away, stop reading so the tap gets SIGPIPE, as with a direct pipe.

    Each chunk is scanned with the end of the previous one in front (``tail``), so a tag cut in
    two by a chunk boundary still counts, once: a match lying wholly in the tail was counted
    with the previous chunk; a batch count is taken only once the byte after its digits is read."""
    seen = 0
    tail = b""
    try:
        while chunk := source.read1(_CHUNK) if hasattr(source, "read1") else source.read(_CHUNK):
            window = tail + chunk
            seen += window.count(_RECORD) - tail.count(_RECORD)
            seen += sum(int(m.group(1)) for m in _BATCH_RECORDS.finditer(window) if m.end() >= len(tail))
            tail = window[-_TAIL:]
            sink.write(chunk)
            on_records(seen)
    except (BrokenPipeError, ValueError, OSError):
        pass
    finally:
        for stream in (sink, source):
            with contextlib.suppress(OSError, ValueError):
                stream.close()


def _with_batches(work: Path, tap_config: Mapping[str, Any], target_config: Mapping[str, Any],
                  batch_size: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Tap and target configs for BATCH files in a private folder of this pipe. Plain JSON Lines:
    the files live for seconds on a local disk, where gzip would only cost the tap CPU."""
    folder = private.mkdir(work / "batches")
    batch_config = {"encoding": {"format": "jsonl"}, "storage": {"root": folder.as_uri()}, "batch_size": batch_size}
    return {**tap_config, "batch_config": batch_config}, {**target_config, "batch_folder": str(folder)}


def run_pipe(*, name: str, tap: str, tap_config: Mapping[str, Any], target_config: Mapping[str, Any],
             state: Mapping[str, Any] | None, env: Mapping[str, str] | None = None,
             log_dir: Path | None = None, target: str = TARGET,
             on_records: Callable[[int], None] | None = None, batch_size: int | None = None) -> PipeResult:
    """Pipe a tap into a target (target-crm2 unless told) and wait for both; raises
    StageUnavailable if either is missing. ``on_records`` (for a progress bar) hears the number of
    RECORD messages passed so far; only then does the stream go through this process."""
    for program in (tap, target):
        if not programs.installed(program):
            raise StageUnavailable(f"{program} is not installed yet")
    tap_exe, target_exe = programs.executable(tap), programs.executable(target)
    assert tap_exe and target_exe
    with pipe_folder(name) as folder:
        work = folder.path
        # Both processes inherit the folder's lock: it stays "alive" until the last of them exits.
        keep = (folder.lock_fd,)
        logs = log_dir or work
        private.mkdir(logs)
        if batch_size:
            tap_config, target_config = _with_batches(work, tap_config, target_config, batch_size)
        tap_cmd = [tap_exe, "--config", str(_write_json(work, "tap.json", tap_config))]
        if state:
            tap_cmd += ["--state", str(_write_json(work, "state.json", state))]
        target_cmd = [target_exe, "--config", str(_write_json(work, "target.json", target_config))]
        proc_env = {**os.environ, **(env or {})}
        tap_err, target_err = logs / f"{name}.tap.log", logs / f"{name}.target.log"
        log.info("running %s: %s | %s", name, tap, target)
        tap_metrics, target_metrics = work / "tap.metrics.json", work / "target.metrics.json"
        with private.open_write(tap_err, "wb") as te, private.open_write(target_err, "wb") as ge:
            tap_proc = subprocess.Popen(tap_cmd, stdout=subprocess.PIPE, stderr=te, pass_fds=keep,
                                        env={**proc_env, METRICS_ENV: str(tap_metrics)})
            assert tap_proc.stdout is not None
            relay = None
            if on_records is None:
                target_in: Any = tap_proc.stdout
            else:
                target_in = subprocess.PIPE
            target_proc = subprocess.Popen(target_cmd, stdin=target_in, stdout=subprocess.DEVNULL,
                                           stderr=ge, pass_fds=keep, env={**proc_env, METRICS_ENV: str(target_metrics)})
            if on_records is None:
                tap_proc.stdout.close()  # the target owns the pipe; the tap gets SIGPIPE if it dies
            else:
                assert target_proc.stdin is not None
                relay = threading.Thread(target=_relay, args=(tap_proc.stdout, target_proc.stdin, on_records),
                                         name=f"crm2-relay-{name}", daemon=True)
                relay.start()
            target_exit = target_proc.wait()
            tap_exit = tap_proc.wait()
            if relay is not None:
                relay.join()
        tail = ""
        if tap_exit or target_exit:
            tail = _tail(tap_err) + "\n" + _tail(target_err)
        return PipeResult(name, tap_exit, target_exit, tail.strip(), _metrics(tap_metrics), _metrics(target_metrics))
