"""Files crm2 writes are private: 0600 files, 0700 folders, whatever the caller's umask.

One owner for the rule. Two layers, because a rule that each writer must remember is a rule
someone forgets:

* :func:`restrict_umask` — every crm2 program (the CLI, each tap and target) calls it once at
  start, so every file it or its child processes create (SQLite's WAL/SHM and journal files,
  third-party writers such as pyarrow or Singer SDK) starts out private;
* the helpers below — writers call them so a file is private even in a process that did not
  restrict its umask (crm2 used as a library, a test), and so a file that already existed with
  wider modes is tightened when crm2 writes it again.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o600
DIR_MODE = 0o700
UMASK = 0o077


def restrict_umask() -> None:
    """Make every file this process (and its children) creates private from now on."""
    old = os.umask(UMASK)
    os.umask(old | UMASK)  # keep anything stricter the caller already asked for


def mkdir(path: str | os.PathLike[str]) -> Path:
    """Create a folder and its missing parents, each 0700 (folders that existed are left alone)."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    for made in missing:  # only what we created: a folder the user handed us is theirs to set
        _chmod(made, DIR_MODE)
    return path


def touch(path: str | os.PathLike[str]) -> Path:
    """Create the file empty and private if it is absent; tighten it if it exists."""
    path = Path(path)
    mkdir(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    _chmod(path, FILE_MODE)
    return path


def open_write(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> IO[Any]:
    """``open(path, mode)`` for writing or appending, the file created 0600 (tightened if it existed)."""
    path = Path(path)
    if not any(m in mode for m in "wax"):
        raise ValueError(f"open_write is for writing, not mode {mode!r}")
    mkdir(path.parent)

    def opener(name: str, flags: int) -> int:
        fd = os.open(name, flags, FILE_MODE)
        os.fchmod(fd, FILE_MODE)
        return fd

    return open(path, mode, opener=opener, **kwargs)


def write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    with open_write(path, "w", encoding=encoding) as out:
        out.write(text)
    return Path(path)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    with open_write(path, "wb") as out:
        out.write(data)
    return Path(path)


def tighten(root: str | os.PathLike[str]) -> None:
    """Make a file, or a folder and everything in it, private (for trees other code filled)."""
    root = Path(root)
    if not root.exists():
        return
    if root.is_file():
        _chmod(root, FILE_MODE)
        return
    _chmod(root, DIR_MODE)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            _chmod(Path(folder) / name, DIR_MODE)
        for name in files:
            _chmod(Path(folder) / name, FILE_MODE)


def wider_than_private(root: str | os.PathLike[str]) -> Iterator[tuple[Path, str]]:
    """Every file or folder under root that group or others may read, write or enter."""
    root = Path(root)
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                continue
            if mode & 0o077:
                yield path, oct(stat.S_IMODE(mode))


def _chmod(path: Path, mode: int) -> None:
    try:
        if stat.S_IMODE(path.stat().st_mode) != mode:
            path.chmod(mode)
    except FileNotFoundError:  # removed meanwhile (a WAL file after checkpoint): nothing to protect
        pass
    except PermissionError:  # not ours (a shared parent such as /tmp): its owner decides
        pass
