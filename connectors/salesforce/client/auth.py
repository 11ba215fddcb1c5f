"""OAuth 2.0 against a configurable token endpoint: client credentials, JWT bearer, refresh token,
username-password.

simple-salesforce's login helpers hard-code ``*.salesforce.com``; a sandbox My Domain or the local
stand-in needs the token URL to come from config, so crm2 does the token exchange itself.
Secrets are read from environment variables whose *names* are configured, so config files never
hold them; the JWT signing key may instead be a PEM file named by path (``private_key_file``),
which is how key material is usually deployed. Every flow can be repeated without a person, so the
client simply asks again when a session ends (see ``SalesforceClient``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import jwt
import requests

from connectors.salesforce.client.errors import AuthenticationError, TransientError, error_from_response

AuthFlow = Literal["client_credentials", "jwt_bearer", "refresh_token", "password"]
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True)
class Token:
    access_token: str = field(repr=False)
    instance_url: str
    expires_at: float | None = None
    """time.monotonic() when the session ends, if the token answer said (``expires_in``)."""


@dataclass(frozen=True)
class Credentials:
    """Everything a token request needs; secret values never appear in repr()."""

    flow: AuthFlow
    token_url: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security_token: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)
    audience: str | None = None
    refresh_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, *, flow: AuthFlow, login_url: str, client_id: str, username: str | None = None,
                 client_secret_env: str | None = None, password_env: str | None = None,
                 security_token_env: str | None = None, private_key_env: str | None = None,
                 audience: str | None = None, refresh_token_env: str | None = None,
                 private_key_file: str | None = None) -> Credentials:
        """Resolve secrets from the named environment variables (or the key file); a missing one is a
        config error."""

        def secret(env_name: str | None, what: str, *, required: bool) -> str | None:
            if not env_name:
                if required:
                    raise AuthenticationError(f"auth_flow '{flow}' needs {what}_env (an environment variable name)")
                return None
            value = os.environ.get(env_name)
            if value is None and required:
                raise AuthenticationError(f"environment variable {env_name} ({what}) is not set")
            _register_secret(value)
            return value

        base = login_url.rstrip("/")
        if flow == "client_credentials":
            return cls(flow, f"{base}/services/oauth2/token", client_id,
                       client_secret=secret(client_secret_env, "client_secret", required=True))
        if flow == "password":
            if not username:
                raise AuthenticationError("auth_flow 'password' needs username")
            return cls(flow, f"{base}/services/oauth2/token", client_id,
                       client_secret=secret(client_secret_env, "client_secret", required=False),
                       username=username, password=secret(password_env, "password", required=True),
                       security_token=secret(security_token_env, "security_token", required=False))
        if flow == "refresh_token":
            return cls(flow, f"{base}/services/oauth2/token", client_id,
                       client_secret=secret(client_secret_env, "client_secret", required=False),
                       refresh_token=secret(refresh_token_env, "refresh_token", required=True))
        if not username:
            raise AuthenticationError("auth_flow 'jwt_bearer' needs username")
        if private_key_file and private_key_env:
            raise AuthenticationError("auth_flow 'jwt_bearer' takes private_key_file or private_key_env, not both")
        key = _read_key_file(private_key_file) if private_key_file else secret(private_key_env, "private_key",
                                                                                 required=True)
        return cls(flow, f"{base}/services/oauth2/token", client_id, username=username, private_key=key,
                   audience=audience or base)

    def token_request_body(self) -> dict[str, str]:
        if self.flow == "client_credentials":
            return {"grant_type": "client_credentials", "client_id": self.client_id,
                    "client_secret": self.client_secret or ""}
        if self.flow == "password":
            body = {"grant_type": "password", "client_id": self.client_id, "username": self.username or "",
                    "password": (self.password or "") + (self.security_token or "")}
            if self.client_secret:
                body["client_secret"] = self.client_secret
            return body
        if self.flow == "refresh_token":
            body = {"grant_type": "refresh_token", "client_id": self.client_id,
                    "refresh_token": self.refresh_token or ""}
            if self.client_secret:
                body["client_secret"] = self.client_secret
            return body
        now = int(time.time())
        claims = {"iss": self.client_id, "sub": self.username, "aud": self.audience, "exp": now + 180}
        assertion = jwt.encode(claims, self.private_key or "", algorithm="RS256")
        return {"grant_type": JWT_GRANT, "assertion": assertion}


def _read_key_file(path: str) -> str:
    """The JWT signing key from a PEM file; an unreadable or non-PEM file is a config error."""
    try:
        text = Path(path).expanduser().read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a PEM file"
        raise AuthenticationError(f"private_key_file {path}: cannot be read ({reason})") from None
    if "PRIVATE KEY-----" not in text:
        raise AuthenticationError(f"private_key_file {path}: not a PEM private key")
    _register_secret(text)
    return text


def _register_secret(value: str | None) -> None:
    # crm2's log redaction masks registered values everywhere; optional so the client stands alone.
    try:
        from sync.redaction import register_secret
    except ImportError:  # pragma: no cover - the client used outside crm2
        return
    register_secret(value)


def fetch_token(session: requests.Session, credentials: Credentials, *, timeout: float,
                verify: str | bool = True) -> Token:
    """One token request. Network failures and 5xx are transient; a refusal is not.

    ``verify`` is passed per request because requests lets REQUESTS_CA_BUNDLE override a
    session-level setting, which would silently swap a configured CA bundle for another.
    """
    try:
        response = session.post(credentials.token_url, data=credentials.token_request_body(), timeout=timeout,
                                verify=verify)
    except requests.exceptions.SSLError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            raise AuthenticationError("TLS verification of the token endpoint failed; check ca_bundle",
                                      error_code="TLS_VERIFY_FAILED") from None
        raise TransientError(f"token endpoint unreachable: {type(exc).__name__}") from None
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise TransientError(f"token endpoint unreachable: {type(exc).__name__}") from None
    if response.status_code >= 500:
        raise error_from_response(response)
    if response.status_code != 200:
        err = error_from_response(response)
        raise AuthenticationError(f"token request refused: {err.error_code or err.status}",
                                  status=response.status_code, error_code=err.error_code)
    body = response.json()
    _register_secret(body.get("access_token"))
    try:  # Salesforce's token answers usually leave the lifetime out; some flows state it
        expires_at = time.monotonic() + float(body["expires_in"]) if "expires_in" in body else None
    except (TypeError, ValueError):
        expires_at = None
    return Token(access_token=body["access_token"], instance_url=body["instance_url"].rstrip("/"),
                 expires_at=expires_at)
