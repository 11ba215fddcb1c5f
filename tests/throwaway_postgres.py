"""A throwaway PostgreSQL server started from the machine's initdb/pg_ctl, one per test process.

The ``postgres_url`` fixture hands it out, and test modules whose test class singer-sdk builds at
import time (before any fixture exists) call :func:`shared` directly, so one pytest process
starts one server whichever asks first.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa


def pg_bin() -> Path | None:
    """Folder holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayPostgres:
    """A fresh cluster in a temporary folder, listening on a free loopback port.

    initdb refuses to run as root, so as root the server runs as the ``postgres`` system user.
    """

    def __init__(self, bindir: Path, *, ssl_files: tuple[Path, Path] | None = None) -> None:
        """``ssl_files`` (certificate, key): the server also speaks TLS with them."""
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="crm2-pg-"))
        self.data, sock = self.root / "data", self.root / "sock"
        sock.mkdir()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(sock, "postgres")
            self.prefix = ["runuser", "-u", "postgres", "--"]
        port = _free_port()
        ssl_options = ""
        if ssl_files is not None:
            for name, source in zip(("server.crt", "server.key"), ssl_files, strict=True):
                shutil.copyfile(source, self.root / name)
                os.chmod(self.root / name, 0o600)
                if self.prefix:
                    shutil.chown(self.root / name, "postgres")
            ssl_options = (f" -c ssl=on -c ssl_cert_file={self.root / 'server.crt'}"
                           f" -c ssl_key_file={self.root / 'server.key'}")
        self._run(str(bindir / "initdb"), "-D", str(self.data), "-U", "crm2", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        self._run(str(bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-o",
                  f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
                  + ssl_options,
                  "start")
        self.url = f"postgresql+psycopg://crm2@127.0.0.1:{port}/postgres"
        self.running = True

    def _run(self, *args: str) -> None:
        subprocess.run(self.prefix + list(args), check=True, capture_output=True)

    def create_database(self) -> str:
        """URL of a new empty database on this server."""
        name = "t_" + uuid.uuid4().hex[:12]
        admin = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url.rsplit("/", 1)[0] + "/" + name

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        admin = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            admin.dispose()

    def stop(self) -> None:
        if self.running:
            self.running = False
            subprocess.run([*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                            "stop"], capture_output=True)
            shutil.rmtree(self.root, ignore_errors=True)


_shared: ThrowawayPostgres | None = None


def shared() -> ThrowawayPostgres | None:
    """This process's server, started on first use and stopped at exit; None without PostgreSQL."""
    global _shared
    if _shared is None or not _shared.running:
        bindir = pg_bin()
        if bindir is None:
            return None
        _shared = ThrowawayPostgres(bindir)
        atexit.register(_shared.stop)
    return _shared
