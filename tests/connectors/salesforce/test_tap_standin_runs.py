"""tap-crm2-salesforce as a real subprocess against the local stand-in over HTTPS.

Discovery, a full sync, an incremental rerun, timestamp ties across a page boundary, and one
test per injected fault: whatever happens, the run ends with a STATE that lets the next run
deliver every record, each exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from connectors.salesforce.client import Credentials, RetryPolicy, SalesforceClient
from connectors.salesforce.standin import Faults, SalesforceStandIn

TAP = str(Path(sys.executable).with_name("tap-crm2-salesforce"))
SECRET_ENV = "CRM2_TAPTEST_SF_CLIENT_SECRET"
EXIT_STOPPED_EARLY = 75
OBJECTS = ["Account", "Contact", "Opportunity"]


@dataclass
class Run:
    returncode: int
    messages: list[dict[str, Any]]
    stderr: str

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream]

    @property
    def final_state(self) -> dict[str, Any]:
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        assert states, "every run must end with a STATE message"
        return states[-1]


def _stamp(day: int, second: int = 0) -> str:
    return f"2026-10-{day:02d}T08:00:{second:02d}Z"


def _accounts(prefix: str, n: int, stamp: str | None = None, start: int = 0) -> list[dict[str, Any]]:
    assert len(prefix) == 6
    return [{"Id": f"001{prefix}{i:09d}", "Name": f"Account {prefix} {i}",
             "Type": "Customer - Direct", "BillingCountry": "DE", "SystemModstamp": stamp or _stamp(1 + i % 20, i % 60),
             "CreatedDate": "2025-01-01T00:00:00Z", "LastModifiedDate": stamp or _stamp(1 + i % 20, i % 60)}
            for i in range(start, start + n)]


def _contacts(n: int) -> list[dict[str, Any]]:
    return [{"Id": f"003TAPTST{i:09d}", "LastName": f"Person {i}", "SystemModstamp": _stamp(2 + i % 9, i % 60)}
            for i in range(n)]


@pytest.fixture
def org(tmp_path: Path):
    sf = SalesforceStandIn(tmp_path / "org.sqlite", host="127.0.0.1", port=0)
    sf.start()
    sf.insert("Account", _accounts("TAPTST", 60))
    sf.insert("Contact", _contacts(25))
    os.environ[SECRET_ENV] = sf.credentials["client_secret"]
    yield sf
    sf.stop()


def _config(sf: SalesforceStandIn, tmp_path: Path, **extra: Any) -> Path:
    cfg = {"instance_url": sf.url, "ca_bundle": str(sf.ca_path), "auth_flow": "client_credentials",
           "client_id": sf.credentials["client_id"], "client_secret_env": SECRET_ENV, "objects": OBJECTS,
           "retry_initial_wait": 0.01, "retry_max_wait": 0.05, "max_attempts": 4, "request_timeout": 5,
           **extra}
    path = tmp_path / f"config-{len(list(tmp_path.glob('config-*')))}.json"
    path.write_text(json.dumps(cfg))
    return path


def _run(config: Path, *, state: dict[str, Any] | None = None, discover: bool = False) -> Run:
    args = [TAP, "--config", str(config)]
    if discover:
        args.append("--discover")
    if state is not None:
        state_path = config.with_suffix(".state.json")
        state_path.write_text(json.dumps(state))
        args += ["--state", str(state_path)]
    env = {**os.environ, SECRET_ENV: os.environ[SECRET_ENV]}
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    if discover:
        return Run(proc.returncode, [json.loads(proc.stdout)] if proc.returncode == 0 else [], proc.stderr)
    messages = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return Run(proc.returncode, messages, proc.stderr)


def _assert_valid_singer(messages: list[dict[str, Any]]) -> None:
    schemas: dict[str, Any] = {}
    for msg in messages:
        assert msg["type"] in {"SCHEMA", "RECORD", "STATE"}, msg["type"]
        if msg["type"] == "SCHEMA":
            jsonschema.Draft7Validator.check_schema(msg["schema"])
            assert msg["key_properties"] == ["Id"]
            schemas[msg["stream"]] = jsonschema.Draft7Validator(msg["schema"],
                                                                format_checker=jsonschema.FormatChecker())
        elif msg["type"] == "RECORD":
            assert msg["stream"] in schemas, "RECORD before its SCHEMA"
            schemas[msg["stream"]].validate(msg["record"])
        else:
            assert "bookmarks" in msg["value"]


def _all_ids(sf: SalesforceStandIn, sobject: str) -> set[str]:
    """Ground truth straight from the org (deleted rows included), not through the tap."""
    creds = Credentials.from_env(flow="client_credentials", login_url=sf.url, client_id=sf.credentials["client_id"],
                                 client_secret_env=SECRET_ENV)
    client = SalesforceClient(creds, ca_bundle=str(sf.ca_path), retry=RetryPolicy(max_attempts=1))
    try:
        return {r["Id"] for r in client.query(f"SELECT Id FROM {sobject}", include_deleted=True)}
    finally:
        client.close()


def _deliveries(*runs: Run, stream: str = "Account") -> Counter[str]:
    return Counter(r["Id"] for run in runs for r in run.records(stream))


# -- discovery, sync, incremental ------------------------------------------------------------

def test_discover_then_sync_emit_valid_singer_messages(org, tmp_path):
    config = _config(org, tmp_path)
    discovered = _run(config, discover=True)
    assert discovered.returncode == 0, discovered.stderr
    catalog = discovered.messages[0]
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert sorted(streams) == sorted(OBJECTS)  # only the configured objects are described
    account = streams["Account"]
    assert account["replication_key"] == "SystemModstamp" and account["key_properties"] == ["Id"]
    assert account["schema"]["properties"]["IsDeleted"]["type"] == ["boolean", "null"]

    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(catalog))
    proc = subprocess.run([TAP, "--config", str(config), "--catalog", str(catalog_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    messages = [json.loads(line) for line in proc.stdout.splitlines()]
    _assert_valid_singer(messages)
    run = Run(proc.returncode, messages, proc.stderr)
    assert set(_deliveries(run)) == _all_ids(org, "Account")
    assert set(_deliveries(run, stream="Contact")) == _all_ids(org, "Contact")
    bookmark = run.final_state["bookmarks"]["Account"]
    assert bookmark["replication_key"] == "SystemModstamp"
    assert bookmark["replication_key_value"] == max(r["SystemModstamp"] for r in run.records("Account"))
    assert "api_calls=" in proc.stderr and "Salesforce API usage" in proc.stderr
    # with a catalog, no describe calls: count + one query page per stream (+ auth)
    assert "describe" not in proc.stderr.lower()


def test_second_run_emits_only_changed_and_deleted_records(org, tmp_path):
    config = _config(org, tmp_path)
    first = _run(config)
    assert first.returncode == 0, first.stderr
    ids = sorted(_deliveries(first))
    changed, deleted = ids[:2], ids[2]
    creds = Credentials.from_env(flow="client_credentials", login_url=org.url,
                                 client_id=org.credentials["client_id"], client_secret_env=SECRET_ENV)
    client = SalesforceClient(creds, ca_bundle=str(org.ca_path))
    for record_id in changed:
        client.request("PATCH", f"sobjects/Account/{record_id}", json={"Name": "Renamed"})
    client.request("DELETE", f"sobjects/Account/{deleted}")
    client.close()

    second = _run(config, state=first.final_state)
    assert second.returncode == 0, second.stderr
    _assert_valid_singer(second.messages)
    got = {r["Id"]: r for r in second.records("Account")}
    assert set(got) == {*changed, deleted}
    assert all(got[i]["Name"] == "Renamed" and got[i]["IsDeleted"] is False for i in changed)
    assert got[deleted]["IsDeleted"] is True
    assert second.records("Contact") == [] and second.records("Opportunity") == []


def test_fifty_rows_sharing_one_systemmodstamp_across_a_page_boundary(org, tmp_path):
    tie = "2026-10-25T12:00:00Z"
    # 180 earlier rows + 50 tied ones: with batchSize=200 the page boundary falls inside the ties
    org.insert("Account", _accounts("TIEAAA", 120, start=0))
    org.insert("Account", _accounts("TIEBBB", 50, stamp=tie))
    config = _config(org, tmp_path, objects=["Account"], page_size=200, bulk_threshold=None)
    tied = {a["Id"] for a in _accounts("TIEBBB", 50, stamp=tie)}
    every = _all_ids(org, "Account")
    assert len(every) == 230

    # 1) the run stops at the page boundary (quota gone after the first page) ...
    org.set_faults(Faults(limit_exhausted_after=org.api_calls_total() + 3))
    first = _run(config)
    org.set_faults(None)
    assert first.returncode == EXIT_STOPPED_EARLY, first.stderr
    delivered_tied = tied & set(_deliveries(first))
    assert 0 < len(delivered_tied) < 50, "the stop must fall inside the tied rows"
    second = _run(config, state=first.final_state)
    assert second.returncode == 0, second.stderr
    total = _deliveries(first, second)
    assert set(total) == every and max(total.values()) == 1

    # 2) ... or anywhere inside a page: resuming from the STATE a run would have written after
    # the 35th tied record delivers exactly the 15 tied rows after it (and nothing before).
    full = _run(_config(org, tmp_path, objects=["Account"], page_size=200, bulk_threshold=None))
    ordered = full.records("Account")
    tied_in_order = [r for r in ordered if r["Id"] in tied]
    cut = tied_in_order[34]
    state = {"bookmarks": {"Account": {"replication_key": "SystemModstamp",
                                       "replication_key_value": cut["SystemModstamp"],
                                       "replication_key_last_id": cut["Id"]}}}
    rest = _run(config, state=state)
    assert [r["Id"] for r in rest.records("Account")] == [r["Id"] for r in tied_in_order[35:]]


# -- faults ------------------------------------------------------------------------------------

FAULTS = {
    "limit_exhausted_mid_run": lambda calls: Faults(limit_exhausted_after=calls + 4),
    "session_expiry": lambda calls: Faults(session_expiry_every=3),
    "lock_errors": lambda calls: Faults(lock_row_fraction=0.5, seed=7),
    "http_503s": lambda calls: Faults(status_503_next=3),
    "dropped_connections": lambda calls: Faults(drop_connection_next=3),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_then_rerun_delivers_every_record_once(org, tmp_path, fault):
    config = _config(org, tmp_path, page_size=200)
    org.insert("Account", _accounts("FAULTS", 400, start=100))
    truth = {s: _all_ids(org, s) for s in OBJECTS}

    org.set_faults(FAULTS[fault](org.api_calls_total()))
    first = _run(config)
    org.set_faults(None)
    assert first.returncode in (0, EXIT_STOPPED_EARLY), first.stderr
    if first.returncode == EXIT_STOPPED_EARLY:
        assert "Stopping cleanly" in first.stderr
    _assert_valid_singer(first.messages)
    second = _run(config, state=first.final_state)
    assert second.returncode == 0, second.stderr
    for sobject in OBJECTS:
        total = _deliveries(first, second, stream=sobject)
        assert set(total) == truth[sobject], f"{sobject}: records lost"
        assert not total or max(total.values()) == 1, f"{sobject}: records delivered twice"
    if fault == "limit_exhausted_mid_run":
        assert first.returncode == EXIT_STOPPED_EARLY
    else:
        assert first.returncode == 0  # retried / re-authenticated through it


def test_api_budget_stops_before_the_org_limit(org, tmp_path):
    org.insert("Account", _accounts("BUDGET", 900, start=100))
    used = org.api_calls_total()
    # daily limit of the stand-in is 100,000; a cap just above current usage leaves two calls
    pct = 100.0 * (used + 3) / 100_000
    config = _config(org, tmp_path, page_size=200, api_budget_pct=pct, bulk_threshold=None)
    first = _run(config)
    assert first.returncode == EXIT_STOPPED_EARLY, first.stderr
    assert "API budget reached" in first.stderr
    second = _run(_config(org, tmp_path, page_size=200, bulk_threshold=None), state=first.final_state)
    assert second.returncode == 0
    total = _deliveries(first, second)
    assert set(total) == _all_ids(org, "Account") and max(total.values()) == 1


def test_persistent_503_stops_cleanly_with_resumable_state(org, tmp_path):
    config = _config(org, tmp_path, objects=["Account"], page_size=200, bulk_threshold=None)
    org.insert("Account", _accounts("PERSIS", 500, start=100))
    org.set_faults(Faults(status_503_after=org.api_calls_total() + 3))
    first = _run(config)
    org.set_faults(None)
    assert first.returncode == EXIT_STOPPED_EARLY, first.stderr
    assert 0 < len(first.records("Account")) < len(_all_ids(org, "Account"))
    second = _run(config, state=first.final_state)
    total = _deliveries(first, second)
    assert set(total) == _all_ids(org, "Account") and max(total.values()) == 1


def test_bulk_path_extracts_the_same_records_as_rest(org, tmp_path):
    org.insert("Account", _accounts("BULKAA", 300, start=100))
    # A threshold above the row count (not None) so the tap counts and logs its choice of API.
    rest = _run(_config(org, tmp_path, objects=["Account"], bulk_threshold=1_000_000))
    bulk = _run(_config(org, tmp_path, objects=["Account"], bulk_threshold=10))
    assert rest.returncode == bulk.returncode == 0, bulk.stderr
    assert "via Bulk 2.0" in bulk.stderr and "via REST" in rest.stderr
    assert bulk.records("Account") == rest.records("Account")  # same typing, same order
    assert bulk.final_state == rest.final_state
