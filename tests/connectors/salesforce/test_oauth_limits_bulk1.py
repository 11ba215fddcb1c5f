"""Refresh-token and JWT logins end to end, ``/limits`` as calls are made, and Bulk API 1.0 query jobs.

The stand-in over real HTTPS on loopback; crm2's own tap and writeback target as real processes
(``--about``/``--discover``/a sync) with their secrets in environment variables.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import requests

from connectors.salesforce.client import AuthenticationError, RetryPolicy, SalesforceClient
from connectors.salesforce.standin import SalesforceStandIn
from connectors.salesforce.tap_config import SalesforceTapConfig
from connectors.salesforce.writeback.config import parse_settings
from sync.errors import ConfigError

TAP = str(Path(sys.executable).with_name("tap-crm2-salesforce"))
NS = "{http://www.force.com/2009/06/asyncapi/dataload}"
REFRESH_ENV = "CRM2_OAUTHTEST_SF_REFRESH"
SECRET_ENV = "CRM2_OAUTHTEST_SF_SECRET"
KEY_ENV = "CRM2_OAUTHTEST_SF_KEY"
V = "/services/data/v62.0"


@pytest.fixture
def sf(tmp_path: Path) -> Iterator[SalesforceStandIn]:
    standin = SalesforceStandIn(tmp_path / "org.sqlite").start()
    standin.insert("Account", [{"Name": f"Account {i}", "SystemModstamp": f"2026-10-{1 + i % 20:02d}T08:00:00Z"}
                               for i in range(30)])
    yield standin
    standin.stop()


@pytest.fixture
def env(sf: SalesforceStandIn, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {REFRESH_ENV: sf.credentials["refresh_token"], SECRET_ENV: sf.credentials["client_secret"],
              KEY_ENV: sf.credentials["private_key"]}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def _token(sf: SalesforceStandIn, **form: str) -> requests.Response:
    return requests.post(sf.url + "/services/oauth2/token", data=form, verify=str(sf.ca_path), timeout=10)


def _client(sf: SalesforceStandIn, **settings: Any) -> SalesforceClient:
    cfg = SalesforceTapConfig.model_validate({"instance_url": sf.url, "client_id": sf.credentials["client_id"],
                                              **settings})
    return SalesforceClient(cfg.credentials(), ca_bundle=str(sf.ca_path), retry=RetryPolicy(max_attempts=2,
                                                                                            initial_wait=0.01))


# -- the stand-in's token endpoint -------------------------------------------------------------

def test_refresh_token_grant_as_salesforce_answers_it(sf):
    creds = sf.credentials
    ok = _token(sf, grant_type="refresh_token", client_id=creds["client_id"], client_secret=creds["client_secret"],
                refresh_token=creds["refresh_token"])
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"} <= set(body)
    assert "refresh_token" not in body  # not rotated
    api = requests.get(sf.url + f"{V}/limits", headers={"Authorization": f"Bearer {body['access_token']}"},
                       verify=str(sf.ca_path), timeout=10)
    assert api.status_code == 200
    refused = [
        _token(sf, grant_type="refresh_token", client_id=creds["client_id"], refresh_token="5Aep861unknown"),
        _token(sf, grant_type="refresh_token", client_id="someone-else", refresh_token=creds["refresh_token"]),
        _token(sf, grant_type="refresh_token", client_id=creds["client_id"], client_secret="wrong",
               refresh_token=creds["refresh_token"]),
    ]
    assert [(r.status_code, r.json()["error"]) for r in refused] == [
        (400, "invalid_grant"), (400, "invalid_client_id"), (400, "invalid_client")]


def test_a_revoked_refresh_token_is_refused_and_new_grants_survive_a_restart(tmp_path):
    first = SalesforceStandIn(tmp_path / "org.sqlite").start()
    creds = first.credentials
    extra = first.issue_refresh_token()
    requests.post(first.url + "/services/oauth2/revoke", data={"token": creds["refresh_token"]},
                  verify=str(first.ca_path), timeout=10)
    first.stop()
    again = SalesforceStandIn(tmp_path / "org.sqlite").start()
    try:
        assert again.credentials["client_secret"] == creds["client_secret"]
        answers = {token: _token(again, grant_type="refresh_token", client_id=creds["client_id"],
                                 refresh_token=token).status_code for token in (creds["refresh_token"], extra)}
        assert answers == {creds["refresh_token"]: 400, extra: 200}
    finally:
        again.stop()


def test_sessions_end_after_the_session_timeout(tmp_path):
    sf = SalesforceStandIn(tmp_path / "org.sqlite", session_seconds=0).start()
    try:
        token = _token(sf, grant_type="client_credentials", client_id=sf.credentials["client_id"],
                       client_secret=sf.credentials["client_secret"]).json()["access_token"]
        answer = requests.get(sf.url + f"{V}/limits", headers={"Authorization": f"Bearer {token}"},
                              verify=str(sf.ca_path), timeout=10)
        assert answer.status_code == 401 and answer.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    finally:
        sf.stop()


# -- crm2's client, tap and writeback target -----------------------------------------------------

def test_the_client_logs_in_with_a_refresh_token_and_again_when_the_session_ends(sf, env):
    client = _client(sf, auth_flow="refresh_token", refresh_token_env=REFRESH_ENV, client_secret_env=SECRET_ENV)
    assert client.count("", "Account") == 30
    sf.expire_sessions()  # what a session timeout does to every token
    assert client.count("", "Account") == 30
    assert sf.api_calls()["auth"] == 2


def test_a_session_with_a_stated_end_is_renewed_before_it_ends(sf, env):
    client = _client(sf, auth_flow="refresh_token", refresh_token_env=REFRESH_ENV)
    assert client.count("", "Account") == 30
    assert client._token is not None
    # as if the token answer had said expires_in and that moment is (nearly) here
    client._token = dataclasses.replace(client._token, expires_at=time.monotonic() + 1)
    before = sf.api_calls()
    assert client.count("", "Account") == 30
    after = sf.api_calls()
    assert (after["auth"] - before["auth"], after["rest"] - before["rest"]) == (1, 1)  # no 401 on the way


def test_the_client_signs_a_jwt_with_a_key_file_or_a_key_in_the_environment(sf, env, tmp_path):
    key_file = tmp_path / "server.key"
    key_file.write_text(sf.credentials["private_key"])
    key_file.chmod(0o600)
    by_file = _client(sf, auth_flow="jwt_bearer", username=sf.credentials["username"],
                      private_key_file=str(key_file), jwt_audience="https://login.salesforce.com")
    by_env = _client(sf, auth_flow="jwt_bearer", username=sf.credentials["username"], private_key_env=KEY_ENV,
                     jwt_audience="https://login.salesforce.com")
    assert by_file.count("", "Account") == by_env.count("", "Account") == 30
    sf.expire_sessions()
    assert by_file.count("", "Account") == 30


def test_bad_oauth_settings_are_config_errors_naming_the_setting(sf, env, tmp_path):
    with pytest.raises(ValueError, match="refresh_token_env"):
        SalesforceTapConfig.model_validate({"instance_url": sf.url, "client_id": "x", "auth_flow": "refresh_token"})
    with pytest.raises(ValueError, match="not both"):
        SalesforceTapConfig.model_validate({"instance_url": sf.url, "client_id": "x", "private_key_file": "k",
                                            "private_key_env": KEY_ENV})
    missing = tmp_path / "nowhere.key"
    with pytest.raises(AuthenticationError, match=f"private_key_file {missing}: cannot be read"):
        _client(sf, auth_flow="jwt_bearer", username="u", private_key_file=str(missing))
    not_pem = tmp_path / "not.key"
    not_pem.write_text("hello")
    with pytest.raises(AuthenticationError, match="not a PEM private key"):
        _client(sf, auth_flow="jwt_bearer", username="u", private_key_file=str(not_pem))
    with pytest.raises(AuthenticationError, match="CRM2_OAUTHTEST_UNSET"):
        _client(sf, auth_flow="refresh_token", refresh_token_env="CRM2_OAUTHTEST_UNSET")
    # a revoked grant is refused by the org, and the message carries no token
    requests.post(sf.url + "/services/oauth2/revoke", data={"token": env[REFRESH_ENV]}, verify=str(sf.ca_path),
                  timeout=10)
    with pytest.raises(AuthenticationError) as refused:
        _client(sf, auth_flow="refresh_token", refresh_token_env=REFRESH_ENV).count("", "Account")
    assert refused.value.error_code == "invalid_grant" and env[REFRESH_ENV] not in str(refused.value)


def test_the_writeback_target_takes_the_same_oauth_settings(sf, tmp_path):
    settings = parse_settings({"store_url": "sqlite:///x.sqlite", "mapping": "m.yml", "instance_url": sf.url,
                               "client_id": "app", "auth_flow": "refresh_token", "refresh_token_env": REFRESH_ENV,
                               "client_secret_env": SECRET_ENV})
    assert settings.salesforce.auth_flow == "refresh_token"
    with pytest.raises(ConfigError, match="refresh_token_env"):
        parse_settings({"store_url": "sqlite:///x.sqlite", "mapping": "m.yml", "instance_url": sf.url,
                        "client_id": "app", "auth_flow": "refresh_token"})
    about = json.loads(subprocess.run([str(Path(sys.executable).with_name("target-crm2-salesforce")), "--about",
                                       "--format", "json"], capture_output=True, text=True, timeout=60).stdout)
    props = about["settings"]["properties"]
    assert {"refresh_token_env", "private_key_file"} <= set(props)
    assert "refresh_token" in json.dumps(props["auth_flow"])


def test_the_tap_syncs_with_a_refresh_token_from_the_environment(sf, env, tmp_path):
    config = tmp_path / "tap.json"
    config.write_text(json.dumps({"instance_url": sf.url, "ca_bundle": str(sf.ca_path), "auth_flow": "refresh_token",
                                  "client_id": sf.credentials["client_id"], "client_secret_env": SECRET_ENV,
                                  "refresh_token_env": REFRESH_ENV, "objects": ["Account"]}))
    proc = subprocess.run([TAP, "--config", str(config)], capture_output=True, text=True, timeout=120,
                          env={**os.environ})
    assert proc.returncode == 0, proc.stderr[-2000:].replace(env[REFRESH_ENV], "***")
    records = [m for m in map(json.loads, proc.stdout.splitlines()) if m["type"] == "RECORD"]
    assert len(records) == 30
    for secret in env.values():
        assert secret not in proc.stderr and secret not in proc.stdout


# -- /limits -----------------------------------------------------------------------------------

class Http:
    def __init__(self, sf: SalesforceStandIn) -> None:
        self.sf = sf
        self.token = _token(sf, grant_type="client_credentials", client_id=sf.credentials["client_id"],
                            client_secret=sf.credentials["client_secret"]).json()["access_token"]

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.sf.url + (path if path.startswith("/") else f"{V}/{path}")
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return requests.request(method, url, headers=headers, verify=str(self.sf.ca_path), timeout=10, **kwargs)

    def v1(self, method: str, path: str, *, body: Any = None, content_type: str = "application/json",
           ) -> requests.Response:
        """A Bulk API 1.0 call, authenticated the 1.0 way (X-SFDC-Session)."""
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        return requests.request(method, f"{self.sf.url}/services/async/61.0/{path}", data=data,
                                headers={"X-SFDC-Session": self.token, "Content-Type": content_type},
                                verify=str(self.sf.ca_path), timeout=10)


@pytest.fixture
def http(sf: SalesforceStandIn) -> Http:
    return Http(sf)


def test_limits_hold_the_documented_set_and_are_consumed_as_calls_are_made(sf, http):
    before = http("GET", "limits").json()
    for name in ("DailyApiRequests", "DailyBulkApiBatches", "DailyBulkV2QueryJobs", "DailyBulkV2QueryFileStorageMB",
                 "DailyAsyncApexExecutions", "DailyStreamingApiEvents", "DataStorageMB", "FileStorageMB",
                 "HourlyODataCallout", "SingleEmail", "MassEmail", "PermissionSets"):
        assert set(before[name]) == {"Max", "Remaining"}, name
        assert 0 <= before[name]["Remaining"] <= before[name]["Max"]
    assert before["DailyBulkApiBatches"] == {"Max": 15000, "Remaining": 15000}

    job = http("POST", "jobs/query", json={"operation": "query", "query": "SELECT Id, Name FROM Account"}).json()
    _wait(lambda: http("GET", f"jobs/query/{job['id']}").json()["state"] == "JobComplete")
    ingest = http("POST", "jobs/ingest", json={"object": "Account", "operation": "insert"}).json()
    http("PUT", f"jobs/ingest/{ingest['id']}/batches", data=b"Name\nNew one\n", headers={"Content-Type": "text/csv"})
    http("PATCH", f"jobs/ingest/{ingest['id']}", json={"state": "UploadComplete"})
    _wait(lambda: http("GET", f"jobs/ingest/{ingest['id']}").json()["state"] == "JobComplete")
    v1 = http.v1("POST", "job", body={"operation": "query", "object": "Account", "contentType": "CSV"}).json()
    http.v1("POST", f"job/{v1['id']}/batch", body=b"SELECT Id FROM Account", content_type="text/csv")

    after = http("GET", "limits").json()
    calls = sf.api_calls()
    assert after["DailyApiRequests"]["Remaining"] == after["DailyApiRequests"]["Max"] - calls["rest"] - calls["bulk"]
    assert after["DailyBulkV2QueryJobs"]["Remaining"] == before["DailyBulkV2QueryJobs"]["Remaining"] - 1
    assert after["DailyBulkV2QueryFileStorageMB"]["Remaining"] == before["DailyBulkV2QueryFileStorageMB"]["Max"] - 1
    # one Bulk 2.0 ingest job of under 10,000 rows and one Bulk 1.0 batch
    assert after["DailyBulkApiBatches"]["Remaining"] == 15000 - 2
    assert after["DataStorageMB"] == before["DataStorageMB"]


def _wait(done: Any, tries: int = 400) -> None:
    for _ in range(tries):
        if done():
            return
        time.sleep(0.025)
    raise AssertionError("the stand-in's job did not finish")


# -- Bulk API 1.0 --------------------------------------------------------------------------------

def _xml(answer: requests.Response) -> dict[str, str]:
    root = ElementTree.fromstring(answer.content)
    return {child.tag.removeprefix(NS): child.text or "" for child in root}


@pytest.mark.parametrize("operation", ["query", "queryAll"])
def test_bulk_v1_query_job_in_xml_from_create_to_close(sf, http, operation):
    doomed = sf.records("Account")[0]["Id"]
    http("DELETE", f"sobjects/Account/{doomed}")
    create = http.v1("POST", "job", content_type="application/xml; charset=UTF-8", body=(
        '<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="http://www.force.com/2009/06/asyncapi/dataload">'
        f"<operation>{operation}</operation><object>Account</object><contentType>CSV</contentType></jobInfo>"
    ).encode())
    assert create.status_code == 201, create.text
    assert create.headers["Content-Type"].startswith("application/xml")
    job = _xml(create)
    assert job["state"] == "Open" and job["operation"] == operation and job["id"].startswith("750")
    added = http.v1("POST", f"job/{job['id']}/batch", content_type="text/csv",
                    body=b"SELECT Id, Name, IsDeleted, SystemModstamp FROM Account ORDER BY Name")
    batch = _xml(added)
    assert added.status_code == 201 or added.status_code == 200
    assert batch["state"] == "Queued" and batch["jobId"] == job["id"]
    closed = _xml(http.v1("POST", f"job/{job['id']}", content_type="application/xml",
                          body=f'<jobInfo xmlns="{NS[1:-1]}"><state>Closed</state></jobInfo>'.encode()))
    assert closed["state"] == "Closed" and closed["numberBatchesTotal"] == "1"
    status = _xml(http.v1("GET", f"job/{job['id']}/batch/{batch['id']}"))
    assert status["state"] == "Completed"
    listed = ElementTree.fromstring(http.v1("GET", f"job/{job['id']}/batch").content)
    assert [b.find(f"{NS}id").text for b in listed] == [batch["id"]]  # type: ignore[union-attr]
    results = ElementTree.fromstring(http.v1("GET", f"job/{job['id']}/batch/{batch['id']}/result").content)
    result_ids = [r.text for r in results]
    assert len(result_ids) == 1
    answer = http.v1("GET", f"job/{job['id']}/batch/{batch['id']}/result/{result_ids[0]}")
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert answer.text.splitlines()[0] == '"Id","Name","IsDeleted","SystemModstamp"'
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    truth = sf.records("Account", include_deleted=operation == "queryAll")
    assert sorted(r["Id"] for r in rows) == sorted(r["Id"] for r in truth)
    assert (doomed in {r["Id"] for r in rows}) is (operation == "queryAll")
    assert status["numberRecordsProcessed"] == str(len(truth))
    assert "Sforce-Limit-Info" not in answer.headers
    assert sf.write_calls_total() == 1  # the DELETE above: query jobs change no data


def test_bulk_v1_json_job_answers_json_with_epoch_millisecond_dates(sf, http):
    job = http.v1("POST", "job", body={"operation": "query", "object": "Account", "contentType": "JSON"})
    assert job.status_code == 201 and job.json()["state"] == "Open"
    assert job.json()["createdDate"].endswith("+0000")
    batch = http.v1("POST", f"job/{job.json()['id']}/batch", body=b"SELECT Id, Name, SystemModstamp FROM Account "
                    b"WHERE Name = 'Account 3'", content_type="application/json").json()
    assert batch["state"] == "Queued"
    (result_id,) = http.v1("GET", f"job/{batch['jobId']}/batch/{batch['id']}/result").json()
    (record,) = http.v1("GET", f"job/{batch['jobId']}/batch/{batch['id']}/result/{result_id}").json()
    assert record["Name"] == "Account 3" and record["attributes"]["type"] == "Account"
    assert record["SystemModstamp"] == 1791100800000  # 2026-10-04T08:00:00Z


def test_bulk_v1_errors_in_its_own_shape(sf, http):
    bad_session = requests.post(f"{sf.url}/services/async/61.0/job", data=b"{}", verify=str(sf.ca_path), timeout=10,
                                headers={"X-SFDC-Session": "00D!nope", "Content-Type": "application/json"})
    assert bad_session.status_code == 400
    assert bad_session.json()["exceptionCode"] == "InvalidSessionId"
    unknown = http.v1("GET", "job/750000000000000AAA", content_type="application/json")
    assert unknown.status_code == 400 and unknown.json()["exceptionCode"] == "InvalidJob"
    assert unknown.headers["Content-Type"] == "application/json"
    ingest = http.v1("POST", "job", body={"operation": "insert", "object": "Account", "contentType": "CSV"})
    assert ingest.json()["exceptionCode"] == "FeatureNotEnabled"
    job = http.v1("POST", "job", body={"operation": "query", "object": "Account", "contentType": "CSV"}).json()
    failed = _xml(http.v1("POST", f"job/{job['id']}/batch", body=b"SELECT Nope FROM Account",
                          content_type="text/csv"))
    status = _xml(http.v1("GET", f"job/{job['id']}/batch/{failed['id']}"))
    assert status["state"] == "Failed" and "INVALID_FIELD" in status["stateMessage"]
    not_done = http.v1("GET", f"job/{job['id']}/batch/{failed['id']}/result", content_type="text/csv")
    assert not_done.status_code == 400 and _xml(not_done)["exceptionCode"] == "InvalidBatch"
    http.v1("POST", f"job/{job['id']}", body={"state": "Closed"})
    late = http.v1("POST", f"job/{job['id']}/batch", body=b"SELECT Id FROM Account", content_type="text/csv")
    assert late.status_code == 400 and _xml(late)["exceptionCode"] == "InvalidJobState"
    old = requests.get(f"{sf.url}/services/async/20.0/job", verify=str(sf.ca_path), timeout=10,
                       headers={"X-SFDC-Session": http.token})
    assert old.status_code == 404 and _xml(old)["exceptionCode"] == "InvalidVersion"


def test_bulk_v1_splits_large_results_into_several_files(sf, http):
    sf.api.bulk_v1.result_rows = 7
    job = http.v1("POST", "job", body={"operation": "query", "object": "Account", "contentType": "CSV"}).json()
    batch = _xml(http.v1("POST", f"job/{job['id']}/batch", body=b"SELECT Id FROM Account", content_type="text/csv"))
    results = [r.text for r in ElementTree.fromstring(
        http.v1("GET", f"job/{job['id']}/batch/{batch['id']}/result").content)]
    assert len(results) == 5  # 30 rows, 7 a file
    ids = []
    for result_id in results:
        lines = http.v1("GET", f"job/{job['id']}/batch/{batch['id']}/result/{result_id}").text.splitlines()
        assert lines[0] == '"Id"'
        ids += [line.strip('"') for line in lines[1:]]
    assert sorted(ids) == sorted(r["Id"] for r in sf.records("Account"))
