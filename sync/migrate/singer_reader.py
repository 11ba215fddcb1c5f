"""Run a Singer tap as a subprocess and read its output in-process: discovery and full reads.

A migration talks to the retired system only through its tap (``sync/`` never imports
connector code), and always without state: every read is a full read. Numbers are decoded as
exact Decimals, exactly as target-crm2 decodes them, so a record re-read here maps to the same
values it mapped to when it was loaded. Message types other than SCHEMA, RECORD and STATE are
passed through as :class:`Other`; a reader ignores what it does not need.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import msgspec

from sync import private
from sync.errors import SourceError
from sync.orchestrate import programs
from sync.redaction import redact

log = logging.getLogger(__name__)

DISCOVERY_TIMEOUT = 600.0
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


class TapFailed(SourceError):
    """The tap is missing, exited non-zero or printed something that is not Singer."""


@dataclass(frozen=True)
class Schema:
    stream: str
    schema: dict[str, Any]
    key_properties: list[str]


@dataclass(frozen=True)
class Record:
    stream: str
    record: Any


@dataclass(frozen=True)
class State:
    value: Any


@dataclass(frozen=True)
class Other:
    """A message type this reader has no use for (ACTIVATE_VERSION, BATCH, ...)."""

    kind: str
    message: dict[str, Any]


Message = Schema | Record | State | Other


@dataclass
class Tap:
    """One tap invocation: its executable name, config and the environment holding its secrets."""

    name: str
    executable: str
    config: Mapping[str, Any]
    env: Mapping[str, str] | None = None
    log_dir: Path | None = None
    stats: dict[str, int] = field(default_factory=dict)
    """Records read per stream by the last :meth:`read`."""

    def _exe(self) -> str:
        if not programs.installed(self.executable):
            raise TapFailed(f"{self.executable} is not installed")
        exe = programs.executable(self.executable)
        if exe is None:  # pragma: no cover - installed() just found it
            raise TapFailed(f"{self.executable} is not installed")
        return exe

    def _environ(self) -> dict[str, str]:
        return {**os.environ, **(self.env or {})}

    def discover(self, timeout: float = DISCOVERY_TIMEOUT) -> dict[str, Any]:
        """The tap's catalog (``--discover``)."""
        exe = self._exe()
        with tempfile.TemporaryDirectory(prefix="crm2-migrate-") as tmp:
            config = _private_json(Path(tmp), "tap.json", self.config)
            try:
                proc = subprocess.run([exe, "--config", str(config), "--discover"], capture_output=True,
                                      timeout=timeout, env=self._environ())
            except subprocess.TimeoutExpired:
                raise TapFailed(f"{self.executable} --discover took longer than {timeout:.0f}s") from None
        if proc.returncode != 0:
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-5:]
            raise TapFailed(redact(f"{self.executable} --discover exited {proc.returncode}: " + " | ".join(tail)))
        try:
            catalog = json.loads(proc.stdout)
        except ValueError:
            raise TapFailed(f"{self.executable} --discover did not print a catalog") from None
        if not isinstance(catalog, dict) or not isinstance(catalog.get("streams"), list):
            raise TapFailed(f"{self.executable} --discover did not print a catalog (no 'streams' list)")
        return catalog

    def read(self, catalog: Mapping[str, Any] | None = None,
             on_record: Callable[[int], None] | None = None) -> Iterator[Message]:
        """Every message of a full read (no state), in order; raises TapFailed when the tap fails.

        The caller sees the records as they arrive; the failure (if any) is raised after the last
        message, so a caller must consume the iterator to the end before trusting what it read.
        """
        exe = self._exe()
        self.stats = {}
        with tempfile.TemporaryDirectory(prefix="crm2-migrate-") as tmp:
            work = Path(tmp)
            cmd = [exe, "--config", str(_private_json(work, "tap.json", self.config))]
            if catalog is not None:
                cmd += ["--catalog", str(_private_json(work, "catalog.json", catalog))]
            logs = self.log_dir or work
            private.mkdir(logs)
            err_path = logs / f"{self.name}.migrate-tap.log"
            with private.open_write(err_path, "wb") as err:
                proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=self._environ())
                assert proc.stdout is not None
                count = 0
                try:
                    for message in _messages(proc.stdout, self.executable):
                        if isinstance(message, Record):
                            count += 1
                            self.stats[message.stream] = self.stats.get(message.stream, 0) + 1
                            if on_record is not None and count % 1000 == 0:
                                on_record(count)
                        yield message
                finally:
                    proc.stdout.close()  # a reader that stopped early: the tap ends on SIGPIPE
                    code = proc.wait()
            if on_record is not None:
                on_record(count)
            if code != 0:
                tail = err_path.read_text(errors="replace").strip().splitlines()[-8:]
                raise TapFailed(redact(f"{self.executable} exited {code}: " + " | ".join(tail)))


