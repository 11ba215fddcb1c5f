"""target-crm2's settings, validated by pydantic so a bad one is reported in one line naming it.

The orchestrator writes ``store_url``, ``mapping``, ``source_system``, ``bookmark_name`` and
``run_id``; someone piping a tap by hand needs only the first two. The store URL may carry a
password (the orchestrator resolves ``password_env`` before writing the file, which it keeps
private): it is registered as a secret so no log line or error can show it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import click
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.crm2.target.lines import DEFAULT_MAX_DEPTH, DEFAULT_MAX_LINE_BYTES, MSGSPEC_MAX_DEPTH
from connectors.sdk import parse_settings
from sync.errors import DestinationError
from sync.exitcodes import ExitCode
from sync.redaction import register_secret


class TargetRunError(DestinationError):
    """The run ended with something not accounted for; the message says what, without data."""


class TargetPartial(TargetRunError):
    """The run finished and every line is accounted for, but some were quarantined (exit 3)."""

    exit_code = ExitCode.PARTIAL


_partial: list[str] = []


def finished_partially(message: str) -> None:
    """Record that the run finished with input kept in quarantine; the command then exits 3.

    Not an exception: the run did finish, and whoever drives the target in-process (singer-sdk's
    test runner, an orchestrator) reads ``TargetCrm2.partial`` instead."""
    _partial.append(message)


class TargetSettings(BaseModel):
    # singer-sdk adds its own keys (stream_maps, flattening_*, batch_size_rows, ...) to the config
    model_config = ConfigDict(extra="allow")

    store_url: str = Field(min_length=1, description="crm2 store: a SQLite file path or a SQLAlchemy URL")
    mapping: Path = Field(description="YAML mapping file for this source's streams")
    source_system: str | None = Field(
        default=None, min_length=1, max_length=64,
        description="source system written into every source reference (default: the mapping's 'source')")
    bookmark_name: str | None = Field(
        default=None, min_length=1, max_length=255,
        description="name under which the tap's state is kept in the store (default: the source system)")
    run_id: str | None = Field(default=None, max_length=36, description="crm2 run this load belongs to")
    unmapped_streams: Literal["skip", "quarantine"] = Field(
        default="quarantine",
        description="what to do with records of a stream the mapping neither maps nor lists under 'ignore:' "
                    "(either way the target exits 3)")
    max_line_bytes: int = Field(
        default=DEFAULT_MAX_LINE_BYTES, ge=1024, le=1024**3,
        description="longest input line accepted, in bytes; a longer one is quarantined (default 16 MiB)")
    max_depth: int = Field(
        default=DEFAULT_MAX_DEPTH, ge=2, le=MSGSPEC_MAX_DEPTH,
        description="deepest nesting of objects/arrays accepted in a line, the message itself being level 1; "
                    "a deeper line is quarantined (default 64)")
    batch_folder: Path | None = Field(
        default=None,
        description="folder of the tap's BATCH files that target-crm2 deletes, each once its rows are committed "
                    "(crm2's orchestrator passes its private temporary folder); files elsewhere are left alone")
    batch_size_rows: int | None = Field(
        default=None, ge=1, le=100_000, description="records per stream written in one transaction")

    @field_validator("store_url")
    @classmethod
    def _usable_url(cls, value: str) -> str:
        if "://" not in value:
            return value  # a SQLite file path
        try:
            url = sa.make_url(value)
        except sa.exc.ArgumentError:
            raise ValueError("not a SQLAlchemy URL (e.g. postgresql+psycopg://crm2@db/crm2)") from None
        register_secret(url.password if isinstance(url.password, str) else None)
        return value

    @property
    def safe_store_url(self) -> str:
        """The store URL as it may be shown: without its password."""
        if "://" not in self.store_url:
            return self.store_url
        return sa.make_url(self.store_url).render_as_string(hide_password=True)


def parse(config: dict[str, Any]) -> TargetSettings:
    parsed: TargetSettings = parse_settings(TargetSettings, config)
    return parsed


def config_jsonschema() -> dict[str, Any]:
    """JSON Schema for singer-sdk's ``--about``; pydantic does the validation."""
    schema = TargetSettings.model_json_schema()
    schema.pop("title", None)
    schema["additionalProperties"] = True
    return schema


def partial_exit(command: click.Command) -> click.Command:
    """Make ``command`` exit 3 when the run finished with input kept in quarantine
    (:func:`finished_partially`); a failure keeps its own exit code."""
    original: Callable[..., Any] = command.main

    def main(*args: Any, **kwargs: Any) -> Any:
        try:
            result = original(*args, **kwargs)
        except SystemExit as exc:
            if exc.code not in (0, None) or not _partial:
                raise
            result = None
        if _partial:
            print(f"target-crm2: {_partial[-1]}", file=sys.stderr, flush=True)
            sys.exit(ExitCode.PARTIAL)
        return result

    command.main = main  # type: ignore[method-assign]
    return command
