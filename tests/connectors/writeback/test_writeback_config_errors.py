"""Configuration mistakes stop target-crm2-salesforce before it reads any input: exit 2 and one
line per problem (file:line:column for the mapping), no traceback, no secret."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from writeback_support import TARGET

from sync.shipped import MAPPINGS


def run_target(tmp: Path, config: dict) -> subprocess.CompletedProcess[str]:
    path = tmp / "target.json"
    path.write_text(json.dumps(config))
    return subprocess.run([TARGET, "--config", str(path)], input="", capture_output=True, text=True, timeout=60,
                          check=False)


BASE = {"store_url": "store.sqlite", "mapping": str(MAPPINGS / "writeback.yml"), "client_id": "cid",
        "instance_url": "https://org.example.test", "client_secret_env": "CRM2_WBTEST_CFG_SECRET"}


def test_bad_settings_and_mappings_exit_2_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM2_WBTEST_CFG_SECRET", "s3cr3t-value")
    mapping = tmp_path / "writeback.yml"
    mapping.write_text("version: 1\nobjects:\n  Account:\n    stream: customer_scores\n    ids_from: ids\n"
                       "    fields:\n      CRM2_Tier__c: {from: tier, tpye: string}\n")
    cases = {
        "mode: input should be 'upsert' or 'update_only'": {**BASE, "mode": "mirror"},
        "https": {**BASE, "instance_url": "http://org.example.test"},
        "environment variable CRM2_WBTEST_UNSET (client_secret) is not set": {
            **BASE, "client_secret_env": "CRM2_WBTEST_UNSET"},
        f"{mapping}:7:34: unknown key 'tpye' (did you mean 'type'?)": {**BASE, "mapping": str(mapping)},
        "has no external_id": {**BASE, "match": "external_id", "mapping": str(mapping).replace(
            "writeback.yml", "other.yml")},
    }
    (tmp_path / "other.yml").write_text(mapping.read_text().replace(", tpye: string", ""))
    for expected, config in cases.items():
        done = run_target(tmp_path, config)
        assert done.returncode == 2, (expected, done.stderr)
        assert expected.lower() in done.stderr.lower(), (expected, done.stderr)
        assert "Traceback" not in done.stderr and "s3cr3t-value" not in done.stderr
