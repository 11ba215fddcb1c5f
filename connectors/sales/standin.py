"""A local stand-in for the sales system's REST API, served in-process on a loopback port.

``GET /api/v1/{accounts,orders,order_lines,opportunities}`` answers ``{"data": [...],
"next_cursor": ...}`` sorted by (updated_at, id), with

* ``updated_since`` — ISO 8601, inclusive (``>=``), so a client resuming from a bookmark cannot
  miss rows that share its timestamp;
* cursor pagination (``cursor``, ``limit``), with the next page also given as a ``Link`` header;
  ``page``/``per_page`` or ``offset``/``limit`` switch to page-number or offset pagination, so
  one server exercises every pagination style the tap supports;
* credentials as ``Authorization: Bearer``, ``X-API-Key``, HTTP Basic (any user, the token as
  password) or an OAuth client-credentials token from ``POST /oauth/token``; anything else is 401;
* a token bucket (``rate`` requests/s, ``burst``): when it is empty the answer is 429 with
  ``Retry-After``, which is how tests cause a storm;
* ``fail_next(n, status)`` to make the next n requests fail with a 5xx.

Money is served as JSON numbers written digit for digit from Decimal (``1234.50``), as many
real APIs do, so the tap's exactness is tested on the wire.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import os
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlencode, urlparse

from singer_sdk.singerlib.json import serialize_json

OBJECTS = ("accounts", "orders", "order_lines", "opportunities")
MONEY_FIELDS = {"total", "cost", "unit_price", "line_total", "amount"}
API_PREFIX = "/api/v1/"
TOKEN_ENV = "CRM2_SALES_TOKEN"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def parse_ts(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class _Table:
    """Records of one object kept in (updated_at, id) order for keyset pagination."""

    def __init__(self) -> None:
        self.keys: list[tuple[datetime, str]] = []
        self.rows: list[dict[str, Any]] = []
        self.by_id: dict[str, tuple[datetime, str]] = {}

    def upsert(self, record: dict[str, Any]) -> None:
        rid = str(record["id"])
        old = self.by_id.pop(rid, None)
        if old is not None:
            i = bisect.bisect_left(self.keys, old)
            del self.keys[i], self.rows[i]
        key = (parse_ts(record["updated_at"]), rid)
        i = bisect.bisect_left(self.keys, key)
        self.keys.insert(i, key)
        self.rows.insert(i, record)
        self.by_id[rid] = key

    def bulk_load(self, records: Iterable[dict[str, Any]]) -> None:
        pairs = sorted(((parse_ts(r["updated_at"]), str(r["id"])), r) for r in records)
        self.keys = [k for k, _ in pairs]
        self.rows = [r for _, r in pairs]
        self.by_id = {k[1]: k for k in self.keys}

    def start_index(self, since: datetime | None, after: tuple[datetime, str] | None) -> int:
        i = 0 if since is None else bisect.bisect_left(self.keys, (since, ""))
        if after is not None:
            # Past every key <= after: "" < any id, so (ts, id + "\0") sorts right after (ts, id).
            i = max(i, bisect.bisect_left(self.keys, (after[0], after[1] + "\0")))
        return i


def _money(record: Mapping[str, Any]) -> dict[str, Any]:
    """Decimal strings from the generator become Decimals, served as exact JSON numbers."""
    out = dict(record)
    for name in MONEY_FIELDS & out.keys():
        if out[name] is not None and not isinstance(out[name], Decimal):
            out[name] = Decimal(str(out[name]))
    return out


@dataclass
class RateLimit:
    """Token bucket: ``rate`` requests/s on average, ``burst`` at once; None = unlimited."""

    rate: float | None = None
    burst: int = 20
    retry_after: float | None = None
    """Seconds to send in Retry-After; None = the time until a token is free, rounded up to 1 s."""
    _tokens: float = field(default=0.0, init=False)
    _stamp: float = field(default_factory=time.monotonic, init=False)

    def __post_init__(self) -> None:
        self._tokens = float(self.burst)

    def take(self) -> float | None:
        """None if the request may go ahead, else the seconds to ask the client to wait."""
        if self.rate is None:
            return None
        now = time.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        if self.retry_after is not None:
            return self.retry_after
        return max(1.0, float(int((1 - self._tokens) / self.rate) + 1))


class SalesStandIn:
    """The sales API, running on ``127.0.0.1`` on an ephemeral port once :meth:`start` is called."""

    def __init__(self, *, token: str | None = None, client_id: str = "crm2-demo",
                 client_secret: str | None = None, rate_limit: RateLimit | None = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token or secrets.token_urlsafe(24)
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.rate_limit = rate_limit or RateLimit()
        self.tables = {name: _Table() for name in OBJECTS}
        self.requests = 0
        self.throttled = 0
        self.failed = 0
        self._fail_queue: list[int] = []
        self._oauth_tokens: set[str] = set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SalesStandIn:
        # A short poll interval keeps stop() quick (shutdown waits for the loop's next poll).
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="sales-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    # -- data ---------------------------------------------------------------------------------

    def load(self, records: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, int]:
        """Replace the data with ``(object, record)`` pairs; objects the API lacks are skipped."""
        grouped: dict[str, list[dict[str, Any]]] = {name: [] for name in OBJECTS}
        for obj, record in records:
            if obj in grouped:
                grouped[obj].append(_money(record))
        with self._lock:
            for name, rows in grouped.items():
                self.tables[name].bulk_load(rows)
        return {name: len(rows) for name, rows in grouped.items()}

    def upsert(self, obj: str, record: Mapping[str, Any]) -> None:
        """Insert or replace one record (by id) — a change made in the sales system."""
        with self._lock:
            self.tables[obj].upsert(_money(record))

    def get(self, obj: str, rid: str) -> dict[str, Any]:
        with self._lock:
            table = self.tables[obj]
            return dict(table.rows[bisect.bisect_left(table.keys, table.by_id[rid])])

    def count(self, obj: str) -> int:
        return len(self.tables[obj].rows)

    def fail_next(self, n: int, status: int = 503) -> None:
        with self._lock:
            self._fail_queue.extend([status] * n)

    # -- request handling (called from server threads) ----------------------------------------

    def authorized(self, headers: Mapping[str, str]) -> bool:
        auth = headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            presented = auth[7:]
            return secrets.compare_digest(presented, self.token) or presented in self._oauth_tokens
        if auth.startswith("Basic "):
            try:
                _user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return secrets.compare_digest(password, self.token)
        api_key = headers.get("X-API-Key")
        return api_key is not None and secrets.compare_digest(api_key, self.token)

    def issue_oauth_token(self, form: Mapping[str, list[str]], headers: Mapping[str, str]) -> str | None:
        client_id = form.get("client_id", [""])[0]
        client_secret = form.get("client_secret", [""])[0]
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if form.get("grant_type", [""])[0] != "client_credentials":
            return None
        if client_id != self.client_id or not secrets.compare_digest(client_secret, self.client_secret):
            return None
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._oauth_tokens.add(token)
        return token

    def gate(self) -> tuple[int, dict[str, str]] | None:
        """Rate limit and injected failures: (status, headers) to answer instead, or None."""
        with self._lock:
            self.requests += 1
            wait = self.rate_limit.take()
            if wait is not None:
                self.throttled += 1
                return 429, {"Retry-After": _seconds(wait)}
            if self._fail_queue:
                self.failed += 1
                return self._fail_queue.pop(0), {}
        return None

    def page(self, obj: str, query: Mapping[str, list[str]]) -> tuple[dict[str, Any], str | None]:
        """The JSON body for one page and the next page's query string (for the Link header)."""
        one = {k: v[-1] for k, v in query.items()}
        since = parse_ts(one["updated_since"]) if one.get("updated_since") else None
        with self._lock:
            table = self.tables[obj]
            if "page" in one or "offset" in one:
                size = _limit(one.get("per_page") or one.get("limit"))
                offset = (int(one["page"]) - 1) * size if "page" in one else int(one["offset"])
                base = table.start_index(since, None)
                rows = table.rows[base + offset: base + offset + size]
                more = base + offset + size < len(table.rows)
                return {"data": rows, "has_more": more}, None
            size = _limit(one.get("limit"))
            after = _decode_cursor(one["cursor"]) if one.get("cursor") else None
            i = table.start_index(since, after)
            rows = table.rows[i: i + size]
            more = i + size < len(table.rows)
        cursor = _encode_cursor(table_key(rows[-1])) if rows and more else None
        next_query = None
        if cursor:
            next_query = urlencode({k: v for k, v in {**one, "cursor": cursor}.items()})
        return {"data": rows, "next_cursor": cursor}, next_query


