"""Sign-in through an OpenID Connect provider: a small stand-in provider over TLS on loopback (its
own CA from trustme), the real authlib flow in the console, the real ID-token checks."""

from __future__ import annotations

import base64
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import httpx2 as httpx
import pytest
import trustme
import uvicorn
from console_seed import seed
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from sync.access import Role
from sync.console.app import create_app
from sync.console.oidc import OidcSettings
from sync.console.users import add_user
from sync.store import Store

CLIENT_ID, CLIENT_SECRET = "crm2-console", "provider-side-secret"


class Provider:
    """Approves whoever `user` names; issues RS256 ID tokens; `nonce_override` forges a bad one."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.issuer = ""
        self.user = "sso-steward"
        self.nonce_override: str | None = None
        self.codes: dict[str, dict] = {}

    def app(self) -> Starlette:
        async def discovery(_: Request) -> Response:
            return JSONResponse({"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                                 "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                                 "response_types_supported": ["code"], "subject_types_supported": ["public"],
                                 "id_token_signing_alg_values_supported": ["RS256"]})

        async def authorize(request: Request) -> Response:
            q = request.query_params
            assert q["client_id"] == CLIENT_ID and q["response_type"] == "code"
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"nonce": q.get("nonce"), "redirect_uri": q["redirect_uri"], "user": self.user}
            return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}", 302)

        async def token(request: Request) -> Response:
            form = await request.form()
            grant = self.codes.pop(str(form.get("code")), None)
            basic = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if grant is None or request.headers.get("authorization") != basic:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            now = int(time.time())
            claims = {"iss": self.issuer, "sub": grant["user"], "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                      "nonce": self.nonce_override or grant["nonce"], "preferred_username": grant["user"]}
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
            return JSONResponse({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                                 "expires_in": 300, "id_token": id_token})

        async def jwks(_: Request) -> Response:
            return JSONResponse({"keys": [self.key.as_dict(private=False)]})

        return Starlette(routes=[Route("/.well-known/openid-configuration", discovery), Route("/authorize", authorize),
                                 Route("/token", token, methods=["POST"]), Route("/jwks", jwks)])


@pytest.fixture(scope="module")
def provider(tmp_path_factory) -> Iterator[tuple[Provider, str]]:
    folder = tmp_path_factory.mktemp("oidc")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_path, cert_path = folder / "ca.pem", folder / "server.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    stand_in = Provider()
    stand_in.issuer = f"https://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(stand_in.app(), ssl_certfile=str(cert_path), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:  # waiting for readiness, not timing anything
        assert time.monotonic() < deadline and thread.is_alive(), "the stand-in provider did not start"
        time.sleep(0.05)
    try:
        yield stand_in, str(ca_path)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def console(provider, tmp_path):
    stand_in, ca_path = provider
    with Store.open(tmp_path / "oidc.sqlite") as store:
        seed(store)
        add_user(store, "sso-steward", None, Role.STEWARD)
        settings = OidcSettings(stand_in.issuer, CLIENT_ID, CLIENT_SECRET, verify=ca_path)
        with TestClient(create_app(store, secret="k" * 40, oidc=settings), base_url="http://127.0.0.1") as client:
            yield client, stand_in, ca_path


def _through_provider(client, ca_path: str) -> httpx.Response:
    start = client.get("/login/oidc?next=/review", follow_redirects=False)
    assert start.status_code in (302, 303, 307)
    back = httpx.get(start.headers["location"], verify=ssl.create_default_context(cafile=ca_path),
                     follow_redirects=False)
    assert back.status_code == 302
    target = urlsplit(back.headers["location"])
    return client.get(f"{target.path}?{target.query}", follow_redirects=False)


def test_a_console_user_signs_in_at_the_provider(console):
    client, stand_in, ca_path = console
    stand_in.user, stand_in.nonce_override = "sso-steward", None
    done = _through_provider(client, ca_path)
    assert done.status_code == 303 and done.headers["location"] == "/review"
    page = client.get("/review").text
    assert "sso-steward" in page and "Confirm (same)" in page  # the role from console_users applies


def test_someone_the_console_does_not_know_is_refused(console):
    client, stand_in, ca_path = console
    stand_in.user, stand_in.nonce_override = "stranger", None
    assert _through_provider(client, ca_path).status_code == 403
    assert client.get("/accounts", follow_redirects=False).status_code == 303  # still signed out


def test_a_replayed_or_forged_id_token_is_refused(console):
    client, stand_in, ca_path = console
    stand_in.user, stand_in.nonce_override = "sso-steward", "not-the-nonce-we-sent"
    assert _through_provider(client, ca_path).status_code == 403
    assert client.get("/accounts", follow_redirects=False).status_code == 303


def test_a_no_password_user_cannot_use_the_password_form(console):
    client, _, _ = console
    import re

    page = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = client.post("/login", data={"csrf": csrf, "name": "sso-steward", "password": "!no-password"})
    assert r.status_code == 401
