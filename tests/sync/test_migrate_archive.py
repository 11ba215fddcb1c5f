"""`crm2 migrate archive`: every raw record of the retired system and crm2's crosswalk, as JSONL
(gzip) or Parquet, with a manifest of SHA-256 checksums that `--check` recomputes."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from test_migrate_support import Org, crm2, rows, start_org

from sync.migrate.archive_files import Manifest, read_rows
from sync.shipped import MAPPINGS
from sync.store import Store


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    org = start_org(tmp_path_factory.mktemp("migrate-archive"), sources=("salesforce", "sales"))
    try:
        result = crm2(org, "migrate", "run", "--config", org.config)
        assert result.returncode in (0, 3), result.stderr
        yield org
    finally:
        org.stop()


@pytest.fixture(scope="module")
def jsonl(org: Org, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("archives") / "jsonl"
    result = crm2(org, "migrate", "archive", "--config", org.config, "--out", out, "--gzip")
    assert result.returncode == 0, result.stderr
    return out


def _entries(folder: Path) -> dict[str, object]:
    return {(e.source, e.stream or e.kind): e for e in Manifest.load(folder).files}


def test_archive_holds_every_raw_record_and_the_crosswalk(org: Org, jsonl: Path):
    manifest = Manifest.load(jsonl)
    entries = _entries(jsonl)
    sf = org.handles["salesforce"].server
    contacts = sf.records("Contact")
    archived = list(read_rows(jsonl, entries[("salesforce", "Contact")]))
    assert entries[("salesforce", "Contact")].rows == len(archived) == len(contacts)
    assert {r["Id"] for r in archived} == {r["Id"] for r in contacts}  # deleted rows too (queryAll)
    assert set(archived[0]) >= {"Id", "FirstName", "LastName", "Email", "IsDeleted", "SystemModstamp"}
    assert "order_lines" in manifest.sources["sales"]["streams"]  # unmapped streams are archived as well
    ((crosswalk_rows,),) = rows(org.store, "SELECT count(*) FROM crosswalk WHERE source_system = 'salesforce'")
    xw = list(read_rows(jsonl, entries[("salesforce", "crosswalk")]))
    assert len(xw) == crosswalk_rows and {"source_id", "golden_id", "status"} <= set(xw[0])
    assert manifest.run_id and manifest.migration_run_id and manifest.crm2_version and manifest.encoding == "jsonl.gz"
    assert manifest.sources["salesforce"]["streams"]["Contact"]["key_properties"] == ["Id"]
    org_amounts = {r["Id"]: r["Amount"] for r in sf.records("Opportunity") if r["Amount"] is not None}
    amounts = {r["Id"]: r["Amount"] for r in read_rows(jsonl, entries[("salesforce", "Opportunity")])
               if r["Amount"] is not None}
    assert amounts.keys() == org_amounts.keys()
    assert all(Decimal(str(amounts[i])) == Decimal(str(v)) for i, v in org_amounts.items())  # exact, never a float
    assert oct((jsonl / "salesforce" / "Contact.jsonl.gz").stat().st_mode)[-3:] == "600"
    check = crm2(org, "migrate", "archive", "--check", jsonl)
    assert check.returncode == 0 and "intact" in check.stderr, check.stdout + check.stderr
    recorded = crm2(org, "migrate", "archive", "--check", jsonl, "--config", org.config)
    assert recorded.returncode == 0, recorded.stderr
    with Store.open(org.store) as store:
        run = store.runs(1)[0]
    assert run.command == "migrate-archive-check" and run.status == "ok"  # the console's Migration page shows it
    assert run.counts["files"] == len(manifest.files) and run.counts["problems"] == []


def test_archives_are_reproducible(org: Org, jsonl: Path, tmp_path: Path):
    again = tmp_path / "again"
    assert crm2(org, "migrate", "archive", "--config", org.config, "--out", again, "--gzip").returncode == 0
    first, second = _entries(jsonl), _entries(again)
    assert {k: e.sha256 for k, e in first.items()} == {k: e.sha256 for k, e in second.items()}


def test_a_tampered_or_missing_file_is_detected(org: Org, jsonl: Path, tmp_path: Path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in jsonl.rglob("*"):
        if path.is_file():
            target = copy / path.relative_to(jsonl)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    contact = copy / "salesforce" / "Contact.jsonl.gz"
    lines = gzip.decompress(contact.read_bytes()).splitlines()
    record = json.loads(lines[0])
    record["LastName"] = "Tampered"
    contact.write_bytes(gzip.compress(b"\n".join([json.dumps(record).encode(), *lines[1:]]) + b"\n"))
    (copy / "sales" / "orders.jsonl.gz").unlink()
    (copy / "sales" / "extra.jsonl").write_text("{}\n")
    result = crm2(org, "migrate", "archive", "--check", copy)
    assert result.returncode == 1
    assert "salesforce/Contact.jsonl.gz: SHA-256 does not match" in result.stdout
    assert "sales/orders.jsonl.gz: missing" in result.stdout
    assert "sales/extra.jsonl: not listed in the manifest" in result.stdout


def test_parquet_archive_reads_back_the_same_records(org: Org, jsonl: Path, tmp_path: Path):
    out = tmp_path / "parquet"
    result = crm2(org, "migrate", "archive", "--config", org.config, "--out", out, "--format", "parquet",
                  "--source", "sales")
    assert result.returncode == 0, result.stderr
    entry = _entries(out)[("sales", "accounts")]
    assert entry.path.endswith(".parquet") and entry.columns and entry.columns["contact"] == "json"
    parquet = {r["id"]: r for r in read_rows(out, entry)}
    original = {r["id"]: r for r in read_rows(jsonl, _entries(jsonl)[("sales", "accounts")])}
    assert parquet == original  # nested contact person included
    assert crm2(org, "migrate", "archive", "--check", out).returncode == 0


def test_archive_refuses_to_write_over_an_existing_archive(org: Org, jsonl: Path):
    result = crm2(org, "migrate", "archive", "--config", org.config, "--out", jsonl)
    assert result.returncode == 2 and "not empty" in result.stderr
    not_archive = crm2(org, "migrate", "archive", "--check", jsonl / "salesforce")
    assert not_archive.returncode == 2 and "not a crm2 archive" in not_archive.stderr


def test_a_failing_tap_leaves_no_half_archive(org: Org, tmp_path: Path):
    config = tmp_path / "broken.yml"
    config.write_text(org.config.read_text() + f"  - {{name: finance, tap: tap-crm2-finance, mapping: "
                                               f"{MAPPINGS / 'finance.yml'}, config: {{url: 'sqlite:////no/such.db'}}}}\n")
    out = tmp_path / "out"
    result = crm2(org, "migrate", "archive", "--config", config, "--out", out)
    assert result.returncode == 1 and "tap-crm2-finance exited" in result.stderr, result.stderr
    assert not out.exists()
    (status,) = rows(org.store, "SELECT status FROM runs WHERE command = 'migrate-archive' "
                                "ORDER BY started_at DESC LIMIT 1")[0]
    assert status == "failed"
