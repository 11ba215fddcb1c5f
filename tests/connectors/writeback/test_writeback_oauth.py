"""target-crm2-salesforce logs in with a refresh token or a JWT signed by a key file, and keeps
writing when its session ends mid-run: ``tap-crm2 | target-crm2-salesforce`` as real processes
against the stand-in, every Account compared with the store afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from writeback_support import CUSTOMERS, assert_accounts_match, fill_store, run_pipe, start_org, target_config

from connectors.salesforce.standin import Faults

REFRESH_ENV = "CRM2_WBTEST_SF_REFRESH_TOKEN"


@pytest.fixture
def setup(tmp_path: Path):
    db = tmp_path / "store.sqlite"
    fill_store(db, tmp_path, CUSTOMERS)
    org = start_org(tmp_path, CUSTOMERS)
    yield db, tmp_path, org
    org.sf.stop()


def test_refresh_token_login_survives_sessions_ending_mid_run(setup):
    db, tmp, org = setup
    org.sf.set_faults(Faults(session_expiry_every=2))  # every 2nd call: all sessions end, 401
    cfg = target_config(org, db, tmp, run_id="run-refresh", auth_flow="refresh_token",
                        refresh_token_env=REFRESH_ENV, collection_size=4)
    run = run_pipe(db, tmp, cfg, env={REFRESH_ENV: org.sf.credentials["refresh_token"]})
    assert run.target_exit == 0, run.stderr[-2000:]
    assert_accounts_match(db, org)
    assert org.sf.api_calls()["auth"] >= 3  # the first login, then one after each ended session
    assert org.sf.credentials["refresh_token"] not in run.stderr + run.stdout


def test_jwt_login_with_a_key_file(setup):
    db, tmp, org = setup
    key = tmp / "connected-app.key"
    key.write_text(org.sf.credentials["private_key"])
    key.chmod(0o600)
    cfg = target_config(org, db, tmp, run_id="run-jwt", auth_flow="jwt_bearer", client_secret_env=None,
                        username=org.sf.credentials["username"], private_key_file=str(key),
                        jwt_audience="https://login.salesforce.com")
    run = run_pipe(db, tmp, cfg)
    assert run.target_exit == 0, run.stderr[-2000:]
    assert_accounts_match(db, org)
