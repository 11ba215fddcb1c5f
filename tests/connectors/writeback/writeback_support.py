"""Shared setup for the writeback tests: a crm2 store filled by staging + resolve + enrich, the
Salesforce stand-in holding the customers' Accounts, and the real pipe
``tap-crm2 | target-crm2-salesforce`` run as two processes.

The stand-in runs in this process, so a test can watch which records it actually changed: each
successful create/update is counted per record by wrapping the stand-in's own writer (the test
double is observed, never our code replaced).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connectors.salesforce.standin import SalesforceStandIn
from sync.enrich import load_rules
from sync.enrich.store_io import enrich_store
from sync.resolve import load_match_config, resolve_all
from sync.shipped import DEFAULT_RULES, MAPPINGS
from sync.store import StagedRecord, Store
from sync.store.schema import audit_log, writeback_queue, writeback_state

BIN = Path(sys.executable).parent
TAP = str(BIN / "tap-crm2")
TARGET = str(BIN / "target-crm2-salesforce")
SECRET_ENV = "CRM2_WBTEST_SF_CLIENT_SECRET"
AS_OF = date(2026, 11, 1)
CUSTOMERS = 12
WRITEBACK_FIELDS = ("CRM2_Tier__c", "CRM2_Lifecycle_Stage__c", "CRM2_Health_Score__c", "CRM2_Churn_Risk__c",
                    "CRM2_Churn_Reasons__c", "CRM2_CLV__c", "CRM2_Forecast__c", "CRM2_Scored_At__c")


def account_id(i: int) -> str:
    return f"001WBTEST{i:09d}"


def _digest(i: int) -> str:
    return hashlib.sha256(f"customer-{i}".encode()).hexdigest()


def tax_id(i: int) -> str:
    return "DE" + str(int(_digest(i)[:12], 16))[:9]


def company(i: int) -> str:
    """Unrelated names (resolve must not merge the test customers with each other)."""
    letters = "".join(chr(ord("a") + int(c, 16) % 26) for c in _digest(i)[12:20])
    return f"{letters.capitalize()} {COMPANY_WORDS[i % len(COMPANY_WORDS)]} GmbH"


COMPANY_WORDS = ("Werkzeug", "Logistik", "Bau", "Textil", "Optik", "Pharma", "Elektro", "Holz", "Papier", "Glas")


def invoice(i: int, n: int, *, amount: str, overdue: bool = False) -> StagedRecord:
    issued = AS_OF - timedelta(days=30 + 25 * n)
    due = issued + timedelta(days=14)
    data = {"customer": f"C{i}", "number": f"INV-{i}-{n}", "issued_on": issued.isoformat(),
            "due_on": due.isoformat(), "amount": amount, "currency": "EUR",
            "status": "open" if overdue else "paid"}
    if not overdue:
        data["paid_on"] = (due - timedelta(days=2)).isoformat()
    return StagedRecord("finance", "invoices", f"INV-{i}-{n}", "invoice", data)


def customer_records(i: int) -> list[StagedRecord]:
    """A company in Salesforce (Account) and in finance (customer), linked by tax id, with
    invoices whose total differs per customer so the tiers differ."""
    name = company(i)
    out = [
        StagedRecord("salesforce", "Account", account_id(i), "customer",
                     {"name": name, "tax_id": tax_id(i), "country": "DE", "created_at": "2022-01-10T00:00:00Z"}),
        StagedRecord("finance", "customers", f"C{i}", "customer",
                     {"name": name, "tax_id": tax_id(i), "country": "DE", "created_at": "2022-01-01T00:00:00Z"}),
    ]
    out += [invoice(i, n, amount=f"{(i % 7 + 1) * 1000 + n}.50") for n in range(3)]
    return out


def scoring_rules(tmp: Path) -> Path:
    """Revenue from invoices (finance), so a changed invoice changes that customer's scores."""
    path = tmp / "scoring.yml"
    path.write_text("version: 1\nrevenue: {source: invoices}\n")
    return path


