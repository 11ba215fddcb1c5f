"""A crm2 store with golden customers written directly, for tap-crm2's tests: the tests control
``updated_at`` to the microsecond (ties, ordering), which a real enrich run would not let them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync.store import Store
from sync.store.schema import crosswalk, golden

TAP = str(Path(sys.executable).with_name("tap-crm2"))


def scores(tier: str, health: float, churn: float) -> dict[str, Any]:
    stamp = "2026-11-01T00:00:00Z"
    return {
        "tier": tier, "lifecycle_stage": "stable", "name": f"Company {tier}{health}",
        "scores": {
            "health": {"name": "health", "value": health, "band": "watch", "reasons": [], "computed_at": stamp},
            "churn_risk": {"name": "churn_risk", "value": churn, "band": "low", "computed_at": stamp,
                           "reasons": [{"factor": "long_silence", "value": 90, "contribution": churn, "note": ""},
                                       {"factor": "open_complaints", "value": 0, "contribution": 0.0, "note": ""}]},
            "satisfaction": {"name": "satisfaction", "value": "n/a", "band": "no_data", "reasons": []},
            "clv": {"name": "clv", "value": "12345678901234.56", "band": None, "reasons": []},
            "forecast": {"name": "forecast", "value": "100.00", "band": "next 91 days", "reasons": []},
        },
    }


def add_customer(store: Store, golden_id: str, updated_at: datetime, *, accounts: tuple[str, ...] = (),
                 merged_into: str | None = None, data: dict[str, Any] | None = None) -> None:
    with store.begin() as conn:
        conn.execute(golden.insert().values(
            golden_id=golden_id, entity="customer", data=data or scores("B", 50.0, 10.0), merged_into=merged_into,
            created_at=updated_at, updated_at=updated_at))
        for n, sid in enumerate(accounts):
            conn.execute(crosswalk.insert().values(
                source_system="salesforce", source_object="Account", source_id=sid, entity="customer",
                golden_id=golden_id, content_hash="h", status="loaded" if n == 0 else "merged", updated_at=updated_at))


def touch(store: Store, golden_id: str, updated_at: datetime, data: dict[str, Any] | None = None) -> None:
    with store.begin() as conn:
        values: dict[str, Any] = {"updated_at": updated_at}
        if data is not None:
            values["data"] = data
        conn.execute(golden.update().where(golden.c.golden_id == golden_id).values(**values))


def ts(second: int, micro: int = 0) -> datetime:
    return datetime(2026, 11, 2, 8, 0, second, micro, tzinfo=UTC)


def run_tap(tmp: Path, db: Path, state: dict[str, Any] | None = None, **config: Any) -> tuple[
        list[dict[str, Any]], dict[str, Any] | None]:
    """(records, final state) of one tap-crm2 process."""
    n = len(list(tmp.glob("tap-*.json")))
    cfg = tmp / f"tap-{n}.json"
    cfg.write_text(json.dumps({"store_url": str(db), **config}))
    cmd = [TAP, "--config", str(cfg)]
    if state is not None:
        path = tmp / f"state-{n}.json"
        path.write_text(json.dumps(state))
        cmd += ["--state", str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    messages = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return records, states[-1] if states else None
