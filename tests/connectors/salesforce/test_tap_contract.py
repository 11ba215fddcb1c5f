"""Contract tests: recorded Salesforce exchanges, replayed offline, parsed by our client.

By default the cassettes under tests/fixtures/salesforce/cassettes are replayed with
``record_mode=none`` (no network; a request not in the cassette fails the test). To re-record,
see docs/salesforce-contract-tests.md:

* ``CRM2_SF_RECORD=org``: against a real sandbox org, credentials from environment variables;
* ``CRM2_SF_RECORD=standin``: against the local stand-in.

Cassettes never hold secrets: the Authorization header, token-request form fields and the
access token are replaced, and the real hosts are rewritten to ``https://sf.example``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import vcr

from connectors.salesforce.client import (
    BulkQuery,
    BulkQueryOptions,
    Credentials,
    InvalidSessionError,
    MalformedQueryError,
    RequestLimitExceeded,
    RetryPolicy,
    SalesforceClient,
    Token,
)
from connectors.salesforce.tap_schema import schema_from_describe

CASSETTES = Path(__file__).resolve().parents[2] / "fixtures" / "salesforce" / "cassettes"
PLACEHOLDER = "https://sf.example"
MODE = os.environ.get("CRM2_SF_RECORD", "")  # "", "org" or "standin"
REDACTED = "REDACTED"
SECRET_FORM_FIELDS = ["client_id", "client_secret", "username", "password", "assertion"]
PAGING_SOQL = "SELECT Id, Name, SystemModstamp FROM Account ORDER BY SystemModstamp, Id LIMIT 450"
BULK_SOQL = "SELECT Id, Name, SystemModstamp FROM Account"


class _Scrubber:
    """Rewrites real hosts to the placeholder and blanks tokens before anything is written."""

    def __init__(self, hosts: list[str]) -> None:
        self.hosts = [h.rstrip("/") for h in hosts if h]

    def _swap_hosts(self, text: str) -> str:
        for host in self.hosts:
            text = text.replace(host, PLACEHOLDER)
        return text

    def request(self, request: Any) -> Any:
        request.uri = self._swap_hosts(request.uri)
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        body = response["body"].get("string", b"")
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        if '"access_token"' in text:
            payload = json.loads(text)
            self.hosts.append(str(payload.get("instance_url", "")).rstrip("/"))
            payload.update({k: REDACTED for k in ("access_token", "signature", "id_token", "refresh_token")
                            if k in payload})
            text = json.dumps(payload)
        text = self._swap_hosts(text)
        text = re.sub(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._-]+", REDACTED, text)  # session ids
        response["body"]["string"] = text.encode("utf-8")
        for name in ("Set-Cookie", "set-cookie"):
            response["headers"].pop(name, None)
        return response


def _recorder(scrubber: _Scrubber) -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if MODE else "none",
        match_on=["method", "path", "query"],
        filter_headers=[("authorization", REDACTED)],
        filter_post_data_parameters=[(name, REDACTED) for name in SECRET_FORM_FIELDS],
        before_record_request=scrubber.request,
        before_record_response=scrubber.response,
        decode_compressed_response=True,
    )


class _Target:
    """Where requests go: the placeholder (replay), a real org, or the local stand-in."""

    def __init__(self, tmp: Path) -> None:
        self.standin: Any = None
        if MODE == "org":
            self.login_url = os.environ["CRM2_SF_LOGIN_URL"]
            self.client_id = os.environ["CRM2_SF_CLIENT_ID"]
            self.secret_env = "CRM2_SF_CLIENT_SECRET"
            self.ca_bundle = None
        elif MODE == "standin":
            from connectors.salesforce.standin import SalesforceStandIn

            self.standin = SalesforceStandIn(tmp / "org.sqlite", host="127.0.0.1", port=0, daily_limit=100_000)
            self.standin.start()
            self.standin.seed_from_generator(600, 7)  # > 450 live Accounts: the paging cassette has 3 pages
            self.login_url = self.standin.url
            self.client_id = self.standin.credentials["client_id"]
            self.secret_env = "CRM2_CONTRACT_SF_SECRET"
            os.environ[self.secret_env] = self.standin.credentials["client_secret"]
            self.ca_bundle = str(self.standin.ca_path)
        else:
            self.login_url = PLACEHOLDER
            self.client_id = "replayed-client"
            self.secret_env = "CRM2_CONTRACT_SF_SECRET"
            os.environ.setdefault(self.secret_env, "replayed-secret")
            self.ca_bundle = None

    def client(self) -> SalesforceClient:
        creds = Credentials.from_env(flow="client_credentials", login_url=self.login_url, client_id=self.client_id,
                                     client_secret_env=self.secret_env)
        return SalesforceClient(creds, api_version="62.0", ca_bundle=self.ca_bundle,
                                retry=RetryPolicy(max_attempts=2, initial_wait=0.01))

    def close(self) -> None:
        if self.standin is not None:
            self.standin.stop()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Target]:
    t = _Target(tmp_path_factory.mktemp("contract"))
    yield t
    t.close()


@pytest.fixture
def cassette(target: _Target):
    def use(name: str):
        if not MODE and not (CASSETTES / name).exists():
            pytest.fail(f"cassette {name} missing; record it (docs/salesforce-contract-tests.md)")
        if MODE:
            # vcrpy's record_mode="all" keeps a cassette's old interactions next to the new ones.
            (CASSETTES / name).unlink(missing_ok=True)
        return _recorder(_Scrubber([target.login_url])).use_cassette(name)
    return use


def test_query_paging_follows_next_records_url(target, cassette):
    with cassette("query_paging.yaml"):
        client = target.client()
        pages = list(client.query_pages(PAGING_SOQL, batch_size=200))
    records = [r for page in pages for r in page["records"]]
    assert len(pages) >= 2, "batchSize=200 over 450 rows must page"
    assert all(len(page["records"]) <= 2000 for page in pages)
    assert [p["done"] for p in pages] == [False] * (len(pages) - 1) + [True]
    assert all("nextRecordsUrl" in p for p in pages[:-1])
    assert len(records) == pages[0]["totalSize"] == len({r["Id"] for r in records})
    stamps = [(r["SystemModstamp"], r["Id"]) for r in records]
    assert stamps == sorted(stamps)
    assert client.budget.calls == len(pages) and client.budget.total


def test_describe_maps_to_a_schema_with_key_and_bookmark(target, cassette):
    with cassette("describe_account.yaml"):
        client = target.client()
        describe = client.describe("Account")
    schema, kinds = schema_from_describe(describe)
    assert describe["name"] == "Account"
    assert schema["properties"]["Id"] == {"type": "string"}
    assert kinds["SystemModstamp"] == "datetime" and kinds["IsDeleted"] == "boolean"
    assert kinds["Name"] == "string"
    assert client.budget.used is not None  # Sforce-Limit-Info was present and parsed


def test_malformed_query_error_shape(target, cassette):
    with cassette("error_malformed_query.yaml"):
        client = target.client()
        with pytest.raises(MalformedQueryError) as info:
            list(client.query("SELEC Id FROM Account"))
    assert info.value.status == 400 and info.value.error_code == "MALFORMED_QUERY"
    assert client.budget.calls == 1  # a query we built wrong is never retried


def test_expired_session_reauthenticates_once(target, cassette):
    with cassette("error_invalid_session.yaml"):
        client = target.client()
        client.authenticate()
        # A revoked token: what Salesforce sees after a session timeout.
        client._token = Token(access_token="00Dexpired", instance_url=client.instance_url)
        rows = list(client.query("SELECT Id FROM Account LIMIT 5"))
    assert len(rows) == 5
    assert client.budget.auth_calls == 2  # the first login and exactly one re-login


def test_session_refused_twice_is_an_error(target, cassette):
    """If the fresh token is refused too, the client gives up instead of looping."""
    if MODE == "org":
        pytest.skip("needs a server that keeps refusing sessions")
    with cassette("error_invalid_session_twice.yaml"):
        client = target.client()
        if MODE == "standin":
            from connectors.salesforce.standin import Faults

            target.standin.set_faults(Faults(session_expiry_every=1))
        try:
            with pytest.raises(InvalidSessionError) as info:
                client.describe("Account")
        finally:
            if MODE == "standin":
                target.standin.set_faults(None)
    assert info.value.status == 401 and info.value.error_code == "INVALID_SESSION_ID"


def test_request_limit_exceeded_error_shape(target, cassette):
    if MODE == "org":
        pytest.skip("cannot exhaust a real org's daily limit on purpose")
    with cassette("error_request_limit.yaml"):
        client = target.client()
        if MODE == "standin":
            from connectors.salesforce.standin import Faults

            target.standin.set_faults(Faults(limit_exhausted_after=0))
        try:
            with pytest.raises(RequestLimitExceeded) as info:
                client.describe("Account")
        finally:
            if MODE == "standin":
                target.standin.set_faults(None)
    assert info.value.status == 403 and info.value.error_code == "REQUEST_LIMIT_EXCEEDED"
    assert client.budget.calls == 1  # not retried: waiting will not bring quota back today


def test_bulk_query_job_lifecycle(target, cassette):
    with cassette("bulk_query_lifecycle.yaml"):
        client = target.client()
        job = BulkQuery(client, BULK_SOQL, options=BulkQueryOptions(poll_initial=0.05, max_records_per_page=100))
        job.create()
        job.wait()
        pages = list(job.result_pages())
    rows = [r for page in pages for r in page]
    assert job.state == "JobComplete"
    assert len(pages) >= 2, "maxRecords=100 must page by Sforce-Locator"
    assert len(rows) == len({r["Id"] for r in rows}) == job.number_records
    assert set(rows[0]) == {"Id", "Name", "SystemModstamp"}
