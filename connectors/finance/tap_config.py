"""The finance tap's settings: which database, and which tables to read as which streams.

A typical ledger has customers, invoices, payments and credit notes, so those four streams exist
by default; a company's ledger names them differently, so each stream's table, key and
replication column can be overridden, a default stream switched off (``enabled: false``) and
new streams added. The database password is never a setting: ``password_env`` names the
environment variable that holds it, so a config file can be committed and shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.sdk import parse_settings
from sync.errors import ConfigError

DEFAULT_STREAMS: dict[str, dict[str, Any]] = {
    "customers": {"table": "customers", "key": ["customer_no"], "replication_key": "updated_at"},
    "invoices": {"table": "invoices", "key": ["invoice_no"], "replication_key": "updated_at"},
    "payments": {"table": "payments", "key": ["payment_id"], "replication_key": "updated_at"},
    "credit_notes": {"table": "credit_notes", "key": ["credit_note_no"], "replication_key": "updated_at"},
}


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class StreamOverride(BaseModel):
    """What the config says about one stream; unset fields keep the default stream's value."""

    model_config = ConfigDict(extra="forbid")

    table: str | None = Field(None, description="Table (or view) name; defaults to the stream name")
    key: list[str] | None = Field(None, min_length=1, description="Primary key column(s)")
    replication_key: str | None = Field(
        None, description="Change-time column for incremental reads; null = full table every run")
    enabled: bool = True

    _as_list = field_validator("key", mode="before")(_as_list)


class StreamSpec(BaseModel):
    """A stream after merging the config onto the defaults."""

    name: str
    table: str
    key: list[str]
    replication_key: str | None


class FinanceTapConfig(BaseModel):
    # singer-sdk adds its own keys (stream_maps, flattening_*, batch_config...) to the config.
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    url: str = Field(description="SQLAlchemy URL without the password, e.g. postgresql+psycopg://crm2@db/ledger")
    password_env: str | None = Field(None, description="Name of the env var holding the database password")
    db_schema: str | None = Field(None, alias="schema", description="Database schema holding the tables")
    streams: dict[str, StreamOverride] = Field(
        default_factory=dict,
        description="Per-stream overrides (table, key, replication_key, enabled); extra streams")
    start_date: datetime | None = Field(None, description="Earliest change time to read on a first run")
    fetch_size: int = Field(5000, ge=1, description="Rows fetched from the database per round trip")

    @field_validator("url")
    @classmethod
    def _no_password_in_url(cls, value: str) -> str:
        try:
            parsed = sa.make_url(value)
        except sa.exc.ArgumentError:
            raise ValueError("not a SQLAlchemy URL (e.g. sqlite:///ledger.sqlite)") from None
        if parsed.password:
            raise ValueError("contains a password; put it in an environment variable and name it in password_env")
        return value

    def stream_specs(self) -> list[StreamSpec]:
        """Default streams with the overrides applied, then the extra streams, in a stable order."""
        specs = []
        for name in [*DEFAULT_STREAMS, *sorted(set(self.streams) - set(DEFAULT_STREAMS))]:
            override = self.streams.get(name)
            base = dict(DEFAULT_STREAMS.get(name, {"table": name, "replication_key": None}))
            if override is not None:
                if not override.enabled:
                    continue
                base |= override.model_dump(include=override.model_fields_set - {"enabled"})
            if not base.get("key"):
                raise ConfigError.setting(f"streams.{name}.key", "required for a stream that is not a default one")
            specs.append(StreamSpec(name=name, table=base["table"] or name, key=base["key"],
                                    replication_key=base.get("replication_key")))
        return specs

    def engine_url(self, environ: dict[str, str]) -> sa.URL:
        url = sa.make_url(self.url)
        if self.password_env:
            password = environ.get(self.password_env)
            if password is None:
                raise ConfigError.setting("password_env", f"environment variable {self.password_env} is not set")
            url = url.set(password=password)
        return url


def parse(config: dict[str, Any]) -> FinanceTapConfig:
    parsed: FinanceTapConfig = parse_settings(FinanceTapConfig, config)
    return parsed


def config_jsonschema() -> dict[str, Any]:
    """JSON Schema for singer-sdk (``--about``); pydantic does the validation, with setting paths.

    Defaults are left out: singer-sdk writes schema defaults into the config, and an override
    filled with defaults could no longer say which fields the user actually set.
    """
    schema = _without_defaults(FinanceTapConfig.model_json_schema(by_alias=True))
    schema.pop("title", None)
    schema.pop("required", None)
    schema["additionalProperties"] = True
    return schema


def _without_defaults(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_defaults(v) for k, v in node.items() if k != "default"}
    if isinstance(node, list):
        return [_without_defaults(v) for v in node]
    return node
