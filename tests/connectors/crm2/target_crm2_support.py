"""Running target-crm2 as a real process, and reading back what it left in the store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
TARGET = str(BIN / "target-crm2")


@dataclass
class TargetRun:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def states(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def counts(self) -> dict[str, Any]:
        """The target's closing counts (its 'counts {...}' log line)."""
        for line in reversed(self.stderr.splitlines()):
            if "counts {" in line:
                return json.loads(line[line.index("counts {") + len("counts "):])
        raise AssertionError("no counts line in the target's log:\n" + self.stderr[-3000:])


def write_config(folder: Path, **config: Any) -> Path:
    path = folder / "target.json"
    path.write_text(json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in config.items()}))
    return path


def messages(*items: dict[str, Any]) -> str:
    return "".join(json.dumps(m) + "\n" for m in items)


def schema(stream: str, properties: dict[str, Any], key: Iterable[str] = ("id",)) -> dict[str, Any]:
    return {"type": "SCHEMA", "stream": stream, "schema": {"type": "object", "properties": properties},
            "key_properties": list(key)}


def record(stream: str, rec: Any) -> dict[str, Any]:
    return {"type": "RECORD", "stream": stream, "record": rec}


def state(value: Any) -> dict[str, Any]:
    return {"type": "STATE", "value": value}


def run_target(config: Path, stdin: str, env: dict[str, str] | None = None, timeout: float = 120) -> TargetRun:
    proc = subprocess.run([TARGET, "--config", str(config)], input=stdin, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
    return TargetRun(proc.returncode, proc.stdout, proc.stderr)


def pipe(tap: str, tap_config: dict[str, Any], target_config: Path, folder: Path,
         state_value: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> tuple[int, TargetRun]:
    """tap | target-crm2 as two real processes joined by an OS pipe; (tap exit, target run)."""
    tap_json = folder / "tap.json"
    tap_json.write_text(json.dumps(tap_config))
    cmd = [str(BIN / tap), "--config", str(tap_json)]
    if state_value is not None:
        state_json = folder / "state.json"
        state_json.write_text(json.dumps(state_value))
        cmd += ["--state", str(state_json)]
    full_env = {**os.environ, **(env or {})}
    with open(folder / "tap.log", "wb") as tap_log:
        tap_proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=tap_log, env=full_env)
        target_proc = subprocess.Popen([TARGET, "--config", str(target_config)], stdin=tap_proc.stdout,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env)
        assert tap_proc.stdout is not None
        tap_proc.stdout.close()
        out, err = target_proc.communicate(timeout=300)
        tap_exit = tap_proc.wait(timeout=60)
    return tap_exit, TargetRun(target_proc.returncode, out, err)


class StoreView:
    """Plain SQL over a store file or URL, for assertions."""

    def __init__(self, url: str | Path) -> None:
        text = str(url)
        self.engine = sa.create_engine(text if "://" in text else f"sqlite:///{text}")

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def staged(self, obj: str) -> dict[str, dict[str, Any]]:
        return {r.source_id: _json(r.data) for r in self.rows(
            "select source_id, data from staging where source_object = :o and not deleted", o=obj)}

    def crosswalk(self, obj: str | None = None) -> dict[tuple[str, str], str]:
        sql = "select source_object, source_id, status from crosswalk"
        rows = self.rows(sql + " where source_object = :o", o=obj) if obj else self.rows(sql)
        return {(r.source_object, r.source_id): r.status for r in rows}

    def quarantine(self, open_only: bool = True) -> list[Any]:
        return self.rows("select stream, source_object, source_id, field, reason, record from quarantine"
                         + (" where resolved_at is null" if open_only else "") + " order by id")

    def bookmark(self, name: str) -> Any:
        value = self.scalar("select state from bookmarks where name = :n", n=name)
        return _json(value) if value is not None else None

    def close(self) -> None:
        self.engine.dispose()


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
