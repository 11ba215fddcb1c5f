"""The OAuth 2.0 token endpoint and the sessions it issues.

Three flows, as a connected app allows them: client credentials (form fields or HTTP Basic),
username-password (the password may carry the security token), and JWT bearer (the assertion's
RS256 signature is verified against the app's registered public key, with ``iss``, ``sub``,
``aud`` and ``exp`` checked). A token answer has Salesforce's fields, including ``signature``
(HMAC-SHA256 of ``id + issued_at`` keyed by the client secret). Access tokens look like real
session ids (``<org id>!<random>``) so log scrubbers written for Salesforce recognise them.

The connected app's credentials are made once per org database and kept in it, so a restarted
stand-in accepts the same client secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
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

    @classmethod
    def load_or_create(cls, org: Org) -> ConnectedApp:
        stored = org.meta("connected_app")
        if stored:
            return cls(**json.loads(stored))
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        app = cls(client_id="3MVG9" + _random(80, _ALNUM + "._"), client_secret=_random(64, "0123456789ABCDEF"),
                  username="integration@crm2-standin.example", password=_random(20), security_token=_random(24),
                  private_key=pem)
        org.set_meta("connected_app", json.dumps(app.as_dict()))
        return app

    def as_dict(self) -> dict[str, str]:
        return {"client_id": self.client_id, "client_secret": self.client_secret, "username": self.username,
                "password": self.password, "security_token": self.security_token, "private_key": self.private_key}

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

    def __init__(self, org: Org, app: ConnectedApp) -> None:
        self.org = org
        self.app = app
        self._public_key = app.public_key
        self._tokens: set[str] = set()
        self._lock = threading.Lock()

    # -- sessions -----------------------------------------------------------------------------

    def valid(self, authorization: str | None) -> bool:
        if not authorization:
            return False
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not token:
            return False
        with self._lock:
            return token.strip() in self._tokens

    def revoke_all(self) -> None:
        """Every session ends at once (what an admin's 'expire all passwords' or a timeout does)."""
        with self._lock:
            self._tokens.clear()

    def revoke(self, token: str) -> None:
        with self._lock:
            self._tokens.discard(token)

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
        with self._lock:
            self._tokens.add(token)
        issued_at = str(int(time.time() * 1000))
        identity = f"{instance_url}/id/{self.org.org_id}/{self.org.user_id}"
        digest = hmac.new(self.app.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
        body = {"access_token": token, "instance_url": instance_url, "id": identity, "token_type": "Bearer",
                "issued_at": issued_at, "signature": base64.b64encode(digest).decode()}
        if scoped:
            body["scope"] = "api"
        return body


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