def stage(store: Store, records: list[StagedRecord]) -> None:
    with store.begin() as conn:
        store.stage(conn, records, None)


def resolve_and_enrich(store: Store, tmp: Path) -> None:
    resolve_all(store, load_match_config(DEFAULT_RULES["resolve"]), "test-resolve")
    enrich_store(store.engine, load_rules(scoring_rules(tmp)), AS_OF, "test-enrich")


def fill_store(db: Path | str, tmp: Path, customers: int) -> None:
    with Store.open(db) as store:
        stage(store, [r for i in range(customers) for r in customer_records(i)])
        resolve_and_enrich(store, tmp)


class WriteWatch:
    """Counts what the stand-in applied, per (object, record id): wraps its writer's create/update."""

    def __init__(self, sf: SalesforceStandIn) -> None:
        self.applied: Counter[str] = Counter()
        writer = sf.writer
        for name in ("update", "create"):
            original = getattr(writer, name)
            setattr(writer, name, self._counting(original))

    def _counting(self, original: Callable[..., str]) -> Callable[..., str]:
        def wrapped(*args: Any, **kwargs: Any) -> str:
            record_id = original(*args, **kwargs)  # raises (and is not counted) when the row is rejected
            self.applied[record_id] += 1
            return record_id
        return wrapped


@dataclass
class Org:
    sf: SalesforceStandIn
    watch: WriteWatch

    def accounts(self) -> dict[str, dict[str, Any]]:
        return {r["Id"]: r for r in self.sf.records("Account")}

    def writes(self) -> int:
        return self.sf.write_calls_total()


def start_org(tmp: Path, customers: int, *, golden_ids: dict[str, str] | None = None) -> Org:
    """The stand-in with the customers' Accounts (carrying crm2's golden ids if given)."""
    sf = SalesforceStandIn(tmp / "org.sqlite", host="127.0.0.1", port=0)
    sf.start()
    sf.insert("Account", [{"Id": account_id(i), "Name": company(i), "BillingCountry": "DE",
                           "CRM2_Golden_Id__c": (golden_ids or {}).get(account_id(i))} for i in range(customers)])
    os.environ[SECRET_ENV] = sf.credentials["client_secret"]
    return Org(sf, WriteWatch(sf))


def target_config(org: Org, db: Path | str, tmp: Path, **extra: Any) -> dict[str, Any]:
    return {"instance_url": org.sf.url, "ca_bundle": str(org.sf.ca_path), "auth_flow": "client_credentials",
            "client_id": org.sf.credentials["client_id"], "client_secret_env": SECRET_ENV,
            "store_url": str(db), "mapping": str(MAPPINGS / "writeback.yml"), "run_id": extra.pop("run_id", None),
            "bookmark_name": "writeback", "output_dir": str(tmp / "out"),
            "retry_initial_wait": 0.01, "retry_max_wait": 0.05, "max_attempts": 3, "request_timeout": 10,
            "bulk_poll_initial": 0.05, "bulk_poll_max": 0.2, **extra}


@dataclass
class PipeRun:
    tap_exit: int
    target_exit: int
    stdout: str
    stderr: str
    summary: dict[str, Any]

    @property
    def counts(self) -> dict[str, int]:
        return self.summary.get("counts", {})


