"""The store adapter: activity reaches its golden customer through the crosswalk, scores land in golden.data."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from sync.enrich import ScoringRules
from sync.enrich.explain import explain_lines
from sync.enrich.rules import ThresholdSpec, TierSpec
from sync.enrich.store_io import StoreActivity, enrich_store, read_scores
from sync.model import GoldenCustomer
from sync.store.schema import crosswalk, golden, staging
from sync.store.store import Store

AS_OF = date(2026, 11, 1)
STAMP = datetime(2026, 10, 1, tzinfo=UTC)


def stage(conn, system, obj, sid, entity, data, *, deleted=False, golden_id=None, status="loaded"):
    ref = {"source_system": system, "source_object": obj, "source_id": sid}
    conn.execute(staging.insert().values(**ref, entity=entity, data=data, content_hash="h", deleted=deleted,
                                         updated_at=STAMP))
    conn.execute(crosswalk.insert().values(**ref, entity=entity, golden_id=golden_id, content_hash="h",
                                           status=status, updated_at=STAMP))


def gold(conn, gid, data, merged_into=None):
    conn.execute(golden.insert().values(golden_id=gid, entity="customer", data=data, merged_into=merged_into,
                                        created_at=STAMP, updated_at=STAMP))


def order(customer, total, when="2026-09-01T10:00:00Z", **extra):
    return {"customer": customer, "ordered_at": when, "total": total, "currency": "EUR", **extra}


def populate(store: Store) -> None:
    with store.begin() as conn:
        gold(conn, "G1", {"name": "One", "kind": "partner", "sources": []})
        gold(conn, "G2", {"name": "Two"})
        gold(conn, "G3", {"name": "Three, merged"}, merged_into="G1")
        # customer records: G1 is known to salesforce and finance; G2 to sales; ACC-3 still points at G3
        stage(conn, "salesforce", "Account", "001A", "customer",
              {"name": "One", "created_at": "2023-01-15T00:00:00Z"}, golden_id="G1")
        stage(conn, "finance", "customers", "C1", "customer",
              {"name": "One", "created_at": "2022-06-01T00:00:00Z"}, golden_id="G1", status="merged")
        stage(conn, "sales", "accounts", "ACC-2", "customer", {"name": "Two"}, golden_id="G2")
        stage(conn, "sales", "accounts", "ACC-3", "customer", {"name": "Three"}, golden_id="G3")
        # activity names its customer by the customer's id in the same system
        stage(conn, "sales", "orders", "SO-1", "order", order("ACC-2", "100.00"))
        stage(conn, "sales", "orders", "SO-3", "order", order("ACC-3", "250.50", cost="50.50"))
        stage(conn, "finance", "invoices", "INV-1", "invoice",
              {"customer": "C1", "issued_on": "2026-08-01", "due_on": "2026-08-31", "amount": "300.00",
               "currency": "EUR", "status": "open"})
        stage(conn, "salesforce", "Case", "500X", "service_case",
              {"customer": "001A", "opened_at": "2026-10-01T08:00:00Z", "complaint": True, "priority": "high"})
        # rows that must not count
        stage(conn, "sales", "orders", "SO-DEL", "order", order("ACC-2", "999.00"), deleted=True)
        stage(conn, "sales", "orders", "SO-Q", "order", order("ACC-2", "999.00"), status="quarantined")
        stage(conn, "sales", "orders", "SO-BAD", "order", {"customer": "ACC-2", "currency": "EUR"})
        stage(conn, "sales", "orders", "SO-X", "order", order("C1", "999.00"))  # a finance id, not a sales one
        stage(conn, "sales", "orders", "SO-404", "order", order("ACC-404", "999.00"))


def check_store(store: Store) -> None:
    populate(store)
    reader = StoreActivity(store.engine)
    customers = {a.golden_id: a for a in reader}
    assert sorted(customers) == ["G1", "G2"]
    one, two = customers["G1"], customers["G2"]
    assert [o.source.id for o in one.orders] == ["SO-3"]           # through ACC-3 -> G3 -> merged into G1
    assert one.orders[0].total == Decimal("250.50")
    assert [i.source.id for i in one.invoices] == ["INV-1"]
    assert [c.source.id for c in one.cases] == ["500X"] and one.cases[0].complaint
    assert one.kind == "partner"
    assert one.created_at == datetime(2022, 6, 1, tzinfo=UTC)        # the oldest source record
    assert [o.source.id for o in two.orders] == ["SO-1"]
    assert reader.stats.skipped == {"order: does not parse": 1, "order: customer reference not in the crosswalk": 2}
    assert list(StoreActivity(store.engine)) != []                     # re-iterable for the two passes

    summary = enrich_store(store.engine, ScoringRules(), AS_OF, run_id="run-1")
    assert summary.customers == 2
    assert summary.tiers == {"A": 2}  # 250.50 and 100.00: 100 starts at 71% of the total, below 80%
    assert (summary.written.updated, summary.written.unchanged) == (2, 0)
    assert summary.forecast_total == Decimal("350.50")
    with store.engine.connect() as conn:
        data = {gid: d for gid, d in conn.execute(sa.select(golden.c.golden_id, golden.c.data))}
        run_ids = set(conn.execute(sa.select(golden.c.run_id).where(golden.c.golden_id.in_(["G1", "G2"]))).scalars())
    record = GoldenCustomer.model_validate({"golden_id": "G1", **data["G1"]})
    assert record.tier == "A"
    reasons = record.scores["churn_risk"].reasons
    # invoice 62 days overdue: 62/90 of 20 = 13.78; one open complaint: half of 15 = 7.5
    assert [(r.factor, r.contribution) for r in reasons[:2]] == [("overdue_invoices", 13.78), ("open_complaints", 7.5)]
    assert record.scores["forecast"].value == "250.50"
    assert data["G1"]["name"] == "One"                                  # other fields untouched
    assert "tier" not in data["G3"]                                     # merged records are not scored
    assert run_ids == {"run-1"}

    again = enrich_store(store.engine, ScoringRules(), AS_OF, run_id="run-2")
    assert (again.written.updated, again.written.unchanged) == (0, 2)

    live, stored = read_scores(store.engine, "G3")                     # a merged id explains its survivor
    assert live == "G1"
    lines = explain_lines(stored)
    assert lines[0] == "tier A, lifecycle stable"                      # customer since 2022, no rule matches
    assert read_scores(store.engine, "NOPE") is None

    # a tier measure outside revenue makes pass one read every entity, not just orders
    by_invoices = ScoringRules(tier=TierSpec(measure="open_invoices_amount", method="thresholds",
                                             thresholds=ThresholdSpec(A=Decimal(300), B=Decimal(1))))
    assert enrich_store(store.engine, by_invoices, AS_OF).tiers == {"A": 1, "C": 1}
    assert read_scores(store.engine, "G1")[1]["tier"] == "A"


def test_store_adapter_sqlite(tmp_path):
    with Store.open(tmp_path / "crm2.sqlite") as store:
        check_store(store)


@pytest.mark.postgres
def test_store_adapter_postgres(fresh_postgres_db):
    with Store.open(fresh_postgres_db) as store:
        check_store(store)
