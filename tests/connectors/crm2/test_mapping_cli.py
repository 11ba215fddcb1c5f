"""`crm2 mapping test`, `crm2 mapping check` and the mapping checks of `crm2 validate`, run as the
installed console script: exit codes and one line per problem."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from target_crm2_support import ROOT

sys.path.insert(0, str(ROOT / "tests" / "connectors" / "finance"))

from finance_ledger_data import ledger_records

from connectors.finance.standin import write_ledger

CRM2 = str(Path(sys.executable).parent / "crm2")

GOOD = """\
source: shop
streams:
  clients:
    entity: customer
    key: id
    fields:
      name: {from: name, transform: [strip]}
      website: {from: web, transform: [strip, lower, domain]}
    examples:
      - input: {id: 1, name: " Acme ", web: "HTTPS://Acme.com/"}
        expect: {name: Acme, domain: acme.com}
"""


def crm2(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CRM2, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_mapping_test_runs_examples_and_shows_what_differs(tmp_path):
    good = tmp_path / "good.yml"
    good.write_text(GOOD.replace("website:", "domain:"))
    result = crm2("mapping", "test", str(good))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{good}:10:9: example clients[0]: ok", "1 passed, 0 failed"]

    wrong = tmp_path / "wrong.yml"
    wrong.write_text(GOOD.replace("website:", "domain:").replace("expect: {name: Acme,", "expect: {name: ACME,"))
    result = crm2("mapping", "test", str(good), str(wrong))
    assert result.returncode == 1
    assert f"{wrong}:10:9: example clients[0]: FAILED: name: expected 'ACME', got 'Acme'" in result.stdout
    assert result.stdout.splitlines()[-1] == "1 passed, 1 failed"


def test_mapping_test_reports_a_bad_file_with_its_position_and_exits_2(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(GOOD.replace("[strip, lower, domain]", "[strip, lowr, domain]"))
    result = crm2("mapping", "test", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"{bad}:8:7: unknown field 'website' for entity 'customer' (did you mean 'domain'?)",
    ]
    bad.write_text(GOOD.replace("website:", "domain:").replace("[strip, lower, domain]", "[strip, lowr, domain]"))
    result = crm2("mapping", "test", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"{bad}:8:46: unknown transform 'lowr' (did you mean 'lower'?)"]


def test_mapping_test_defaults_to_the_shipped_mappings():
    result = crm2("mapping", "test", cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mappings/finance.yml" in result.stdout and "writeback" not in result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].endswith("passed, 0 failed")


def _catalog(tmp_path: Path) -> Path:
    catalog = {"streams": [
        {"tap_stream_id": "clients", "schema": {"properties": {"id": {}, "name": {}, "web": {}, "vat": {}}}},
        {"tap_stream_id": "orders", "schema": {"properties": {"id": {}}}},
    ]}
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    return path


def test_mapping_check_finds_unknown_fields_with_a_suggestion(tmp_path):
    mapping = tmp_path / "shop.yml"
    mapping.write_text(GOOD.replace("website:", "domain:").replace("from: web,", "from: wbe,"))
    result = crm2("mapping", "check", str(mapping), "--catalog", str(_catalog(tmp_path)))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert f"{mapping}:8:22: stream 'clients' has no field 'wbe' (did you mean 'web'?)" in lines
    assert "shop.yml: unmapped fields in clients: web, vat" in lines
    assert "shop.yml: streams not mapped: orders" in lines


def test_mapping_check_reports_an_unmapped_required_field(tmp_path):
    mapping = tmp_path / "shop.yml"
    mapping.write_text(GOOD.replace("      name: {from: name, transform: [strip]}\n", "")
                       .replace("website:", "domain:").replace("name: Acme, ", ""))
    result = crm2("mapping", "check", str(mapping), "--catalog", str(_catalog(tmp_path)))
    assert result.returncode == 2
    assert f"{mapping}:6:5: required field 'name' of customer is not mapped" in result.stderr.splitlines()


FINANCE = """\
source: finance
streams:
  customers:
    entity: customer
    key: customer_no
    fields:
      name: {from: name, transform: [company_name]}
      legal_name: {from: name, transform: [normalize_whitespace]}
      country: {from: country, transform: [null_if, country], on_error: "null"}
  invoices:
    entity: invoice
    key: invoice_no
    fields:
      customer: {from: customer_no, ref: customer}
      issued_on: {from: issue_date, transform: date}
      amount: {from: total_amount, transform: decimal}
      currency: {from: currency, transform: currency}
"""


def _finance_mapping(tmp_path: Path, text: str = FINANCE) -> Path:
    path = tmp_path / "finance.yml"
    path.write_text(text)
    return path


def _pipeline(tmp_path: Path, mapping: Path) -> Path:
    ledger = tmp_path / "finance.sqlite"
    write_ledger(ledger, ledger_records())
    config = tmp_path / "pipeline.yml"
    config.write_text(f"""\
version: 1
store: {{url: store.sqlite}}
extractors:
  - name: finance
    tap: tap-crm2-finance
    mapping: {mapping}
    config: {{url: "sqlite:///{ledger}"}}
""")
    return config


def test_validate_discovers_the_catalog_and_checks_the_mapping(tmp_path):
    result = crm2("validate", "--config", str(_pipeline(tmp_path, _finance_mapping(tmp_path))))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert "finance: mapping fits the catalog of tap-crm2-finance" in lines
    unmapped = next(line for line in lines if line.startswith("finance: unmapped fields in customers: "))
    assert {"tax_id", "email", "phone", "currency"} <= set(unmapped.split(": ", 2)[2].split(", "))
    assert "name" not in unmapped.split(": ", 2)[2].split(", ")
    assert "finance: streams not mapped: credit_notes, payments" in lines
    assert result.stdout.startswith(f"{tmp_path / 'pipeline.yml'}: ok")


def test_validate_fails_on_a_mapping_that_does_not_fit_the_tap(tmp_path):
    mapping = _finance_mapping(tmp_path, FINANCE.replace("legal_name: {from: name,", "legal_name: {from: nmae,"))
    result = crm2("validate", "--config", str(_pipeline(tmp_path, mapping)))
    assert result.returncode == 2
    line, col = _where(mapping, "nmae")
    assert f"{mapping}:{line}:{col}: stream 'customers' has no field 'nmae' (did you mean 'name'?)" in \
        result.stderr.splitlines()


def test_validate_reports_an_invalid_mapping_file_by_position(tmp_path):
    mapping = _finance_mapping(tmp_path, FINANCE.replace("entity: invoice\n", "entity: invoise\n"))
    result = crm2("validate", "--config", str(_pipeline(tmp_path, mapping)))
    assert result.returncode == 2
    line, col = _where(mapping, "invoise")
    assert f"{mapping}:{line}:{col}: unknown entity 'invoise' (did you mean 'invoice'?)" in result.stderr.splitlines()


def _where(path: Path, text: str) -> tuple[int, int]:
    """1-based line and column of ``text`` in a file (the shipped mappings change, so not hard-coded)."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number, line.index(text) + 1
    raise AssertionError(f"{text!r} not in {path}")