def table_key(record: Mapping[str, Any]) -> tuple[datetime, str]:
    return parse_ts(record["updated_at"]), str(record["id"])


def _limit(raw: str | None) -> int:
    return max(1, min(MAX_LIMIT, int(raw))) if raw else DEFAULT_LIMIT


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _encode_cursor(key: tuple[datetime, str]) -> str:
    raw = json.dumps([key[0].isoformat(), key[1]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    ts, rid = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return datetime.fromisoformat(ts), rid


def _handler_for(api: SalesStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, the client's delayed ACK adds
        # ~40 ms to every response.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: request lines carry query values, and tests read stderr."""

        def _send(self, status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> None:
            payload = serialize_json(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            if urlparse(self.path).path != "/oauth/token":
                self._send(404, {"error": "not_found"})
                return
            token = api.issue_oauth_token(form, cast(Mapping[str, str], self.headers))
            if token is None:
                self._send(401, {"error": "invalid_client"})
                return
            self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

        def do_GET(self) -> None:
            parsed = urlparse(self.path)
            gated = api.gate()
            if gated is not None:
                status, headers = gated
                self._send(status, {"error": HTTPStatus(status).phrase}, headers)
                return
            if not api.authorized(cast(Mapping[str, str], self.headers)):
                self._send(401, {"error": "unauthorized"}, {"WWW-Authenticate": "Bearer"})
                return
            obj = parsed.path.removeprefix(API_PREFIX)
            if not parsed.path.startswith(API_PREFIX) or obj not in api.tables:
                self._send(404, {"error": "not_found"})
                return
            try:
                body, next_query = api.page(obj, parse_qs(parsed.query))
            except (ValueError, KeyError, binascii.Error) as exc:
                self._send(400, {"error": f"bad request: {type(exc).__name__}"})
                return
            headers = {}
            if next_query:
                headers["Link"] = f'<{api.url}{parsed.path}?{next_query}>; rel="next"'
            self._send(200, body, headers)

    return Handler


ENV_FILE = "sales.env"


@dataclass
class SalesStandInHandle:
    """What ``crm2 demo`` and ``crm2 sandbox sales`` need: the tap config, the env holding the token
    (also saved in ``env_file``, mode 0600, never printed), and a stop."""

    server: SalesStandIn
    counts: dict[str, int]
    name: str = "sales"
    tap_config: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict, repr=False)
    env_file: Path | None = None

    def describe(self) -> str:
        rows = ", ".join(f"{n} {obj}" for obj, n in self.counts.items())
        token = f"; {TOKEN_ENV} is in {self.env_file}" if self.env_file else ""
        return f"Sales API stand-in at {self.server.url}: {rows}{token}"

    def stop(self) -> None:
        self.server.stop()


def _saved_token(env_file: Path) -> str | None:
    """The token an earlier start saved, so a restarted sandbox keeps working with the same config."""
    try:
        for line in env_file.read_text(encoding="utf-8").splitlines():
            name, _, value = line.partition("=")
            if name.strip() == TOKEN_ENV and value.strip():
                return value.strip()
    except OSError:
        return None
    return None


def _save_token(env_file: Path, token: str) -> None:
    # created 0600 from the start (not chmod after), like the Salesforce stand-in's salesforce.env
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(f"{TOKEN_ENV}={token}\n")


def start(workdir: Path, *, customers: int, seed: int, rate_limit: RateLimit | None = None,
          port: int = 0) -> SalesStandInHandle:
    """Start the stand-in seeded with the generator's sales records.

    The bearer token is written to ``workdir/sales.env`` (``set -a; . workdir/sales.env`` before
    running the tap by hand or under Meltano) and reused on the next start, so with a fixed
    ``port`` the same tap config keeps working across restarts.
    """
    from synthetic import generate  # only needed when the stand-in is started

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    env_file = workdir / ENV_FILE
    server = SalesStandIn(token=_saved_token(env_file), rate_limit=rate_limit or RateLimit(rate=200, burst=100),
                          port=port)
    _save_token(env_file, server.token)
    counts = server.load((obj, rec) for system, obj, rec in generate(customers, seed) if system == "sales")
    server.start()
    return SalesStandInHandle(
        server=server, counts=counts,
        tap_config={"base_url": server.url, "auth": {"type": "bearer", "token_env": TOKEN_ENV}},
        env={TOKEN_ENV: server.token}, env_file=env_file)
