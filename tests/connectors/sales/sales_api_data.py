"""Sales records built in the tests (the generator's sales objects), a running stand-in, and a tap run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from connectors.sales.standin import RateLimit, SalesStandIn
from connectors.sales.tap import TapSales

TOKEN_ENV = "CRM2_TEST_SALES_TOKEN"


def sales_records(n_orders: int = 30) -> list[tuple[str, dict[str, Any]]]:
    recs: list[tuple[str, dict[str, Any]]] = []
    for a in range(3):
        recs.append(("accounts", {"id": f"ACC-{a:04d}", "company": f"Company {a}",
                                  "contact": {"name": "Ann Lee", "email": f"ann{a}@example.com", "phone": "+4930123"},
                                  "country": "DE", "city": "Berlin", "vat_or_tax_id": f"DE{a:09d}",
                                  "created_at": "2025-01-01T00:00:00Z", "updated_at": f"2026-01-0{a + 1}T00:00:00Z"}))
    for i in range(n_orders):
        # Runs of three orders share one updated_at: pages and bookmarks cut through ties.
        ts = f"2026-02-{1 + i // 3:02d}T08:00:00Z"
        total = "12345678901234.56" if i == 0 else ("0.10" if i % 2 else "0.20")
        recs.append(("orders", {"id": f"SO-{i:05d}", "number": f"N{i}", "account_id": f"ACC-{i % 3:04d}",
                                "placed_at": ts, "status": "open", "currency": "EUR", "total": total,
                                "cost": "0.05", "channel": "web", "updated_at": ts}))
        recs.append(("order_lines", {"id": f"SOL-{i:05d}", "order_id": f"SO-{i:05d}", "sku": "SKU-1",
                                     "product": "Widget", "quantity": 1, "unit_price": total, "line_total": total,
                                     "updated_at": ts}))
    recs.append(("opportunities", {"id": "Q-0001", "account_id": "ACC-0000", "title": "Renewal", "stage": "open",
                                   "amount": "5000.00", "currency": "EUR", "probability": 40,
                                   "expected_close": "2026-12-01", "updated_at": "2026-03-01T00:00:00Z"}))
    return recs


@pytest.fixture
def standin(monkeypatch) -> Iterator[SalesStandIn]:
    server = SalesStandIn(rate_limit=RateLimit())
    server.load(sales_records())
    server.start()
    monkeypatch.setenv(TOKEN_ENV, server.token)
    yield server
    server.stop()


def base_config(server: SalesStandIn, **extra: Any) -> dict[str, Any]:
    return {"base_url": server.url, "auth": {"type": "bearer", "token_env": TOKEN_ENV},
            "retry_initial_wait": 0.01, "retry_max_wait": 0.05, **extra}


def run_tap(config: dict[str, Any], capsys: pytest.CaptureFixture[str], state: dict[str, Any] | None = None,
            ) -> tuple[list[dict[str, Any]], dict[str, Any], str, TapSales]:
    """Sync in-process; (record messages, final state, raw stdout, the tap)."""
    capsys.readouterr()
    tap = TapSales(config=config, state=state or {})
    tap.sync_all()
    out = capsys.readouterr().out
    messages = [json.loads(line, parse_float=Decimal) for line in out.splitlines() if line.startswith("{")]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return [m for m in messages if m["type"] == "RECORD"], states[-1] if states else {}, out, tap


def ids(records: list[dict[str, Any]], stream: str) -> list[str]:
    return [m["record"]["id"] for m in records if m["stream"] == stream]
