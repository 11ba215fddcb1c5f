"""The sales tap's settings: where the API is, how to authenticate, and which endpoints to read.

Every sales system's API differs, so endpoints are declared, not coded: path, where the records
are in the body (JSONPath), primary key, replication field and the request parameter that
carries it, and pagination. The defaults describe the crm2 sales stand-in (and APIs shaped like
it); an endpoint in the config overrides the matching default field by field, and new endpoints
can be added. Secrets are never settings, only the names of the environment variables holding
them, so a config file can be committed and shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connectors.sdk import parse_settings
from sync.errors import ConfigError


class AuthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["none", "bearer", "api_key", "basic", "oauth_client_credentials"] = "bearer"
    token_env: str | None = Field("CRM2_SALES_TOKEN", description="bearer: env var holding the token")
    header: str = Field("X-API-Key", description="api_key: request header carrying the key")
    key_env: str | None = Field(None, description="api_key: env var holding the key")
    username: str | None = Field(None, description="basic: user name")
    password_env: str | None = Field(None, description="basic: env var holding the password")
    token_url: str | None = Field(None, description="oauth_client_credentials: token endpoint URL")
    client_id: str | None = Field(None, description="oauth_client_credentials: client id")
    client_secret_env: str | None = Field(None, description="oauth_client_credentials: env var holding the secret")
    scope: str | None = Field(None, description="oauth_client_credentials: scope to ask for")

    @model_validator(mode="after")
    def _complete(self) -> AuthConfig:
        needed = {"bearer": ["token_env"], "api_key": ["key_env"], "basic": ["username", "password_env"],
                  "oauth_client_credentials": ["token_url", "client_id", "client_secret_env"]}.get(self.type, [])
        for name in needed:
            if not getattr(self, name):
                raise ValueError(f"auth type '{self.type}' needs auth.{name}")
        return self


class PaginationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["none", "cursor", "page", "offset", "link"] = "cursor"
    cursor_path: str = Field("$.next_cursor", description="cursor: JSONPath of the next cursor in the body")
    cursor_param: str = Field("cursor", description="cursor: request parameter carrying it")
    page_param: str = Field("page", description="page: request parameter carrying the page number")
    first_page: int = Field(1, ge=0, description="page: number of the first page")
    offset_param: str = Field("offset", description="offset: request parameter carrying the offset")
    size_param: str | None = Field("limit", description="request parameter carrying the page size")
    size: int = Field(100, ge=1, description="page size to ask for")


class EndpointOverride(BaseModel):
    """What the config says about one endpoint; unset fields keep the default endpoint's value."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    path: str | None = None
    records_path: str | None = Field(None, description="JSONPath of the records in the body, e.g. $.data[*]")
    primary_key: list[str] | None = Field(None, min_length=1)
    replication_key: str | None = Field(None, description="Record field with the change time; null = full sync")
    replication_param: str | None = Field(
        None, description="Request parameter that asks for records changed at or after a time (inclusive)")
    pagination: PaginationConfig | None = None
    params: dict[str, str] | None = Field(None, description="Extra request parameters")
    is_sorted: bool | None = Field(None, description="Records come in (replication key, primary key) order")
    json_schema: dict[str, Any] | None = Field(None, alias="schema", description="JSON Schema of a record")
    enabled: bool = True

    @field_validator("primary_key", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class EndpointSpec(BaseModel):
    """An endpoint after merging the config onto the defaults."""

    name: str
    path: str
    records_path: str = "$.data[*]"
    primary_key: list[str] = Field(default_factory=lambda: ["id"])
    replication_key: str | None = "updated_at"
    replication_param: str | None = "updated_since"
    pagination: PaginationConfig = Field(default_factory=PaginationConfig)
    params: dict[str, str] = Field(default_factory=dict)
    is_sorted: bool = True
    json_schema: dict[str, Any] | None = None


DEFAULT_ENDPOINTS: dict[str, dict[str, Any]] = {
    name: {"path": f"/api/v1/{name}"} for name in ("accounts", "orders", "order_lines", "opportunities")
}


class SalesTapConfig(BaseModel):
    # singer-sdk adds its own keys (stream_maps, flattening_*, batch_config...) to the config.
    model_config = ConfigDict(extra="allow")

    base_url: str = Field(description="API root, e.g. https://sales.example.com (the stand-in prints its URL)")
    auth: AuthConfig = Field(default_factory=AuthConfig)
    endpoints: dict[str, EndpointOverride] = Field(default_factory=dict,
                                                   description="Per-endpoint overrides and extra endpoints")
    ca_bundle: str | None = Field(None, description="PEM file of CAs to trust (TLS verification is never off)")
    start_date: datetime | None = Field(None, description="Earliest change time to ask for on a first run")
    request_timeout: float = Field(60.0, gt=0, description="Seconds to wait for one response")
    max_attempts: int = Field(8, ge=1, le=50, description="Tries per request on 429, 5xx and network errors")
    retry_initial_wait: float = Field(0.5, ge=0, description="First backoff wait, seconds (doubles, with jitter)")
    retry_max_wait: float = Field(30.0, ge=0, description="Longest backoff wait, seconds")
    max_retry_after: float = Field(120.0, ge=0, description="Longest Retry-After the tap honours, seconds")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    def endpoint_specs(self) -> list[EndpointSpec]:
        specs = []
        for name in [*DEFAULT_ENDPOINTS, *sorted(set(self.endpoints) - set(DEFAULT_ENDPOINTS))]:
            base = dict(DEFAULT_ENDPOINTS.get(name, {}))
            override = self.endpoints.get(name)
            if override is not None:
                if not override.enabled:
                    continue
                base |= {k: getattr(override, k) for k in override.model_fields_set - {"enabled"}}
            if not base.get("path"):
                raise ConfigError.setting(f"endpoints.{name}.path",
                                          "required for an endpoint that is not a default one")
            if name not in DEFAULT_ENDPOINTS and not base.get("json_schema"):
                raise ConfigError.setting(f"endpoints.{name}.schema",
                                          "required for an endpoint that is not a default one")
            try:
                specs.append(EndpointSpec(name=name, **{k: v for k, v in base.items() if v is not None
                                                        or k in ("replication_key", "replication_param")}))
            except ValidationError as exc:
                raise ConfigError.from_validation(exc, f"endpoints.{name}") from None
        return specs


def parse(config: dict[str, Any]) -> SalesTapConfig:
    parsed: SalesTapConfig = parse_settings(SalesTapConfig, config)
    return parsed


def config_jsonschema() -> dict[str, Any]:
    """JSON Schema for singer-sdk (``--about``); pydantic does the validation, with setting paths.

    Defaults are left out: singer-sdk writes schema defaults into the config, and an override
    filled with defaults could no longer say which fields the user actually set.
    """
    schema = _without_defaults(SalesTapConfig.model_json_schema(by_alias=True))
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
