"""The OAuth 2.0 token endpoint and the sessions it issues.

Four flows, as a connected app allows them: client credentials (form fields or HTTP Basic),
username-password (the password may carry the security token), JWT bearer (the assertion's
RS256 signature is verified against the app's registered public key, with ``iss``, ``sub``,
``aud`` and ``exp`` checked), and refresh token (the flow most connected apps use after a user
authorised them once: the org keeps one such grant for its integration user, ``refresh_token``
in :attr:`ConnectedApp.as_dict`; more come from :meth:`OAuth.issue_refresh_token`, and revoking
one at ``/services/oauth2/revoke`` ends it). Refresh tokens are not rotated, as by default.

An access token lives until revoked, until :meth:`OAuth.revoke_all`, or, when the stand-in is
given a ``session_seconds``, until that many seconds after it was issued (Salesforce's session
timeout); after that every call with it is answered 401 INVALID_SESSION_ID.

A token answer has Salesforce's fields, including ``signature`` (HMAC-SHA256 of ``id +
issued_at`` keyed by the client secret). Access tokens look like real session ids
(``<org id>!<random>``) so log scrubbers written for Salesforce recognise them.

The connected app's credentials are made once per org database and kept in it, so a restarted
stand-in accepts the same client secret.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import math
import secrets
import string
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.salesforce.standin.org import Org

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PUBLIC_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
_ALNUM = string.ascii_letters + string.digits


def _random(n: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


@dataclass(frozen=True)
class ConnectedApp:
    """The integration user and connected app the stand-in accepts (secrets hidden from repr)."""

    client_id: str
    client_secret: str = field(repr=False)
    username: str
    password: str = field(repr=False)
    security_token: str = field(repr=False)
    private_key: str = field(repr=False)
    """PEM private key for JWT bearer; its public half is what the org verifies against."""
    refresh_token: str = field(default="", repr=False)
    """The integration user's standing refresh-token grant (made once per org, like the rest)."""

    @classmethod
    def load_or_create(cls, org: Org) -> ConnectedApp:
        stored = org.meta("connected_app")
        if stored:
            app = cls(**json.loads(stored))
            if not app.refresh_token:  # an org made before the refresh-token flow existed
                app = dataclasses.replace(app, refresh_token=_new_refresh_token())
                org.set_meta("connected_app", json.dumps(app.as_dict()))
            return app
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        app = cls(client_id="3MVG9" + _random(80, _ALNUM + "._"), client_secret=_random(64, "0123456789ABCDEF"),
                  username="integration@crm2-standin.example", password=_random(20), security_token=_random(24),
                  private_key=pem, refresh_token=_new_refresh_token())
        org.set_meta("connected_app", json.dumps(app.as_dict()))
        return app

    def as_dict(self) -> dict[str, str]:
        return {"client_id": self.client_id, "client_secret": self.client_secret, "username": self.username,
                "password": self.password, "security_token": self.security_token, "private_key": self.private_key,
                "refresh_token": self.refresh_token}

    @property
    def public_key(self) -> str:
        key = serialization.load_pem_private_key(self.private_key.encode(), password=None)
        return key.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@dataclass(frozen=True)
class TokenAnswer:
    status: int
    body: dict[str, str]