def run_pipe(db: Path | str, tmp: Path, cfg: dict[str, Any], *, args: tuple[str, ...] = (),
             env: dict[str, str] | None = None, full: bool = False) -> PipeRun:
    """``tap-crm2 | target-crm2-salesforce`` as two real processes; the tap resumes from the
    bookmark the target saved in the store, as ``crm2 sync`` does."""
    n = len(list(tmp.glob("target-*.json")))
    tap_cfg, target_cfg, state = tmp / f"tap-{n}.json", tmp / f"target-{n}.json", tmp / f"state-{n}.json"
    tap_cfg.write_text(json.dumps({"store_url": str(db), "full_refresh": full}))
    target_cfg.write_text(json.dumps({k: v for k, v in cfg.items() if v is not None}))
    tap_cmd = [TAP, "--config", str(tap_cfg)]
    with Store.open(db) as store:
        bookmark = store.get_bookmark(cfg.get("bookmark_name") or "writeback")
    if bookmark:
        state.write_text(json.dumps(bookmark))
        tap_cmd += ["--state", str(state)]
    out_dir = Path(cfg["output_dir"])
    if (out_dir / "summary.json").exists():
        (out_dir / "summary.json").unlink()
    proc_env = {**os.environ, **(env or {})}
    tap = subprocess.Popen(tap_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=proc_env)
    target = subprocess.Popen([TARGET, "--config", str(target_cfg), *args], stdin=tap.stdout,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=proc_env)
    assert tap.stdout is not None
    tap.stdout.close()
    out, err = target.communicate(timeout=300)
    tap_err = tap.stderr.read() if tap.stderr else b""
    tap.wait(timeout=60)
    summary = json.loads((out_dir / "summary.json").read_text()) if (out_dir / "summary.json").exists() else {}
    return PipeRun(tap.returncode, target.returncode, out.decode(), err.decode() + tap_err.decode(), summary)


def queue_rows(db: Path | str) -> list[dict[str, Any]]:
    with Store.open(db) as store, store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(writeback_queue)).mappings()]


def state_rows(db: Path | str) -> dict[str, dict[str, Any]]:
    with Store.open(db) as store, store.engine.connect() as conn:
        return {r["key_value"]: dict(r) for r in conn.execute(sa.select(writeback_state)).mappings()}


def audit_rows(db: Path | str) -> list[dict[str, Any]]:
    with Store.open(db) as store, store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(audit_log).where(audit_log.c.action == "write")).mappings()]


def golden_scores(db: Path | str) -> dict[str, dict[str, Any]]:
    """Account Id -> the golden customer's data, for the accounts the crosswalk links."""
    from sync.store.schema import crosswalk, golden

    with Store.open(db) as store, store.engine.connect() as conn:
        rows = conn.execute(sa.select(crosswalk.c.source_id, golden.c.data).select_from(
            crosswalk.join(golden, golden.c.golden_id == crosswalk.c.golden_id)).where(
            crosswalk.c.source_system == "salesforce", crosswalk.c.source_object == "Account",
            golden.c.merged_into.is_(None)))
        return {sid: data for sid, data in rows}


def golden_ids(db: Path | str) -> dict[str, str]:
    """Account Id -> golden id, from the crosswalk."""
    from sync.store.schema import crosswalk

    with Store.open(db) as store, store.engine.connect() as conn:
        return dict(conn.execute(sa.select(crosswalk.c.source_id, crosswalk.c.golden_id).where(
            crosswalk.c.source_system == "salesforce", crosswalk.c.source_object == "Account")).all())


def iter_fields(account: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for name in WRITEBACK_FIELDS:
        yield name, account.get(name)


def expected(db: Path | str) -> dict[str, dict[str, object]]:
    """What each linked Account should hold, from the golden records enrich wrote."""
    out = {}
    for sid, data in golden_scores(db).items():
        scores = data["scores"]
        out[sid] = {"CRM2_Tier__c": data["tier"], "CRM2_Lifecycle_Stage__c": data["lifecycle_stage"],
                    "CRM2_Health_Score__c": scores["health"]["value"],
                    "CRM2_Churn_Risk__c": scores["churn_risk"]["value"],
                    "CRM2_CLV__c": Decimal(scores["clv"]["value"]),
                    "CRM2_Forecast__c": Decimal(scores["forecast"]["value"])}
    return out


def assert_accounts_match(db: Path | str, org: Org) -> None:
    accounts = org.accounts()
    want = expected(db)
    assert want, "the store links no Salesforce Account"
    for sid, fields in want.items():
        got = accounts[sid]
        for name, value in fields.items():
            assert got[name] == value, (sid, name, got[name], value)
        assert got["CRM2_Scored_At__c"].startswith("2026-11-01T00:00:00")
