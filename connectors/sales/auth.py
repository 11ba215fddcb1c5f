"""Request authentication for the sales API: bearer, API-key header, basic, OAuth client credentials.

Secrets are read from the environment variables the config names, when first needed, and never
appear in messages. The OAuth token is fetched once per run and again only after the API
answers 401 to it (it may have expired mid-run).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from connectors.sales.tap_config import AuthConfig
from sync.errors import ConfigError


def _secret(environ: Mapping[str, str], env_name: str | None, setting: str) -> str:
    value = environ.get(env_name or "")
    if not value:
        raise ConfigError.setting(setting, f"environment variable {env_name} is not set")
    return value


class HeaderAuth(AuthBase):
    def __init__(self, header: str, value: str) -> None:
        self.header, self.value = header, value

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.header] = self.value
        return request


class NoAuth(AuthBase):
    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


class ClientCredentialsAuth(AuthBase):
    """OAuth 2.0 client-credentials grant; the secret is sent in the form body (RFC 6749 2.3.1)."""

    def __init__(self, cfg: AuthConfig, secret: str, *, verify: str | bool, timeout: float) -> None:
        self.cfg, self._secret, self.verify, self.timeout = cfg, secret, verify, timeout
        self._token: str | None = None
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def token(self) -> str:
        with self._lock:
            if self._token is None:
                self._token = self._fetch()
            return self._token

    def _fetch(self) -> str:
        form = {"grant_type": "client_credentials", "client_id": self.cfg.client_id or "",
                "client_secret": self._secret}
        if self.cfg.scope:
            form["scope"] = self.cfg.scope
        try:
            response = requests.post(self.cfg.token_url or "", data=form, timeout=self.timeout, verify=self.verify)
        except requests.ConnectionError:
            raise ConfigError.setting("auth.token_url", f"cannot connect to {self.cfg.token_url}") from None
        if response.status_code in (400, 401, 403):
            raise ConfigError.setting("auth.client_secret_env",
                                   f"the token endpoint refused client '{self.cfg.client_id}' "
                                   f"(HTTP {response.status_code})")
        if not response.ok:
            raise ConfigError.setting("auth.token_url", f"the token endpoint answered HTTP {response.status_code}")
        try:
            token = response.json()["access_token"]
        except (ValueError, KeyError):
            raise ConfigError.setting("auth.token_url", "the token endpoint's answer has no access_token") from None
        return str(token)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request


def build_auth(cfg: AuthConfig, *, verify: str | bool, timeout: float,
               environ: Mapping[str, str] | None = None) -> AuthBase:
    env = os.environ if environ is None else environ
    if cfg.type == "bearer":
        return HeaderAuth("Authorization", f"Bearer {_secret(env, cfg.token_env, 'auth.token_env')}")
    if cfg.type == "api_key":
        return HeaderAuth(cfg.header, _secret(env, cfg.key_env, "auth.key_env"))
    if cfg.type == "basic":
        return HTTPBasicAuth(cfg.username or "", _secret(env, cfg.password_env, "auth.password_env"))
    if cfg.type == "oauth_client_credentials":
        secret = _secret(env, cfg.client_secret_env, "auth.client_secret_env")
        return ClientCredentialsAuth(cfg, secret, verify=verify, timeout=timeout)
    return NoAuth()


def credential_setting(cfg: AuthConfig) -> str:
    """The setting to name when the API refuses the credentials."""
    return {"bearer": "auth.token_env", "api_key": "auth.key_env", "basic": "auth.password_env",
            "oauth_client_credentials": "auth.client_secret_env"}.get(cfg.type, "auth.type")