def _private_json(folder: Path, name: str, data: Mapping[str, Any]) -> Path:
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # tap configs may name secrets' env
    with os.fdopen(fd, "w") as out:
        json.dump(dict(data), out, default=str)
    return path


def decode(line: bytes) -> dict[str, Any] | None:
    """One Singer line as a dict (numbers as Decimals); None when it is not a JSON object."""
    try:
        message = _DECODER.decode(line)
    except msgspec.DecodeError:
        try:  # Python's json also takes escaped lone surrogates, which msgspec refuses
            message = json.loads(line, parse_float=Decimal)
        except (ValueError, RecursionError):
            return None
    return message if isinstance(message, dict) else None


def _messages(stream: IO[bytes], tap: str) -> Iterator[Message]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        message = decode(line)
        if message is None or "type" not in message:
            raise TapFailed(f"{tap} printed line {number}, which is not a Singer message")
        kind = str(message["type"]).upper()
        if kind == "RECORD":
            yield Record(str(message.get("stream")), message.get("record"))
        elif kind == "SCHEMA":
            yield Schema(str(message.get("stream")), message.get("schema") or {},
                         [str(k) for k in message.get("key_properties") or []])
        elif kind == "STATE":
            yield State(message.get("value"))
        else:
            yield Other(kind, message)


# -- catalogs ---------------------------------------------------------------------------------
def stream_entries(catalog: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Stream name → its catalog entry."""
    found = {}
    for entry in catalog.get("streams") or []:
        name = entry.get("tap_stream_id") or entry.get("stream")
        if name:
            found[str(name)] = entry
    return found


def _top_metadata(entry: Mapping[str, Any]) -> dict[str, Any]:
    for item in entry.get("metadata") or []:
        if list(item.get("breadcrumb") or []) == []:
            return dict(item.get("metadata") or {})
    return {}


def replication_key(entry: Mapping[str, Any]) -> str | None:
    """The stream's replication key, from the entry or its top-level metadata."""
    key = entry.get("replication_key") or _top_metadata(entry).get("replication-key")
    return str(key) if key else None


def key_properties(entry: Mapping[str, Any]) -> list[str]:
    keys = entry.get("key_properties") or _top_metadata(entry).get("table-key-properties") or []
    return [str(k) for k in keys]


def select_properties(catalog: Mapping[str, Any], wanted: Mapping[str, set[str]]) -> dict[str, Any]:
    """A copy of ``catalog`` where only the streams in ``wanted`` are selected, each with only the
    given top-level properties (plus its keys and replication key, which taps always send).

    Uses Singer metadata (``selected`` on the stream's and each property's breadcrumb), which
    singer-sdk taps honour; a tap that ignores it just sends more than was asked for.
    """
    result = json.loads(json.dumps(catalog, default=str))
    for entry in result.get("streams") or []:
        name = str(entry.get("tap_stream_id") or entry.get("stream"))
        keep = wanted.get(name)
        always = set(key_properties(entry)) | ({replication_key(entry)} - {None})
        metadata = entry.setdefault("metadata", [])
        by_crumb = {tuple(m.get("breadcrumb") or []): m for m in metadata}
        top = by_crumb.get(())
        if top is None:
            top = {"breadcrumb": [], "metadata": {}}
            metadata.append(top)
        top.setdefault("metadata", {})["selected"] = keep is not None
        for prop in (entry.get("schema") or {}).get("properties") or {}:
            crumb = ("properties", prop)
            item = by_crumb.get(crumb)
            if item is None:
                item = {"breadcrumb": list(crumb), "metadata": {}}
                metadata.append(item)
            item.setdefault("metadata", {})["selected"] = keep is not None and (prop in keep or prop in always)
    return result
