"""Bad sales configs end the real console script with exit 2 and one line naming the setting."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
from sales_api_data import TOKEN_ENV
from sales_api_data import standin as standin  # a fixture

TAP = str(Path(os.environ.get("VIRTUAL_ENV", Path(__file__).parents[3] / ".venv")) / "bin" / "tap-crm2-sales")


def run_cli(tmp_path: Path, config: dict, *args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.run([TAP, "--config", str(path), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def the_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("config error:")]
    assert len(lines) == 1, result.stderr
    assert not [line for line in result.stderr.splitlines() if " ERROR " in line or "CRITICAL" in line]
    return lines[0]


def test_refused_token_names_the_token_setting_and_never_shows_it(tmp_path, standin):
    config = {"base_url": standin.url, "auth": {"type": "bearer", "token_env": "CRM2_TEST_WRONG_TOKEN"}}
    result = run_cli(tmp_path, config, env={"CRM2_TEST_WRONG_TOKEN": "not-the-token-xyz"})
    assert the_error(result) == ("config error: auth.token_env: the API refused the credentials "
                                 "(HTTP 401 for /api/v1/accounts)")
    assert "not-the-token-xyz" not in result.stderr + result.stdout
    assert '"RECORD"' not in result.stdout


def test_refused_oauth_client_names_the_secret_setting(tmp_path, standin):
    config = {"base_url": standin.url, "auth": {"type": "oauth_client_credentials",
                                                "token_url": f"{standin.url}/oauth/token",
                                                "client_id": standin.client_id, "client_secret_env": "CRM2_TEST_SEC"}}
    result = run_cli(tmp_path, config, env={"CRM2_TEST_SEC": "wrong-secret-abc"})
    assert the_error(result) == (f"config error: auth.client_secret_env: the token endpoint refused client "
                                 f"'{standin.client_id}' (HTTP 401)")
    assert "wrong-secret-abc" not in result.stderr


def test_unreachable_base_url_is_named(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = {"base_url": f"http://127.0.0.1:{port}", "max_attempts": 2, "retry_initial_wait": 0.01}
    result = run_cli(tmp_path, config, env={"CRM2_SALES_TOKEN": "x"})
    assert the_error(result) == f"config error: base_url: cannot connect to http://127.0.0.1:{port}: connection refused"


def test_wrong_endpoint_path_is_named(tmp_path, standin):
    config = {"base_url": standin.url, "auth": {"type": "bearer", "token_env": TOKEN_ENV},
              "endpoints": {"accounts": {"path": "/api/v1/acounts"}}}
    result = run_cli(tmp_path, config, env={TOKEN_ENV: standin.token})
    assert the_error(result) == "config error: endpoints.accounts.path: HTTP 404: no such endpoint /api/v1/acounts"


@pytest.mark.parametrize(("config", "expected"), [
    ({}, "config error: base_url: Field required"),
    ({"base_url": "ftp://x"}, "config error: base_url: must start with http:// or https://"),
    ({"base_url": "http://x", "auth": {"type": "bearer", "token_env": "CRM2_TEST_UNSET_TOKEN"}},
     "config error: auth.token_env: environment variable CRM2_TEST_UNSET_TOKEN is not set"),
    ({"base_url": "http://x", "endpoints": {"orders": {"pagination": {"type": "pages"}}}},
     "config error: endpoints.orders.pagination.type: Input should be 'none', 'cursor', 'page', 'offset' or 'link'"),
    ({"base_url": "http://x", "endpoints": {"invoices": {"path": "/api/v1/invoices"}}},
     "config error: endpoints.invoices.schema: required for an endpoint that is not a default one"),
])
def test_invalid_settings_are_named(tmp_path, config, expected):
    assert the_error(run_cli(tmp_path, config)) == expected
