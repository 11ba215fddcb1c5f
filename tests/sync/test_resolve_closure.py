"""Re-clustering only the closure of a run's changes gives what re-clustering every record gives.

Two stores get the same records, edits and people's decisions; one resolves each run on the
closure (``local_share=1.0``: whenever it is safe), the other over every record
(``local_share=0.0``). After every run their crosswalks (golden ids, statuses), golden records
(data, merged_into), merge/retire audit and reported sizes must be identical: golden id
stability is the product's contract, and the closure is only a shortcut to the same answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from test_resolve_evidence import USCC_A, USCC_B
from test_resolve_golden import ACME, ALL, CONFIG, LONER, rec

import synthetic
from sync.mapping import Deleted, Mapped, load_mapping
from sync.mapping.staging import staged_record
from sync.resolve import confirm, load_match_config, reject, resolve, unmerge
from sync.resolve.spec import MatchConfig
from sync.shipped import MAPPINGS
from sync.store.schema import audit_log, crosswalk, golden, staging
from sync.store.store import StagedRecord, Store

BACKGROUND = 150  # synthetic customers (and their contacts): clusters no scenario touches


@pytest.fixture(scope="module")
def config() -> MatchConfig:
    return load_match_config(CONFIG)


def synthetic_records() -> list[StagedRecord]:
    mappings = {system: load_mapping(MAPPINGS / f"{system}.yml") for system in ("salesforce", "finance", "sales")}
    out = []
    for system, obj, record in synthetic.generate(BACKGROUND, 42, objects={"Account", "Contact", "customers",
                                                                           "accounts"}):
        for plan in mappings[system].plans_for(obj) if system in mappings else ():
            result = mappings[system].apply(plan.name, record)
            if isinstance(result, Mapped | Deleted):
                out.append(staged_record(result, plan.entity.entity))
    return out


def account(source_id: str, **data: Any) -> StagedRecord:
    return StagedRecord("salesforce", "Account", source_id, "customer", {"country": "GB", **data})


def contact(source_id: str, customer: str, first: str, last: str) -> StagedRecord:
    return StagedRecord("salesforce", "Contact", source_id, "contact",
                        {"customer": customer, "first_name": first, "last_name": last})


def snapshot(store: Store) -> dict[str, Any]:
    with store.engine.connect() as conn:
        return {
            "crosswalk": sorted(tuple(r) for r in conn.execute(sa.select(
                crosswalk.c.source_system, crosswalk.c.source_object, crosswalk.c.source_id,
                crosswalk.c.golden_id, crosswalk.c.status))),
            "golden": sorted((r.golden_id, r.entity, repr(r.data), r.merged_into) for r in conn.execute(
                sa.select(golden))),
            "audit": [(r.action, r.object, r.record_id, repr(r.new)) for r in conn.execute(
                sa.select(audit_log).where(audit_log.c.action.in_(("merge", "retire"))).order_by(audit_log.c.id))],
        }


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)
    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)


class Twins:
    """The same operations on two stores; resolve on one by closure, on the other by everything."""

    def __init__(self, folder: Path, config: MatchConfig) -> None:
        self.local = Store.open(str(folder / "local.sqlite"))
        self.full = Store.open(str(folder / "full.sqlite"))
        self.config = config
        self.full_reads = 0  # runs of the closure store that read every link of the entity

    def both(self, action: Callable[[Store], Any]) -> None:
        for store in (self.local, self.full):
            action(store)

    def stage(self, records: list[StagedRecord]) -> None:
        def do(store: Store) -> None:
            with store.begin() as conn:
                store.stage(conn, records, None)
        self.both(do)

    def resolve(self) -> None:
        for entity in ("customer", "contact"):
            with statements(self.local) as seen:
                local = resolve(self.local, self.config, entity, "run", local_share=1.0)
            self.full_reads += any("ORDER BY match_pairs.weight DESC" in s for s in seen)
            full = resolve(self.full, self.config, entity, "run", local_share=0.0)
            assert local == full, entity
        assert snapshot(self.local) == snapshot(self.full)


def staged_data(store: Store, system: str, obj: str, source_id: str) -> dict[str, Any]:
    with store.engine.connect() as conn:
        return dict(conn.execute(sa.select(staging.c.data).where(
            staging.c.source_system == system, staging.c.source_object == obj,
            staging.c.source_id == source_id)).scalar_one())


def test_closure_and_full_recluster_agree_run_after_run(tmp_path: Path, config: MatchConfig) -> None:
    twins = Twins(tmp_path, config)
    employers = [account("E1", name="Acme Widgets", domain="acmewidgets.com"),
                 account("E2", name="Zenith Widgets", domain="zenith.com"),
                 contact("P1", "E1", "Anna", "Laurent"), contact("P2", "E2", "Anna", "Laurent")]
    twins.stage(synthetic_records() + ALL + employers)
    twins.resolve()  # a first run: the full path on both
    first_full_reads = twins.full_reads

    # clusters merge: the loner becomes Acme
    twins.stage([rec("sales", "ACC-9", name="Acme Ltd", domain="acme.com", country="GB")])
    twins.resolve()
    # a cluster splits: the finance record of Acme is another company now
    twins.stage([rec("finance", "C002", name="Zebra Holdings", domain="zebra.io", email="ap@zebra.io",
                     country="GB")])
    twins.resolve()
    # a record deleted at source leaves its golden record
    twins.stage([StagedRecord("salesforce", "Account", "001A", "customer", {}, deleted=True)])
    twins.resolve()
    # people's decisions, made outside any run and moving no record
    twins.both(lambda s: unmerge(s, "sales/accounts/ACC-1", reason="another branch"))
    twins.resolve()
    twins.both(lambda s: confirm(s, "finance/customers/C002", "salesforce/Account/001B"))
    twins.resolve()
    twins.both(lambda s: reject(s, "sales/accounts/ACC-9", "salesforce/Account/001B"))
    twins.resolve()
    # a veto cluster: a record chains two legal entities; later its switchboard changes
    twins.stage([
        StagedRecord("finance", "customers", "V1", "customer",
                     {"name": "华腾科技有限公司", "tax_id": USCC_A, "domain": "huateng.com.cn"}),
        StagedRecord("sales", "accounts", "V2", "customer",
                     {"name": "华腾科技", "domain": "huateng.com.cn", "phone": "+862162881234"}),
        StagedRecord("salesforce", "Account", "V3", "customer",
                     {"name": "华腾科技有限公司", "tax_id": USCC_B, "phone": "+862162881234"})])
    twins.resolve()
    twins.stage([StagedRecord("sales", "accounts", "V2", "customer",
                              {"name": "华腾科技", "domain": "huateng.com.cn", "phone": "+862162889999"})])
    twins.resolve()
    # contacts whose employer moved: the second employer is corrected to the first company
    twins.stage([account("E2", name="Acme Widgets Ltd", domain="acmewidgets.com")])
    twins.resolve()
    # and a few background records edited, as a nightly run sees them
    edited = []
    for r in synthetic_records()[::40]:
        data = staged_data(twins.local, r.source_system, r.source_object, r.source_id)
        field = "name" if r.entity == "customer" else "last_name"
        edited.append(StagedRecord(r.source_system, r.source_object, r.source_id, r.entity,
                                   {**data, field: f"{data.get(field) or ''} (edited)"}))
    twins.stage(edited)
    twins.resolve()
    # the closure store really took the closure after the first run (two entities a run)
    assert twins.full_reads == first_full_reads == 2

    # an unmerge of Acme again, then records merged back by an edit: ids come back, not new ones
    twins.both(lambda s: unmerge(s, "salesforce/Account/001B"))
    twins.resolve()
    twins.stage([rec("finance", "C002", **ACME[1].data), *LONER])
    twins.resolve()


def test_an_erasure_sends_the_next_run_through_every_record(tmp_path: Path, config: MatchConfig) -> None:
    from sync.resolve.engine import _may_stay_local
    from sync.store.store import AuditEntry

    store = Store.open(str(tmp_path / "s.sqlite"))
    with store.begin() as conn:
        store.stage(conn, ALL, None)
    resolve(store, config, "customer")
    with store.begin() as conn:
        rules = config.rules_for("customer")
        assert _may_stay_local(store, conn, "customer", rules, None)
        # what crm2 erase leaves behind: its audit entry (the records it dropped are gone already)
        store.audit(conn, [AuditEntry("erase", "crm2", "staging", "x", None, None, None)], None)
        assert not _may_stay_local(store, conn, "customer", rules, None)
        assert _may_stay_local(store, conn, "customer", rules, None)  # once: the mark is kept
