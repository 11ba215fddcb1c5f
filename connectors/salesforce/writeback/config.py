"""target-crm2-salesforce's settings: the Salesforce connection exactly as the tap takes it, plus
what the writeback needs (store, mapping, mode, match, thresholds, dry run).

The connection part is validated by the tap's own model (:class:`SalesforceTapConfig`), so both
ends accept the same keys, defaults and checks (https only, a host, secrets named by env var).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from connectors import sdk
from connectors.salesforce.client import (
    ApiBudget,
    BulkIngestOptions,
    RetryPolicy,
    SalesforceClient,
)
from connectors.salesforce.tap_config import SalesforceTapConfig
from connectors.salesforce.tap_config import config_jsonschema as tap_config_jsonschema
from sync.redaction import register_secret

CONNECTION_KEYS = (
    "login_url", "instance_url", "api_version", "auth_flow", "client_id", "client_secret_env", "username",
    "password_env", "security_token_env", "private_key_env", "private_key_file", "refresh_token_env",
    "jwt_audience", "ca_bundle", "api_budget_pct",
    "max_attempts", "retry_initial_wait", "retry_max_wait", "request_timeout", "bulk_poll_max", "bulk_timeout",
)
"""The tap's settings that say how to reach and authenticate to the org (not what to read)."""


class WritebackSettings(BaseModel):
    # singer-sdk adds its own keys (stream_maps, batch_size_rows...); the connection keys are extra too
    model_config = ConfigDict(extra="allow")

    store_url: str = Field(min_length=1, description="crm2 store (last written values, retry queue, audit)")
    mapping: Path = Field(description="Path of mappings/writeback.yml")
    mode: Literal["upsert", "update_only"] = Field(
        "update_only", description="update_only never creates records; upsert creates missing ones by external id")
    match: Literal["salesforce_id", "external_id"] = Field(
        "salesforce_id", description="Find records by their Id from the crosswalk, or by the external id field")
    bulk_threshold: int = Field(2000, ge=1,
                                description="Changed records (per object and operation) from which Bulk 2.0 is used")
    batch_size: int = Field(50_000, ge=1, description="Records held before a write round (a drain)")
    collection_size: int = Field(200, ge=1, le=200, description="Records per sObject Collections call (at most 200;"
                                 " smaller for orgs whose triggers hit CPU limits)")
    dry_run: bool = Field(False, description="Print what would change (before -> after); write nothing")
    run_id: str | None = Field(None, max_length=36, description="crm2 run id for the audit log (default: a new one)")
    bookmark_name: str | None = Field(
        None, description="Save the tap's state in the store under this name once its records are handled")
    output_dir: Path | None = Field(None, description="Folder for summary.json, success.csv, errors.csv, changes.csv")
    bulk_poll_initial: float = Field(0.5, gt=0, description="First wait before polling a Bulk job, seconds")

    _salesforce: SalesforceTapConfig | None = None

    @model_validator(mode="after")
    def _connection(self) -> WritebackSettings:
        extra = self.model_extra or {}
        try:
            self._salesforce = SalesforceTapConfig.model_validate(
                {k: v for k, v in extra.items() if k in CONNECTION_KEYS})
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "connection"
            raise ValueError(f"{where}: {first['msg']}") from None
        return self

    @property
    def salesforce(self) -> SalesforceTapConfig:
        assert self._salesforce is not None
        return self._salesforce

    @property
    def effective_run_id(self) -> str:
        if self.run_id is None:
            self.run_id = str(uuid.uuid4())
        return self.run_id

    def client(self) -> SalesforceClient:
        cfg = self.salesforce
        return SalesforceClient(
            cfg.credentials(), api_version=cfg.api_version, ca_bundle=cfg.ca_bundle,
            budget=ApiBudget(max_pct=cfg.api_budget_pct),
            retry=RetryPolicy(max_attempts=cfg.max_attempts, initial_wait=cfg.retry_initial_wait,
                              max_wait=cfg.retry_max_wait, read_timeout=cfg.request_timeout))

    def bulk_options(self) -> BulkIngestOptions:
        cfg = self.salesforce
        return BulkIngestOptions(poll_initial=self.bulk_poll_initial, poll_max=cfg.bulk_poll_max,
                                 timeout=cfg.bulk_timeout)

    def register_store_secret(self) -> None:
        if "://" in self.store_url:
            password = sa.make_url(self.store_url).password
            register_secret(str(password) if password else None)


def parse_settings(config: dict[str, Any]) -> WritebackSettings:
    """Validate; a ConfigError naming every setting at fault when something is wrong."""
    parsed: WritebackSettings = sdk.parse_settings(WritebackSettings, config)
    return parsed


def config_jsonschema() -> dict[str, Any]:
    """The writeback's own settings plus the tap's connection settings, for --about and Meltano."""
    schema = WritebackSettings.model_json_schema()
    schema.pop("title", None)
    tap = tap_config_jsonschema()
    for key in CONNECTION_KEYS:
        if key in tap["properties"]:
            schema["properties"][key] = tap["properties"][key]
    schema["required"] = sorted({*schema.get("required", []), "client_id"})
    schema["additionalProperties"] = True
    return schema
