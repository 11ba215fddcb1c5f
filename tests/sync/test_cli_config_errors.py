"""A bad config exits 2 with one line naming file:line and the problem, and no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CRM2 = [sys.executable, "-m", "sync"]


def crm2(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CRM2, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.yml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("version: 1\nstore:\n  url: a.sqlite\n  pasword_env: X\n", "4:3", "unknown key 'pasword_env'"),
        ("version: 1\nextractors:\n  - name: sf\n    tap: tap-x\n    mapping: []\n", "5:14", "extractors.0.mapping"),
        ("version: 1\nstore:\n  url: [a\n", "4:1", "invalid YAML"),
        ("version: 1\nextractors:\n  - name: sf\n    mapping: m.yml\n", "3:5", "missing required key 'tap'"),
    ],
    ids=["unknown-key", "wrong-type", "invalid-yaml", "missing-key"],
)
def test_bad_config_is_one_line_with_position_and_exit_2(tmp_path, text, line, needle):
    path = _write(tmp_path, text)
    result = crm2("validate", "--config", str(path))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{path}:{line}: "), lines[0]
    assert needle in lines[0]
    assert "Traceback" not in result.stderr


def test_unknown_key_suggests_the_right_one(tmp_path):
    path = _write(tmp_path, "version: 1\nstore:\n  url: a.sqlite\n  pasword_env: X\n")
    result = crm2("validate", "--config", str(path))
    assert "(did you mean 'password_env'?)" in result.stderr


def test_missing_file_exits_2_naming_it(tmp_path):
    result = crm2("sync", "--config", str(tmp_path / "nope.yml"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"{tmp_path / 'nope.yml'}: file not found (check the path)"


def test_missing_mapping_file_points_at_the_setting(tmp_path):
    path = _write(tmp_path, "version: 1\nextractors:\n  - name: sf\n    tap: tap-x\n    mapping: gone.yml\n")
    result = crm2("validate", "--config", str(path))
    assert result.returncode == 2
    assert result.stderr.strip() == (f"{path}:5:14: mapping file not found: gone.yml "
                                     "(paths are relative to the config file's folder)")


def test_debug_shows_the_traceback(tmp_path):
    path = _write(tmp_path, "version: 1\nbogus: 1\n")
    result = crm2("--debug", "validate", "--config", str(path))
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_password_in_store_url_is_refused_without_echoing_it(tmp_path):
    path = _write(tmp_path, "version: 1\nstore:\n  url: postgresql://crm2:hunter2secret@db/crm2\n")
    result = crm2("validate", "--config", str(path))
    assert result.returncode == 2
    assert "hunter2secret" not in result.stderr
    assert "password_env" in result.stderr


def test_usage_error_exits_2():
    result = crm2("sync")
    assert result.returncode == 2
    assert "--config" in result.stderr


def test_shipped_example_config_is_valid():
    root = Path(__file__).resolve().parents[2]
    result = crm2("validate", "--no-env", "--config", str(root / "config" / "pipeline.example.yml"))
    # the example references the shipped mappings; they arrive with the mapping engine
    mappings_present = all((root / "mappings" / f"{n}.yml").exists() for n in ("salesforce", "finance", "sales"))
    assert result.returncode == (0 if mappings_present else 2), result.stderr


def _clean_env(**extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM2_")}
    return {**env, **extra}


def test_unset_secrets_and_a_writeback_without_settings_fail_validate_with_positions(tmp_path):
    root = Path(__file__).resolve().parents[2]
    path = _write(tmp_path, f"""version: 1
store:
  url: postgresql+psycopg://crm2@127.0.0.1:9/crm2
  password_env: CRM2_TEST_UNSET_PW
extractors:
  - name: salesforce
    tap: tap-crm2-salesforce
    mapping: {root / "mappings" / "salesforce.yml"}
    config:
      client_id: x
      client_secret_env: CRM2_TEST_UNSET_SECRET
writeback:
  enabled: true
""")
    result = subprocess.run([*CRM2, "validate", "--config", str(path)], capture_output=True, text=True,
                            timeout=120, env=_clean_env())
    assert result.returncode == 2, result.stdout + result.stderr
    assert "ok" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith(str(path))]
    assert lines == [
        f"{path}:4:17: environment variable CRM2_TEST_UNSET_PW is not set "
        "(set CRM2_TEST_UNSET_PW in the environment before running, or name another variable)",
        f"{path}:11:26: environment variable CRM2_TEST_UNSET_SECRET is not set "
        "(set CRM2_TEST_UNSET_SECRET in the environment before running, or name another variable)",
        f"{path}:12:1: writeback is enabled but has no Salesforce connection settings (add writeback.config "
        "with login_url or instance_url, auth_flow, client_id and client_secret_env, or set "
        "writeback.enabled: false)",
    ], result.stderr
    # sync refuses the same config the same way, before anything runs
    result = subprocess.run([*CRM2, "sync", "--config", str(path)], capture_output=True, text=True,
                            timeout=120, env=_clean_env())
    assert result.returncode == 2
    assert "***" not in result.stderr
    assert f"{path}:4:17: environment variable CRM2_TEST_UNSET_PW is not set" in result.stderr
    # once set, validate passes the environment check (and --no-env skips it altogether)
    result = subprocess.run([*CRM2, "validate", "--no-env", "--config", str(path)], capture_output=True,
                            text=True, timeout=120, env=_clean_env())
    assert "environment variable" not in result.stderr


def test_a_cluster_spark_master_needs_a_shared_exchange_folder(tmp_path):
    text = "version: 1\nstore:\n  url: a.sqlite\nresolve:\n  engine: spark\n  spark:\n    master: spark://head:7077\n"
    result = crm2("validate", "--config", str(_write(tmp_path, text)))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"{tmp_path / 'pipeline.yml'}:6:3: resolve.spark: "), result.stderr
    assert "set exchange to a folder the driver and every executor can read" in result.stderr
    shared = text + "    exchange: /mnt/shared/crm2-spark\n"
    assert crm2("validate", "--config", str(_write(tmp_path, shared))).returncode != 2
