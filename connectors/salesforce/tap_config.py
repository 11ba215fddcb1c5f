"""The tap's settings: one pydantic model, also published as the singer-sdk config JSON Schema.

Secrets are never settings: the config names the environment variables that hold them
(``client_secret_env: CRM2_SF_CLIENT_SECRET``), so a config file can be committed and shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.salesforce.client.auth import Credentials

DEFAULT_OBJECTS = ["Account", "Contact", "Opportunity", "Case", "Task", "Event", "Survey_Response__c"]


class SalesforceTapConfig(BaseModel):
    # singer-sdk adds its own keys (stream_maps, flattening_*, batch_config...) to the config.
    model_config = ConfigDict(extra="allow")

    login_url: str | None = Field(None, description="OAuth host, e.g. https://login.salesforce.com or a My Domain URL")
    instance_url: str | None = Field(None, description="Org URL; used as the OAuth host when login_url is not set")
    api_version: str = Field("62.0", description="REST API version, e.g. 62.0")
    auth_flow: Literal["client_credentials", "jwt_bearer", "refresh_token", "password"] = "client_credentials"
    client_id: str = Field(description="Connected app consumer key")
    client_secret_env: str | None = Field(None, description="Name of the env var holding the client secret")
    username: str | None = Field(None, description="Integration user (jwt_bearer, password flows)")
    password_env: str | None = Field(None, description="Name of the env var holding the password")
    security_token_env: str | None = Field(None, description="Name of the env var holding the security token")
    private_key_env: str | None = Field(None, description="Name of the env var holding the JWT signing key (PEM)")
    private_key_file: str | None = Field(None, description="Path of the JWT signing key (PEM file), instead of "
                                         "private_key_env")
    refresh_token_env: str | None = Field(None, description="Name of the env var holding the refresh token "
                                          "(refresh_token flow)")
    jwt_audience: str | None = Field(None, description="JWT 'aud'; defaults to the login URL")
    ca_bundle: str | None = Field(None, description="PEM file of CAs to trust (TLS verification is never off)")
    objects: list[str] = Field(default_factory=lambda: list(DEFAULT_OBJECTS),
                               description="sObjects to discover and sync (only these are described)")
    start_date: datetime | None = Field(None, description="Earliest SystemModstamp on a first run")
    bulk_threshold: int | None = Field(10_000, ge=0,
                                       description="Rows (by COUNT()) above which Bulk 2.0 is used; null = never")
    api_budget_pct: float = Field(80.0, gt=0, le=100,
                                  description="Stop cleanly when org API usage reaches this % of the daily limit")
    include_deleted: bool = Field(True, description="Use queryAll so deleted rows arrive with IsDeleted=true")
    page_size: int | None = Field(None, ge=200, le=2000, description="REST query batchSize (200-2000)")
    max_attempts: int = Field(6, ge=1, le=20, description="Tries per API call on transient failures")
    retry_initial_wait: float = Field(0.5, ge=0, description="First backoff wait in seconds (doubles, with jitter)")
    retry_max_wait: float = Field(30.0, ge=0, description="Longest single backoff wait in seconds")
    request_timeout: float = Field(120.0, gt=0, description="Read timeout per HTTP request, seconds")
    bulk_poll_max: float = Field(5.0, gt=0, description="Longest wait between Bulk job status polls, seconds")
    bulk_timeout: float = Field(3600.0, gt=0, description="Abort a Bulk query job not done after this many seconds")

    @model_validator(mode="after")
    def _needs_a_host(self) -> SalesforceTapConfig:
        if not (self.login_url or self.instance_url):
            raise ValueError("set login_url or instance_url")
        for url in (self.login_url, self.instance_url):
            if url and not url.startswith("https://"):
                raise ValueError("login_url / instance_url must be https:// (TLS is required)")
        if self.auth_flow == "refresh_token" and not self.refresh_token_env:
            raise ValueError("auth_flow refresh_token needs refresh_token_env (the environment variable that "
                             "holds the refresh token)")
        if self.private_key_file and self.private_key_env:
            raise ValueError("set private_key_file or private_key_env, not both")
        return self

    @property
    def oauth_host(self) -> str:
        return (self.login_url or self.instance_url or "").rstrip("/")

    def credentials(self) -> Credentials:
        """The connected app's settings with their secrets read from the environment (or key file)."""
        return Credentials.from_env(
            flow=self.auth_flow, login_url=self.oauth_host, client_id=self.client_id, username=self.username,
            client_secret_env=self.client_secret_env, password_env=self.password_env,
            security_token_env=self.security_token_env, private_key_env=self.private_key_env,
            private_key_file=self.private_key_file, refresh_token_env=self.refresh_token_env,
            audience=self.jwt_audience)


def config_jsonschema() -> dict[str, Any]:
    """JSON Schema for singer-sdk (``--about``, validation), derived from the pydantic model."""
    schema = SalesforceTapConfig.model_json_schema()
    # singer-sdk merges its built-in settings into "properties"; pydantic's "title" adds nothing.
    schema.pop("title", None)
    schema["additionalProperties"] = True
    schema["properties"] = {name: _flatten_optional(prop) for name, prop in schema["properties"].items()}
    return schema


def _flatten_optional(prop: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [{type: X}, {type: null}]`` -> ``type: [X, null]``: Meltano and --about read "type"."""
    options = prop.get("anyOf")
    if not options or len(options) != 2 or {"type": "null"} not in options:
        return prop
    (inner,) = [o for o in options if o != {"type": "null"}]
    if "type" not in inner:
        return prop
    flat = {k: v for k, v in prop.items() if k != "anyOf"} | inner
    flat["type"] = [inner["type"], "null"]
    return flat
