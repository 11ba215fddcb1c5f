"""tap-crm2-sales against the sales stand-in over real loopback HTTP."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from sales_api_data import TOKEN_ENV, base_config, ids, run_tap
from sales_api_data import standin as standin  # a fixture

from connectors.sales.standin import RateLimit
from connectors.sales.tap_streams import parse_retry_after

ALL_ORDERS = [f"SO-{i:05d}" for i in range(30)]


def test_first_run_reads_every_endpoint_in_change_order(standin, capsys):
    records, state, _, _ = run_tap(base_config(standin), capsys)
    assert ids(records, "orders") == ALL_ORDERS
    assert ids(records, "order_lines") == [f"SOL-{i:05d}" for i in range(30)]
    assert ids(records, "accounts") == ["ACC-0000", "ACC-0001", "ACC-0002"]
    assert ids(records, "opportunities") == ["Q-0001"]
    account = next(m["record"] for m in records if m["stream"] == "accounts")
    assert account["contact"]["email"] == "ann0@example.com"
    assert state["bookmarks"]["orders"]["replication_key_value"] == "2026-02-10T08:00:00Z"
    assert state["bookmarks"]["orders"]["replication_key_last_key"] == ["SO-00029"]


def test_second_run_emits_only_new_and_changed_records(standin, capsys):
    config = base_config(standin)
    _, state, _, _ = run_tap(config, capsys)
    changed = standin.get("orders", "SO-00004") | {"status": "shipped", "updated_at": "2026-02-20T00:00:00Z"}
    standin.upsert("orders", changed)
    # Same second as the bookmark, after it in key order: the inclusive filter sends it, and the
    # rows of that second already emitted (SO-00027..29) come back too and must be dropped.
    standin.upsert("orders", standin.get("orders", "SO-00029") | {"id": "SO-00030", "number": "N30"})
    records, state2, _, _ = run_tap(config, capsys, state=state)
    assert ids(records, "orders") == ["SO-00030", "SO-00004"]
    assert [m["record"]["status"] for m in records if m["stream"] == "orders"] == ["open", "shipped"]
    assert ids(records, "accounts") == ids(records, "order_lines") == ids(records, "opportunities") == []
    records3, _, _, _ = run_tap(config, capsys, state=state2)
    assert records3 == []


def test_a_run_cut_inside_a_tie_resumes_after_the_last_key(standin, capsys):
    state = {"bookmarks": {"orders": {"replication_key": "updated_at", "replication_key_value": "2026-02-02T08:00:00Z",
                                      "replication_key_last_key": ["SO-00003"]}}}
    records, _, _, _ = run_tap(base_config(standin), capsys, state=state)
    assert ids(records, "orders") == ALL_ORDERS[4:]


class Storm(RateLimit):
    """Refuses every other request, whatever the clock says: a storm of the same size on any machine
    (a real-time token bucket refills while a busy machine is slow, and refuses less)."""

    def __init__(self) -> None:
        super().__init__(rate=1, burst=1, retry_after=0.05)
        self.asked = self.refused = 0

    def take(self) -> float | None:
        self.asked += 1
        if self.asked % 2:
            return None
        self.refused += 1
        return self.retry_after


def test_a_429_storm_is_absorbed_with_nothing_lost_or_repeated(standin, capsys):
    storm = Storm()
    standin.rate_limit = storm
    config = base_config(standin, endpoints={"orders": {"pagination": {"size": 3}},
                                             "order_lines": {"pagination": {"size": 3}}})
    records, _, _, tap = run_tap(config, capsys)
    # counted from the stand-in's own record of the refusals it sent
    assert standin.throttled == storm.refused >= 10
    assert tap.retries == standin.throttled
    assert ids(records, "orders") == ALL_ORDERS
    assert ids(records, "order_lines") == [f"SOL-{i:05d}" for i in range(30)]


def test_server_errors_are_retried_with_backoff(standin, capsys):
    standin.fail_next(3, status=503)
    records, _, _, tap = run_tap(base_config(standin), capsys)
    assert standin.failed == 3 and tap.retries == 3
    assert ids(records, "orders") == ALL_ORDERS


def test_retry_after_is_honoured_but_bounded(standin, capsys):
    standin.rate_limit = RateLimit(rate=1, burst=1, retry_after=3600)
    config = base_config(standin, max_retry_after=0.2, max_attempts=30,
                         endpoints={name: {"enabled": False} for name in ("orders", "order_lines", "opportunities")})
    started = time.monotonic()
    records, _, _, tap = run_tap(config, capsys)
    elapsed = time.monotonic() - started
    assert ids(records, "accounts") == ["ACC-0000", "ACC-0001", "ACC-0002"]
    assert tap.retries == 0  # one request, within the burst
    standin.rate_limit = RateLimit(rate=5, burst=1, retry_after=3600)
    config["endpoints"]["orders"] = {"enabled": True, "pagination": {"size": 10}}
    records, _, _, tap = run_tap(config, capsys)
    elapsed = time.monotonic() - started
    assert ids(records, "orders") == ALL_ORDERS
    assert tap.retries >= 1
    assert elapsed < 0.2 * tap.retries + 5  # waited the bound, not the hour asked for


@pytest.mark.parametrize("pagination", [
    {"type": "cursor", "size": 7},
    {"type": "page", "size": 7, "size_param": "per_page"},
    {"type": "offset", "size": 7},
    {"type": "link", "size": 7},
])
def test_every_pagination_style_reads_every_record_once(standin, capsys, pagination):
    config = base_config(standin, endpoints={"orders": {"pagination": pagination},
                                             **{n: {"enabled": False} for n in ("accounts", "order_lines",
                                                                                 "opportunities")}})
    records, _, _, _ = run_tap(config, capsys)
    assert ids(records, "orders") == ALL_ORDERS
    assert standin.requests == 5  # ceil(30 / 7) pages


@pytest.mark.parametrize("auth", ["bearer", "api_key", "basic", "oauth_client_credentials"])
def test_every_auth_style_is_accepted(standin, capsys, monkeypatch, auth):
    monkeypatch.setenv("CRM2_TEST_SALES_SECRET", standin.client_secret)
    settings = {
        "bearer": {"type": "bearer", "token_env": TOKEN_ENV},
        "api_key": {"type": "api_key", "header": "X-API-Key", "key_env": TOKEN_ENV},
        "basic": {"type": "basic", "username": "crm2", "password_env": TOKEN_ENV},
        "oauth_client_credentials": {"type": "oauth_client_credentials", "token_url": f"{standin.url}/oauth/token",
                                     "client_id": standin.client_id, "client_secret_env": "CRM2_TEST_SALES_SECRET"},
    }[auth]
    records, _, _, _ = run_tap(base_config(standin, auth=settings), capsys)
    assert ids(records, "orders") == ALL_ORDERS


def test_money_arrives_digit_for_digit(standin, capsys):
    _, _, out, _ = run_tap(base_config(standin), capsys)
    assert '"total":12345678901234.56' in out
    assert '"total":0.10' in out and '"total":0.20' in out and '"cost":0.05' in out
    assert "e+13" not in out


def test_custom_endpoint_declared_in_config(standin, capsys):
    schema = {"type": "object", "properties": {"id": {"type": "string"}, "total": {"type": ["number", "null"]},
                                               "updated_at": {"type": "string", "format": "date-time"}}}
    config = base_config(standin, endpoints={
        "first_orders": {"path": "/api/v1/orders", "records_path": "$.data[*]", "schema": schema,
                         "params": {"limit": "2"}, "replication_key": None,
                         "pagination": {"type": "none", "size_param": None}},
        **{n: {"enabled": False} for n in ("accounts", "orders", "order_lines", "opportunities")}})
    records, state, _, _ = run_tap(config, capsys)
    # Only the schema's fields, one page as declared, money still Decimal.
    assert [m["record"] for m in records] == [
        {"id": "SO-00000", "total": Decimal("12345678901234.56"), "updated_at": "2026-02-01T08:00:00Z"},
        {"id": "SO-00001", "total": Decimal("0.10"), "updated_at": "2026-02-01T08:00:00Z"}]
    assert "replication_key_value" not in state["bookmarks"].get("first_orders", {})


def test_retry_after_parsing():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: go now
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
