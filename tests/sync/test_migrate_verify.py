"""`crm2 migrate plan`, `run` and `verify` end to end on the real stand-ins (Salesforce over HTTPS,
the sales REST API, the finance ledger): every source record is accounted for, and a record
dropped behind crm2's back makes verify fail and name it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_migrate_support import Org, copy_store, crm2, execute, rows, start_org

from sync.store import Store


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    org = start_org(tmp_path_factory.mktemp("migrate-verify"))
    try:
        result = crm2(org, "migrate", "run", "--config", org.config)
        assert result.returncode in (0, 3), result.stderr  # 3: some records quarantined, with reasons
        yield org
    finally:
        org.stop()


def _verify(org: Org, config: Path, *args: str) -> tuple[int, dict]:
    result = crm2(org, "migrate", "verify", "--config", config, "--json", *args)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def _objects(report: dict) -> dict[str, dict]:
    return {f"{o['source']}/{o['name']}": o for o in report["objects"]}


def test_plan_counts_what_the_source_holds_and_what_the_mapping_misses(org: Org):
    result = crm2(org, "migrate", "plan", "--config", org.config, "--json")
    assert result.returncode == 0, result.stderr
    plans = {p["source"]: p for p in json.loads(result.stdout)}
    sf = org.handles["salesforce"].server
    contacts = sf.records("Contact")
    objects = {o["name"]: o for o in plans["salesforce"]["objects"]}
    assert objects["Contact"]["records"] == len(contacts)
    assert objects["Account"]["deleted"] == sum(1 for r in sf.records("Account") if r["IsDeleted"])
    assert objects["Contact"]["in_crm2"] and sum(objects["Contact"]["in_crm2"].values()) == len(contacts)
    assert "order_lines" in plans["sales"]["unmapped_streams"]  # nothing maps it: the team must decide
    streams = {s["name"]: s for s in plans["sales"]["streams"]}
    assert "channel" in streams["orders"]["unmapped_fields"]
    assert plans["salesforce"]["errors"] == []
    with Store.open(org.store) as store:
        recorded = store.runs(1)[0]  # counts only, for the console's Migration page
    assert recorded.command == "migrate-plan" and recorded.status == "ok"
    assert recorded.counts["plan"]["salesforce"]["objects"]["Contact"]["records"] == len(contacts)


def test_migration_accounts_for_every_source_record(org: Org, tmp_path: Path):
    html = tmp_path / "reconciliation.html"
    code, report = _verify(org, org.config, "--html", str(html))
    assert code == 0 and report["ok"], report["totals"]
    objects = _objects(report)
    sf = org.handles["salesforce"].server
    for name in ("Account", "Contact", "Opportunity", "Case", "Task", "Event", "Survey_Response__c"):
        o = objects[f"salesforce/{name}"]
        assert o["source_count"] == len(sf.records(name))  # queryAll: deleted rows are source records too
        assert o["source_count"] == o["loaded"] + o["merged"] + o["quarantined"] + o["deleted"] + o["erased"]
        assert o["unexplained"] == 0 and o["adds_up"]
    for o in objects.values():
        assert o["unexplained"] == 0 and o["mismatched"] == 0 and o["gone"] == 0
        assert o["sampled"] == min(300, o["loaded"] + o["merged"])  # the whole default sample was compared
    assert objects["salesforce/Account"]["deleted"] > 0 and objects["salesforce/Account"]["merged"] > 0
    assert objects["salesforce/Contact"]["quarantined"] > 0  # held with a reason, not lost
    assert report["unmapped_streams"][0]["stream"] == "order_lines"
    page = html.read_text()
    assert 'id="reconciliation"' in page and "every source record is accounted for" in page
    assert "<script" not in page and "http" not in page.split("</style>")[1]  # self-contained
    (verify_run,) = rows(org.store, "SELECT status FROM runs WHERE command = 'migrate-verify' AND run_id = :r",
                         r=report["run_id"])
    assert verify_run.status == "ok"


def test_a_record_dropped_behind_crm2s_back_fails_verify_by_name(org: Org, tmp_path: Path):
    store = copy_store(org.store, tmp_path / "dropped.sqlite")
    ((victim,),) = rows(store, "SELECT source_id FROM crosswalk WHERE source_system = 'salesforce' AND "
                               "source_object = 'Contact' AND status = 'loaded' ORDER BY source_id LIMIT 1")
    for table in ("staging", "crosswalk"):
        assert execute(store, f"DELETE FROM {table} WHERE source_system = 'salesforce' AND source_object = 'Contact' "
                              "AND source_id = :i", i=victim) == 1
    config = org.config_for(store, "dropped")
    result = crm2(org, "migrate", "verify", "--config", config, "--source", "salesforce")
    assert result.returncode == 1, result.stderr
    assert f"unexplained salesforce/Contact/{victim}: not in crm2" in result.stdout
    assert "FAILED: 1 unexplained records" in result.stdout
    code, report = _verify(org, config, "--source", "salesforce")
    contact = _objects(report)["salesforce/Contact"]
    assert code == 1 and contact["unexplained"] == 1 and not contact["adds_up"]
    assert [n["ref"] for n in contact["unexplained_refs"]] == [f"salesforce/Contact/{victim}"]
    assert sum(o["unexplained"] for o in report["objects"]) == 1  # nothing else is blamed


def test_a_staged_value_that_differs_from_the_source_is_named_without_its_value(org: Org, tmp_path: Path):
    store = copy_store(org.store, tmp_path / "edited.sqlite")
    ((sid, data),) = rows(store, "SELECT source_id, data FROM staging WHERE source_system = 'finance' AND "
                                 "source_object = 'credit_notes' ORDER BY source_id LIMIT 1")
    data = json.loads(data)
    data["amount"] = "123456.78"
    execute(store, "UPDATE staging SET data = :d WHERE source_system = 'finance' AND source_object = 'credit_notes' "
                   "AND source_id = :i", d=json.dumps(data), i=sid)
    result = crm2(org, "migrate", "verify", "--config", org.config_for(store, "edited"), "--source", "finance")
    assert result.returncode == 1, result.stderr
    assert f"mismatch finance/credit_notes/{sid}: fields differ: amount" in result.stdout
    assert "123456.78" not in result.stdout + result.stderr


def test_crosswalk_rows_the_source_no_longer_has_are_listed(org: Org, tmp_path: Path):
    store = copy_store(org.store, tmp_path / "ghost.sqlite")
    execute(store, "INSERT INTO crosswalk (source_system, source_object, source_id, entity, content_hash, status, "
                   "updated_at) VALUES ('sales', 'orders', 'SO-GHOST', 'order', 'x', 'loaded', '2026-01-01')")
    code, report = _verify(org, org.config_for(store, "ghost"), "--source", "sales")
    orders = _objects(report)["sales/orders"]
    assert orders["gone"] == 1 and orders["gone_refs"] == ["sales/orders/SO-GHOST"]
    assert code == 0  # in crm2 but gone from source is reported, not a loss


def test_unknown_source_is_a_usage_error(org: Org):
    result = crm2(org, "migrate", "verify", "--config", org.config, "--source", "salesfroce")
    assert result.returncode == 2
    assert "no extractor named 'salesfroce'" in result.stderr and "did you mean 'salesforce'" in result.stderr
