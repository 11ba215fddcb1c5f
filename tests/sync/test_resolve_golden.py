"""Golden records in the store: stable ids, incremental merges, unmerge, review, explain."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sync.resolve import confirm, explain, load_match_config, pending, reject, resolve, unmerge
from sync.resolve.spec import MatchConfig
from sync.store.schema import audit_log, crosswalk, golden
from sync.store.store import StagedRecord, Store
from sync.yamlconf import ConfigError

CONFIG = Path(__file__).resolve().parents[2] / "config" / "match.yml"


@pytest.fixture(scope="module")
def config() -> MatchConfig:
    return load_match_config(CONFIG)


def rec(system: str, source_id: str, **data: Any) -> StagedRecord:
    obj = {"salesforce": "Account", "finance": "customers", "sales": "accounts"}[system]
    return StagedRecord(system, obj, source_id, "customer", data)


HUAWEI = [
    rec("salesforce", "001A", name="北京華為科技有限公司", phone="+861062345678", country="CN",
        updated_at="2026-01-01T00:00:00Z"),
    rec("finance", "C001", name="北京华为科技", phone="010 6234 5678", country="CN", tax_id="91350100M000100Y43",
        email="ap@huawei-bj.cn", updated_at="2026-03-01T00:00:00Z"),
    rec("sales", "ACC-1", name="Beijing Huawei Keji Co., Ltd.", phone="+86 10 6234 5678", country="CN"),
]
ACME = [
    rec("salesforce", "001B", name="Acme Ltd", domain="acme.com", country="GB"),
    rec("finance", "C002", name="ACME Limited", domain="https://www.acme.com", email="ap@acme.com", country="GB"),
]
LONER = [rec("sales", "ACC-9", name="Initech", email="bill@initech.com", country="US")]
ALL = HUAWEI + ACME + LONER


def stage(store: Store, records: list[StagedRecord]) -> None:
    with store.begin() as conn:
        store.stage(conn, records, None)


def ids(store: Store) -> dict[str, tuple[str | None, str]]:
    with store.engine.connect() as conn:
        return {f"{r.source_system}/{r.source_object}/{r.source_id}": (r.golden_id, r.status)
                for r in conn.execute(sa.select(crosswalk))}


def gid(store: Store, ref: str) -> str:
    found = ids(store)[ref][0]
    assert found is not None
    return found


def active_golden(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(sa.select(golden.c.golden_id).where(golden.c.merged_into.is_(None))).scalars())


def test_matching_records_share_one_golden_and_every_record_is_accounted_for(tmp_path: Path,
                                                                              config: MatchConfig) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    stage(store, ALL)
    result = resolve(store, config, "customer")
    assert (result.records, result.golden) == (6, 3)
    got = ids(store)
    assert len({got[f"{r.source_system}/{r.source_object}/{r.source_id}"][0] for r in HUAWEI}) == 1
    assert len({got[f"{r.source_system}/{r.source_object}/{r.source_id}"][0] for r in ACME}) == 1
    assert len({g for g, _ in got.values()}) == 3 == len(active_golden(store))
    # reconciliation: each golden has exactly one 'loaded' record, the rest are 'merged'
    statuses = sorted(s for _, s in got.values())
    assert statuses == ["loaded"] * 3 + ["merged"] * 3


def test_golden_ids_do_not_change_on_reload_or_in_another_order(tmp_path: Path, config: MatchConfig) -> None:
    first = Store.open(tmp_path / "a.sqlite")
    stage(first, ALL)
    resolve(first, config, "customer")
    before = ids(first)
    stage(first, ALL)  # the same data again: nothing to do, nothing changes
    again = resolve(first, config, "customer")
    assert (again.changed, again.pairs_scored, again.clusters_written) == (0, 0, 0)
    assert ids(first) == before
    for seed in (1, 2, 3):
        shuffled = ALL[:]
        random.Random(seed).shuffle(shuffled)
        other = Store.open(tmp_path / f"b{seed}.sqlite")
        for one in shuffled:  # one record per load: the worst order for an incremental resolver
            stage(other, [one])
        resolve(other, config, "customer")
        assert {k: v[0] for k, v in ids(other).items()} == {k: v[0] for k, v in before.items()}


def test_new_record_joins_existing_golden_without_rescoring_everything(tmp_path: Path,
                                                                        config: MatchConfig) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    stage(store, ALL)
    resolve(store, config, "customer")
    huawei = gid(store, "finance/customers/C001")
    stage(store, [rec("sales", "ACC-2", name="北京华为科技", tax_id="91350100M000100Y43", country="CN")])
    result = resolve(store, config, "customer")
    assert result.changed == 1 and result.pairs_scored <= 3
    assert gid(store, "sales/accounts/ACC-2") == huawei


def test_merge_keeps_the_oldest_id_and_is_audited(tmp_path: Path, config: MatchConfig) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    stage(store, [HUAWEI[0]])
    resolve(store, config, "customer")
    oldest = gid(store, "salesforce/Account/001A")
    # a record that only an unseen bridge connects to the first one
    stage(store, [rec("finance", "C777", name="Huawei Beijing", email="ap@huawei-bj.cn", country="CN")])
    resolve(store, config, "customer")
    younger = gid(store, "finance/customers/C777")
    assert younger != oldest
    stage(store, [HUAWEI[1]])  # same phone as 001A, same e-mail as C777: bridges both
    resolve(store, config, "customer")
    assert gid(store, "finance/customers/C777") == gid(store, "finance/customers/C001") == oldest
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(golden.c.merged_into).where(golden.c.golden_id == younger)).scalar() == oldest
        merges = conn.execute(sa.select(audit_log).where(audit_log.c.action == "merge")).all()
    assert [(m.record_id, m.new) for m in merges] == [(younger, oldest)]
    assert explain(store, younger).golden_id == oldest  # the old id still leads somewhere


def test_unmerge_stays_undone_on_later_runs(tmp_path: Path, config: MatchConfig) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    stage(store, ALL)
    resolve(store, config, "customer")
    huawei = gid(store, "finance/customers/C001")
    left = unmerge(store, "sales/accounts/ACC-1", reason="different branch")
    assert sorted(left) == ["finance/customers/C001", "salesforce/Account/001A"]
    resolve(store, config, "customer")
    split = gid(store, "sales/accounts/ACC-1")
    assert split != huawei and gid(store, "finance/customers/C001") == huawei
    # the record changes at source and a new bridging record arrives: still apart
    stage(store, [rec("sales", "ACC-1", name="Beijing Huawei Keji Co., Ltd.", phone="+86 10 6234 5678",
                      country="CN", email="ap@huawei-bj.cn"),
                  rec("sales", "ACC-3", name="北京华为科技", phone="+861062345678", country="CN")])
    resolve(store, config, "customer")
    assert gid(store, "sales/accounts/ACC-1") == split
    assert gid(store, "finance/customers/C001") == huawei != gid(store, "sales/accounts/ACC-1")
    assert ids(store)["sales/accounts/ACC-1"][1] == "loaded"


def test_explain_shows_sources_links_and_field_origins(tmp_path: Path, config: MatchConfig) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    stage(store, ALL)
    resolve(store, config, "customer")
    why = explain(store, gid(store, "finance/customers/C001"))
    assert [s["ref"] for s in why.sources] == ["finance/customers/C001", "sales/accounts/ACC-1",
                                               "salesforce/Account/001A"]
    assert why.links and all(link.decision == "match" for link in why.links)
    phone_levels = {lv["comparison"]: lv["level"] for lv in why.links[0].levels}
    assert phone_levels["phone"] == "same" and why.links[0].rule == "score"
    origin = {f.field: f for f in why.fields}
    # survivorship: name by source priority (salesforce first), tax id only finance has
    assert origin["name"].source == "salesforce/Account/001A" and origin["name"].rule == "source_priority"
    assert origin["tax_id"].source == "finance/customers/C001"
    assert origin["email"].value == "ap@huawei-bj.cn"


def test_rule_decides_and_is_named_in_explain(tmp_path: Path, config: MatchConfig) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    twins = [rec("salesforce", "001T", name="北京华为科技有限公司", tax_id="91350100M000100Y43", country="CN",
                 phone="+861062345678"),
             rec("finance", "C0T", name="北京华为科技有限公司", tax_id="91110108722613459U", country="CN",
                 phone="+861062345678")]
    stage(store, twins)
    resolve(store, config, "customer")
    assert gid(store, "salesforce/Account/001T") != gid(store, "finance/customers/C0T")


def test_review_band_confirm_and_reject(tmp_path: Path, config: MatchConfig) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    stage(store, [rec("salesforce", "001G", name="Globex Corporation", country="US"),
                  rec("finance", "C0G", name="Globex Corp", country="US"),
                  rec("sales", "ACC-G", name="Globex Corp.", country="US")])
    resolve(store, config, "customer")
    queue = pending(store, "customer")
    assert len(queue) == 3 and all(item.levels for item in queue)
    assert len({gid(store, r) for r in ("salesforce/Account/001G", "finance/customers/C0G")}) == 2
    confirm(store, "salesforce/Account/001G", "finance/customers/C0G")
    reject(store, "sales/accounts/ACC-G", "salesforce/Account/001G")
    reject(store, "sales/accounts/ACC-G", "finance/customers/C0G")
    assert pending(store, "customer") == []
    resolve(store, config, "customer")
    assert gid(store, "salesforce/Account/001G") == gid(store, "finance/customers/C0G")
    assert gid(store, "sales/accounts/ACC-G") != gid(store, "finance/customers/C0G")


def test_record_deleted_at_source_leaves_its_golden(tmp_path: Path, config: MatchConfig) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    stage(store, ALL)
    resolve(store, config, "customer")
    acme = gid(store, "salesforce/Account/001B")
    stage(store, [StagedRecord("finance", "customers", "C002", "customer", {"name": "ACME Limited"}, deleted=True)])
    result = resolve(store, config, "customer")
    assert result.removed == 1
    assert ids(store)["finance/customers/C002"][1] == "deleted"
    assert gid(store, "salesforce/Account/001B") == acme
    assert [s["ref"] for s in explain(store, acme).sources if s["status"] != "deleted"] == [
        "salesforce/Account/001B"]


def test_unknown_comparator_points_at_the_line(tmp_path: Path) -> None:
    bad = CONFIG.read_text().replace("comparator: person_name", "comparator: personname", 1)
    path = tmp_path / "match.yml"
    path.write_text(bad)
    with pytest.raises(ConfigError) as caught:
        load_match_config(path)
    line = next(i for i, text in enumerate(bad.splitlines(), 1) if "personname" in text)
    message = str(caught.value)
    assert f"match.yml:{line}:" in message and "did you mean 'person_name'" in message


@pytest.mark.postgres
def test_resolve_on_postgresql(fresh_postgres_db: str, config: MatchConfig) -> None:
    store = Store.open(fresh_postgres_db)
    try:
        stage(store, ALL)
        first = resolve(store, config, "customer")
        assert first.golden == 3
        before = ids(store)
        unmerge(store, "sales/accounts/ACC-1")
        resolve(store, config, "customer")
        assert ids(store)["sales/accounts/ACC-1"][0] != before["sales/accounts/ACC-1"][0]
    finally:
        store.close()


def test_contacts_resolve_with_their_own_rules(tmp_path: Path, config: MatchConfig) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    stage(store, [
        StagedRecord("salesforce", "Contact", "003A", "contact",
                     {"first_name": "Wei", "last_name": "Zhang", "email": "Wei.Zhang@acme.cn",
                      "phone": "+8613800138000"}),
        StagedRecord("sales", "accounts.contact", "ACC-1", "contact",
                     {"first_name": "Wei", "last_name": "Zhang", "email": "wei.zhang@acme.cn"}),
        StagedRecord("salesforce", "Contact", "003B", "contact",
                     {"first_name": "Wei", "last_name": "Zhang", "email": "wzhang@globex.com"}),
    ])
    result = resolve(store, config, "contact")
    assert result.golden == 2
    assert gid(store, "salesforce/Contact/003A") == gid(store, "sales/accounts.contact/ACC-1")
    assert gid(store, "salesforce/Contact/003A").startswith("CON-")
    assert gid(store, "salesforce/Contact/003B") != gid(store, "salesforce/Contact/003A")
