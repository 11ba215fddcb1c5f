"""One run at a time per store: a second `crm2 sync` on the same store exits at once.

SQLite stores use an OS file lock next to the database file (released by the kernel if the
process dies, so a SIGKILLed run never leaves a stale lock). PostgreSQL stores use a
session-level advisory lock, likewise released when the connection drops.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from sync import private
from sync.errors import Crm2Error


class LockHeld(Crm2Error):
    """Another run holds the store's lock: the second run stops before doing anything."""

    def lines(self) -> list[str]:
        return [f"{self}; not starting a second run"]


def _holder_text() -> str:
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                       "since": datetime.now(UTC).isoformat(timespec="seconds")})


def _describe(raw: str) -> str:
    try:
        info = json.loads(raw)
        return f"pid {info['pid']} on {info['host']}, since {info['since']}"
    except (ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    private.mkdir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, private.FILE_MODE)
    os.fchmod(fd, private.FILE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace")
            raise LockHeld(f"another crm2 run is using this store ({_describe(holder)})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, _holder_text().encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock


@contextmanager
def _advisory_lock(url: str) -> Iterator[None]:
    key = zlib.crc32(b"crm2-run-lock")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                raise LockHeld("another crm2 run is using this store (PostgreSQL advisory lock held)")
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
    finally:
        engine.dispose()


@contextmanager
def run_lock(store_url: str) -> Iterator[None]:
    """Hold the store's run lock for the duration of the block, or raise LockHeld at once."""
    url = make_url(store_url)
    if url.get_backend_name() == "sqlite" and url.database:
        with _file_lock(Path(url.database + ".lock")):
            yield
    elif url.get_backend_name() == "postgresql":
        with _advisory_lock(store_url):
            yield
    else:
        yield  # in-memory or other back ends: nothing else can share them
