"""A record changed (or deleted) at the source after the migration run is reported by verify as
changed since load — not as a loss — and `crm2 migrate cutover` loads it and proves it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from test_migrate_support import Org, SalesforceRest, crm2, rows, start_org


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    org = start_org(tmp_path_factory.mktemp("migrate-cutover"), sources=("salesforce",))
    try:
        result = crm2(org, "migrate", "run", "--config", org.config)
        assert result.returncode in (0, 3), result.stderr
        yield org
    finally:
        org.stop()


def _staged(org: Org, obj: str, sid: str) -> dict:
    ((data,),) = rows(org.store, "SELECT data FROM staging WHERE source_system = 'salesforce' AND "
                                 "source_object = :o AND source_id = :i", o=obj, i=sid)
    return json.loads(data)


def test_changed_at_source_is_reported_and_cutover_loads_it(org: Org):
    ((contact,), (case,)) = (
        rows(org.store, "SELECT source_id FROM crosswalk WHERE source_object = 'Contact' AND status = 'loaded' "
                        "ORDER BY source_id LIMIT 1")[0],
        rows(org.store, "SELECT source_id FROM crosswalk WHERE source_object = 'Case' AND status = 'loaded' "
                        "ORDER BY source_id LIMIT 1")[0])
    rest = SalesforceRest(org)
    rest.update("Contact", contact, {"Title": "Chief Migration Officer"})
    rest.delete("Case", case)

    before = crm2(org, "migrate", "verify", "--config", org.config, "--json")
    assert before.returncode == 0, before.stderr  # a change at the source is not a loss
    objects = {o["name"]: o for o in json.loads(before.stdout)["objects"]}
    assert objects["Contact"]["changed_refs"] == [f"salesforce/Contact/{contact}"]
    assert objects["Case"]["changed_refs"] == [f"salesforce/Case/{case}"]
    assert objects["Contact"]["mismatched"] == 0 and objects["Contact"]["unexplained"] == 0
    text = crm2(org, "migrate", "verify", "--config", org.config)
    assert f"changed since load salesforce/Contact/{contact} (run cutover)" in text.stdout
    assert "Chief Migration Officer" not in text.stdout
    deleted_before = objects["Case"]["deleted"]

    cut = crm2(org, "migrate", "cutover", "--config", org.config, "--json")
    assert cut.returncode == 0, cut.stderr
    after = {o["name"]: o for o in json.loads(cut.stdout)["objects"]}
    assert all(o["changed"] == 0 and o["unexplained"] == 0 and o["mismatched"] == 0 for o in after.values())
    assert after["Case"]["deleted"] == deleted_before + 1
    assert _staged(org, "Contact", contact)["title"] == "Chief Migration Officer"
    commands = [r.command for r in rows(org.store, "SELECT command FROM runs ORDER BY started_at")]
    assert commands[0] == "migrate-run" and "migrate-cutover" in commands
