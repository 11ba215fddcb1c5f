"""target-crm2's settings, validated by pydantic so a bad one is reported in one line naming it.

The orchestrator writes ``store_url``, ``mapping``, ``source_system``, ``bookmark_name`` and
``run_id``; someone piping a tap by hand needs only the first two. The store URL may carry a
password (the orchestrator resolves ``password_env`` before writing the file, which it keeps
private): it is registered as a secret so no log line or error can show it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.sdk import parse_settings
from sync.errors import DestinationError
from sync.redaction import register_secret


class TargetRunError(DestinationError):
    """The run ended with something not accounted for; the message says what, without data."""


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
        default="skip", description="what to do with records of a stream the mapping does not mention")
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
