"""Bad finance configs end the real console script with exit 2 and one line naming the setting."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
from finance_ledger_data import ledger_path as ledger_path  # a fixture

TAP = str(Path(os.environ.get("VIRTUAL_ENV", Path(__file__).parents[3] / ".venv")) / "bin" / "tap-crm2-finance")


def run_cli(tmp_path: Path, config: dict, *args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.run([TAP, "--config", str(path), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def the_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.startswith("config error:")]
    assert len(lines) == 1, result.stderr
    assert not [line for line in result.stderr.splitlines() if " ERROR " in line or "CRITICAL" in line]
    return lines[0]


def test_unknown_table_is_named_with_a_suggestion(tmp_path, ledger_path):
    result = run_cli(tmp_path, {"url": f"sqlite:///{ledger_path}", "streams": {"invoices": {"table": "invoicez"}}})
    assert the_error(result) == ("config error: streams.invoices.table: table 'invoicez' not found in database "
                                 "(did you mean 'invoices'?)")


def test_missing_key_column_is_named(tmp_path, ledger_path):
    result = run_cli(tmp_path, {"url": f"sqlite:///{ledger_path}", "streams": {"payments": {"key": "payment_no"}}})
    assert the_error(result) == ("config error: streams.payments.key: column 'payment_no' not found in table "
                                 "'payments' (did you mean 'payment_id'?)")


def test_missing_replication_column_is_named_also_in_discovery(tmp_path, ledger_path):
    config = {"url": f"sqlite:///{ledger_path}", "streams": {"customers": {"replication_key": "modified_at"}}}
    result = run_cli(tmp_path, config, "--discover")
    assert the_error(result).startswith(
        "config error: streams.customers.replication_key: column 'modified_at' not found in table 'customers'")


def test_unreachable_database_names_the_url_without_the_password(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = {"url": f"postgresql+psycopg://crm2@127.0.0.1:{port}/ledger", "password_env": "CRM2_TEST_FIN_PW"}
    result = run_cli(tmp_path, config, env={"CRM2_TEST_FIN_PW": "s3cr3t-pw"})
    line = the_error(result)
    assert line.startswith(f"config error: url: cannot connect to postgresql+psycopg://crm2@127.0.0.1:{port}/ledger:")
    assert "s3cr3t-pw" not in result.stderr


@pytest.mark.parametrize(("config", "expected"), [
    ({"url": "postgresql+psycopg://crm2:hunter2@db/ledger"},
     "config error: url: contains a password; put it in an environment variable and name it in "
     "password_env"),
    ({}, "config error: url: Field required"),
    ({"url": "sqlite:///x.sqlite", "password_env": "CRM2_TEST_FIN_UNSET"},
     "config error: password_env: environment variable CRM2_TEST_FIN_UNSET is not set"),
    ({"url": "sqlite:///x.sqlite", "streams": {"invoices": {"tabel": "x"}}},
     "config error: streams.invoices.tabel: Extra inputs are not permitted"),
    ({"url": "sqlite:///x.sqlite", "streams": {"ledger_lines": {"table": "lines"}}},
     "config error: streams.ledger_lines.key: required for a stream that is not a default one"),
])
def test_invalid_settings_are_named(tmp_path, config, expected):
    result = run_cli(tmp_path, config)
    line = the_error(result)
    assert line == expected
    assert "hunter2" not in result.stderr
