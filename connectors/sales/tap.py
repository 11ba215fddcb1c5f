"""tap-crm2-sales: a Singer tap for a sales / order-management REST API, configured per system.

Endpoints, auth and pagination come from the config (see ``tap_config``); the defaults read the
crm2 sales stand-in. A configuration that cannot work — an unreachable ``base_url``, refused
credentials, a missing endpoint — ends the run with one line naming the setting::

    config error: auth.token_env: the API refused the credentials (HTTP 401 for /api/v1/accounts)

Exit codes: 0 done; 2 bad configuration; 1 anything else (e.g. retries exhausted).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import requests
from requests.auth import AuthBase

from connectors.sales.auth import build_auth
from connectors.sales.tap_config import SalesTapConfig, config_jsonschema, parse
from connectors.sales.tap_streams import EndpointStream
from connectors.sdk import Crm2Tap
from sync.errors import ConfigError


class TapSales(Crm2Tap):
    """Sales API endpoints as Singer streams."""

    name = "tap-crm2-sales"
    package_name = "crm2"  # the distribution these programs ship in: --version and logs report its version
    config_jsonschema: ClassVar[dict[str, Any]] = config_jsonschema()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._settings: SalesTapConfig | None = None
        self._auth: AuthBase | None = None
        self._session: requests.Session | None = None
        self.reached = False
        """Whether any API request has succeeded; network failures before that are config errors."""
        self.reauthorized = False
        self.retries = 0
        self.config_error: ConfigError | None = None
        super().__init__(*args, **kwargs)

    def parse_settings(self, config: dict[str, Any]) -> SalesTapConfig:
        return parse(config)

    @property
    def settings(self) -> SalesTapConfig:
        if self._settings is None:
            self._settings = parse(dict(self.config))
        return self._settings

    @property
    def verify(self) -> str | bool:
        return self.settings.ca_bundle or True

    @property
    def auth(self) -> AuthBase:
        if self._auth is None:
            cfg = self.settings
            self._auth = build_auth(cfg.auth, verify=self.verify, timeout=cfg.request_timeout)
        return self._auth

    @property
    def session(self) -> requests.Session:
        """One connection pool for every stream; TLS verification always on."""
        if self._session is None:
            self._session = requests.Session()
            self._session.verify = self.verify
        return self._session

    def discover_streams(self) -> Sequence[EndpointStream]:
        return [EndpointStream(self, spec) for spec in self.settings.endpoint_specs()]

    def sync_all(self) -> None:  # type: ignore[misc]
        self.config_error = None
        super().sync_all()
        if self.config_error is not None:
            raise self.config_error


if __name__ == "__main__":
    TapSales.cli()