class OAuth:
    """Issues and checks access tokens for one org."""

    def __init__(self, org: Org, app: ConnectedApp, session_seconds: float | None = None) -> None:
        self.org = org
        self.app = app
        self.session_seconds = session_seconds
        self._public_key = app.public_key
        self._tokens: dict[str, float] = {}
        """Access token -> when it expires (time.monotonic(); infinity without a session timeout)."""
        stored = org.meta("refresh_tokens")
        # The standing grant is valid until revoked; a revocation is kept across restarts.
        self._refresh_tokens = set(json.loads(stored)) if stored is not None else {app.refresh_token}
        self._lock = threading.Lock()
        if stored is None:
            self._save_refresh_tokens()

    # -- sessions -----------------------------------------------------------------------------

    def valid(self, authorization: str | None) -> bool:
        if not authorization:
            return False
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not token:
            return False
        with self._lock:
            expires = self._tokens.get(token.strip())
            if expires is not None and time.monotonic() >= expires:
                del self._tokens[token.strip()]
                return False
            return expires is not None

    def revoke_all(self) -> None:
        """Every session ends at once (what an admin's 'expire all passwords' or a timeout does)."""
        with self._lock:
            self._tokens.clear()

    def revoke(self, token: str) -> None:
        """An access token or a refresh token (the grant ends: it can be used no more)."""
        with self._lock:
            self._tokens.pop(token, None)
            if token in self._refresh_tokens:
                self._refresh_tokens.discard(token)
                self._save_refresh_tokens()

    def issue_refresh_token(self) -> str:
        """A new refresh-token grant for the integration user (what a user's consent would give)."""
        token = _new_refresh_token()
        with self._lock:
            self._refresh_tokens.add(token)
            self._save_refresh_tokens()
        return token

    def _save_refresh_tokens(self) -> None:
        self.org.set_meta("refresh_tokens", json.dumps(sorted(self._refresh_tokens)))

    # -- the token endpoint -------------------------------------------------------------------

    def token(self, form: Mapping[str, str], headers: Mapping[str, str], instance_url: str) -> TokenAnswer:
        grant = form.get("grant_type", "")
        if grant == "client_credentials":
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
            basic = _basic_auth(headers.get("Authorization"))
            if basic is not None:
                client_id, secret = basic
            if not (client_id == self.app.client_id and secrets.compare_digest(secret, self.app.client_secret)):
                return _refused("invalid_client", "invalid client credentials")
        elif grant == "password":
            if form.get("client_id") != self.app.client_id:
                return _refused("invalid_client_id", "client identifier invalid")
            if "client_secret" in form and not secrets.compare_digest(form["client_secret"], self.app.client_secret):
                return _refused("invalid_client", "invalid client credentials")
            password = form.get("password", "")
            accepted = (self.app.password, self.app.password + self.app.security_token)
            if form.get("username") != self.app.username or not any(
                    secrets.compare_digest(password, p) for p in accepted):
                return _refused("invalid_grant", "authentication failure")
        elif grant == "refresh_token":
            if form.get("client_id") != self.app.client_id:
                return _refused("invalid_client_id", "client identifier invalid")
            if "client_secret" in form and not secrets.compare_digest(form["client_secret"], self.app.client_secret):
                return _refused("invalid_client", "invalid client credentials")
            with self._lock:
                known = form.get("refresh_token", "") in self._refresh_tokens
            if not known:
                return _refused("invalid_grant", "expired access/refresh token")
        elif grant == JWT_GRANT:
            refusal = self._check_assertion(form.get("assertion", ""), instance_url)
            if refusal is not None:
                return refusal
        else:
            return _refused("unsupported_grant_type", "grant type not supported")
        return TokenAnswer(200, self._issue(instance_url, scoped=grant != "password"))

    def _check_assertion(self, assertion: str, instance_url: str) -> TokenAnswer | None:
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return _refused("invalid_grant", "invalid assertion")
        if unverified.get("iss") != self.app.client_id:
            return _refused("invalid_client_id", "client identifier invalid")
        try:
            claims = jwt.decode(assertion, self._public_key, algorithms=["RS256"],
                                audience=[instance_url, *PUBLIC_AUDIENCES], issuer=self.app.client_id,
                                options={"require": ["exp", "sub", "aud", "iss"]})
        except jwt.ExpiredSignatureError:
            return _refused("invalid_grant", "expired assertion")
        except jwt.PyJWTError:
            return _refused("invalid_grant", "invalid assertion")
        if claims.get("sub") != self.app.username:
            return _refused("invalid_grant", "user hasn't approved this consumer")
        return None

    def _issue(self, instance_url: str, *, scoped: bool) -> dict[str, str]:
        token = f"{self.org.org_id[:15]}!{_random(96, _ALNUM + '._')}"
        lifetime = self.session_seconds if self.session_seconds is not None else math.inf
        with self._lock:
            self._tokens[token] = time.monotonic() + lifetime
        issued_at = str(int(time.time() * 1000))
        identity = f"{instance_url}/id/{self.org.org_id}/{self.org.user_id}"
        digest = hmac.new(self.app.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
        body = {"access_token": token, "instance_url": instance_url, "id": identity, "token_type": "Bearer",
                "issued_at": issued_at, "signature": base64.b64encode(digest).decode()}
        if scoped:
            body["scope"] = "api"
        return body


def _new_refresh_token() -> str:
    # Shaped like Salesforce's (``5Aep861`` and 80 more characters), so scrubbers recognise it.
    return f"5Aep861{_random(80, _ALNUM + '._')}"


def _refused(error: str, description: str) -> TokenAnswer:
    return TokenAnswer(400, {"error": error, "error_description": description})


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password
