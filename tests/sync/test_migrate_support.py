"""Shared pieces of the `crm2 migrate` tests (no tests here): a small demo org on the real stand-ins,
the crm2 command line as a subprocess, a copy of a store, REST writes to the Salesforce stand-in,
and a search for personal data through every table and archive file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from sync.migrate.archive_files import Manifest, read_rows
from sync.orchestrate import standins
from sync.shipped import MAPPINGS
from sync.store.schema import metadata

CUSTOMERS = 150
SEED = 7


@dataclass
class Org:
    """Running stand-ins and a pipeline config that reads them into ``store``."""

    workdir: Path
    handles: dict[str, Any]
    env: dict[str, str]
    config: Path
    store: Path
    extra: list[Path] = field(default_factory=list)

    def stop(self) -> None:
        for handle in self.handles.values():
            handle.stop()

    def config_for(self, store: Path, name: str) -> Path:
        """The same pipeline, another store (a copy made with :func:`copy_store`)."""
        path = self.workdir / f"{name}.yml"
        path.write_text(self.config.read_text().replace(str(self.store), str(store)))
        return path


def start_org(workdir: Path, *, sources: Iterable[str] = ("salesforce", "sales", "finance"),
              customers: int = CUSTOMERS) -> Org:
    workdir.mkdir(parents=True, exist_ok=True)
    handles: dict[str, Any] = {}
    env: dict[str, str] = {}
    lines = ["version: 1", f"store: {{url: {workdir / 'crm2.sqlite'}}}", "enrich: {as_of: 2026-11-01}",
             "extractors:"]
    try:
        for name in sources:
            handles[name] = standins.start(name, workdir, customers=customers, seed=SEED)
            env.update(getattr(handles[name], "env", {}) or {})
            lines.append(f"  - {{name: {name}, tap: tap-crm2-{name}, mapping: {MAPPINGS / f'{name}.yml'}, "
                         f"config: {json.dumps(handles[name].tap_config)}}}")
    except BaseException:
        for handle in handles.values():
            handle.stop()
        raise
    config = workdir / "pipeline.yml"
    config.write_text("\n".join(lines) + "\n")
    return Org(workdir, handles, env, config, workdir / "crm2.sqlite")


def crm2(org: Org, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """`crm2 ...` as a real process, with the stand-ins' secrets in its environment."""
    return subprocess.run([sys.executable, "-m", "sync", "--no-json-logs", *map(str, args)], capture_output=True,
                          text=True, timeout=600, env={**os.environ, **org.env})


def copy_store(source: Path, target: Path) -> Path:
    """A consistent copy of a SQLite store (WAL included), through SQLite's backup API."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


def rows(store: Path, sql: str, **params: Any) -> list[Any]:
    engine = sa.create_engine(f"sqlite:///{store}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params).all())
    finally:
        engine.dispose()


def execute(store: Path, sql: str, **params: Any) -> int:
    engine = sa.create_engine(f"sqlite:///{store}")
    try:
        with engine.begin() as conn:
            return conn.execute(sa.text(sql), params).rowcount
    finally:
        engine.dispose()


class SalesforceRest:
    """Writes to the Salesforce stand-in the way any API client would: OAuth, then REST over TLS."""

    def __init__(self, org: Org) -> None:
        cfg = org.handles["salesforce"].tap_config
        self.url, self.verify = cfg["instance_url"], cfg["ca_bundle"]
        answer = requests.post(f"{self.url}/services/oauth2/token", timeout=30, verify=self.verify, data={
            "grant_type": "client_credentials", "client_id": cfg["client_id"],
            "client_secret": org.env[cfg["client_secret_env"]]})
        answer.raise_for_status()
        self.headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def update(self, sobject: str, record_id: str, values: dict[str, Any]) -> None:
        answer = requests.patch(f"{self.url}/services/data/v62.0/sobjects/{sobject}/{record_id}", json=values,
                                headers=self.headers, verify=self.verify, timeout=30)
        assert answer.status_code == 204, answer.text

    def delete(self, sobject: str, record_id: str) -> None:
        answer = requests.delete(f"{self.url}/services/data/v62.0/sobjects/{sobject}/{record_id}",
                                 headers=self.headers, verify=self.verify, timeout=30)
        assert answer.status_code == 204, answer.text


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict | list):
            yield from _strings(decoded)
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif value is not None:
        yield str(value)


def find_values(store: Path | str, archives: Iterable[Path], needles: Iterable[str]) -> list[str]:
    """Where any needle (case-insensitively) occurs: every column of every table of the store (a SQLite
    file or a URL; JSON decoded, so escaped characters count too), every row and the raw bytes of
    every archive file."""
    wanted = [n.casefold() for n in needles if n]
    hits: list[str] = []
    engine = sa.create_engine(store if isinstance(store, str) else f"sqlite:///{store}")
    try:
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                for row in conn.execute(sa.select(table)):
                    for column, value in zip(table.columns, row, strict=True):
                        for text in _strings(value):
                            hits += [f"{table.name}.{column.name}: {n}" for n in wanted if n in text.casefold()]
    finally:
        engine.dispose()
    for folder in archives:
        manifest = Manifest.load(folder)
        for entry in manifest.files:
            for row in read_rows(folder, entry):
                for text in _strings(row):
                    hits += [f"{entry.path}: {n}" for n in wanted if n in text.casefold()]
        for path in folder.rglob("*"):
            if path.is_file() and not path.name.endswith((".gz", ".parquet")):
                text = path.read_bytes().decode("utf-8", "replace").casefold()
                hits += [f"{path.name} (raw): {n}" for n in wanted if n in text]
    return sorted(set(hits))
