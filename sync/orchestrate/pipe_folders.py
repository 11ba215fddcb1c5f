"""The private temporary folder of one pipe, and sweeping away those of pipes that died.

A pipe's folder holds its configs, logs and, with Singer BATCH, files of customer records. A
pipe that ends in any ordinary way removes it (``TemporaryDirectory``), but a run killed with
SIGKILL (an OOM kill, ``kill -9``, a power cut) cannot, and the folder would stay in /tmp for
good. So each pipe folder carries a lock that says "alive", and the next pipe to start removes
the folders whose lock nobody holds.

Only folders that are certainly ours and certainly dead go:

* the name starts with :data:`PREFIX` (``crm2-pipe-``, used by nothing else) in the temporary
  folder, and it is a real folder (not a symbolic link) owned by this user;
* it holds :data:`LOCK`, and an exclusive ``flock`` on it succeeds without waiting. The pipe
  that made the folder holds that lock from before the file is visible under its name (it is
  locked under a temporary name, then renamed) until the folder is gone, and the tap and target
  inherit the locked descriptor, so the lock is free only once every process of that pipe has
  exited — the kernel releases it however they died. A folder of a pipe still running, in this
  run or a concurrent ``crm2 sync`` on another store, is never touched.

A folder without the lock file (a pipe killed in the instant between creating its folder and
its lock, before anything was written into it) is left alone: it can be told from a pipe that
is just starting only by guessing from its age, and it holds nothing.

A lock file rather than a pid: pids are reused, and a pid says nothing about a tap or target
still writing after its ``crm2`` process was killed on its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sync import private

log = logging.getLogger(__name__)

PREFIX = "crm2-pipe-"
LOCK = ".crm2-pipe.lock"


@dataclass(frozen=True)
class PipeFolder:
    path: Path
    lock_fd: int
    """Descriptor holding the folder's lock: pass it to the pipe's processes (``pass_fds``)."""


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def sweep_stale(root: Path | None = None) -> list[Path]:
    """Remove the pipe folders under ``root`` (the temporary folder) whose pipe has died; returns them."""
    root = Path(root or tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    uid = os.getuid()
    for entry in entries:
        if not entry.name.startswith(PREFIX):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid:
            continue
        folder = Path(entry.path)
        try:
            fd = os.open(folder / LOCK, os.O_RDWR | os.O_NOFOLLOW)
        except OSError:
            continue  # no lock file: starting right now, or empty (see the module's doc)
        try:
            if not _try_lock(fd):
                continue  # a live pipe holds it
            # Ours and dead: remove it while holding its lock.
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                removed.append(folder)
        finally:
            os.close(fd)
    if removed:
        log.info("removed %d temporary folder(s) left by crm2 pipes that were killed", len(removed))
    return removed


@contextmanager
def pipe_folder(name: str, root: Path | None = None) -> Iterator[PipeFolder]:
    """A new private folder for the pipe ``name``, locked while the ``with`` block runs, then removed.

    Stale folders of dead pipes are swept first."""
    sweep_stale(root)
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{name}-", dir=root))  # 0700
    fd = -1
    try:
        # Locked before it has its name: a sweep never sees this lock file unlocked.
        pending = path / f"{LOCK}.{os.getpid()}"
        fd = os.open(pending, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, private.FILE_MODE)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(pending, path / LOCK)
        yield PipeFolder(path, fd)
    finally:
        # Removed while still locked, so no sweep is removing it at the same time.
        shutil.rmtree(path, ignore_errors=True)
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
