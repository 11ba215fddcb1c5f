"""singer-io's tap-salesforce 2.8.1, a tap nobody on the project wrote, against the stand-in.

The tap hard-codes its login host (``https://login.salesforce.com/services/oauth2/token``) and
logs in with a refresh token. Nothing in it is patched: the test points only that host at the
stand-in, through an HTTPS proxy (``HTTPS_PROXY``) that tunnels ``login.salesforce.com:443`` to
the stand-in's port and refuses every other host, with the stand-in's certificate valid for that
name and its CA given as ``REQUESTS_CA_BUNDLE``. The token answer's ``instance_url`` then leads
the tap to the stand-in directly (``NO_PROXY``).

Three runs, each compared field by field with the org's own rows: a full REST sync of Account
and Contact (queryAll, deleted and merged rows included, paged), an incremental second run from
the first run's bookmark (``...000000Z``: six fractional digits), and a full Bulk API 1.0 sync.
The tap runs in its own virtualenv (tests/thirdparty_venvs.py): its pins conflict with singer-sdk.
"""

from __future__ import annotations

import json
import os
import re
import select
import socket
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from thirdparty_venvs import VenvUnavailable, tap_executable

from connectors.salesforce.standin import SalesforceStandIn

LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")
STREAMS = ("Account", "Contact")
START_DATE = "2000-01-01T00:00:00Z"


# -- the login host, redirected ----------------------------------------------------------------

class _Tunnel(socketserver.BaseRequestHandler):
    """One CONNECT tunnel: the login host's port 443 becomes the stand-in's port."""

    server: LoginRedirect

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        method, target = [*head.split(b"\r\n", 1)[0].split(b" "), b"", b""][:2]
        host, _, port = target.decode("ascii", "replace").rpartition(":")
        if method != b"CONNECT" or host not in LOGIN_HOSTS or port != "443":
            self.server.refused.append(target.decode("ascii", "replace"))
            self.request.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        upstream = socket.create_connection(self.server.upstream, timeout=30)
        self.server.tunnels += 1
        self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        sockets = [self.request, upstream]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 30)
                if not readable:
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is self.request else self.request).sendall(data)
        finally:
            upstream.close()


class LoginRedirect(socketserver.ThreadingTCPServer):
    """An HTTPS proxy on loopback that only knows the way to Salesforce's login hosts."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: tuple[str, int]) -> None:
        super().__init__(("127.0.0.1", 0), _Tunnel)
        self.upstream = upstream
        self.tunnels = 0
        self.refused: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


# -- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tap_salesforce() -> Path:
    try:
        return tap_executable("tap-salesforce")
    except VenvUnavailable as exc:
        pytest.skip(f"tap-salesforce 2.8.1 is not installable here: {exc}")


def _accounts(n: int) -> list[dict[str, Any]]:
    industries = ("Energy", "Banking", None, "Retail")
    return [{"Id": f"001TSF{i:012d}", "Name": f"Account {i} 株式会社" if i % 7 == 0 else f"Account {i}",
             "Type": "Customer - Direct" if i % 2 else "Channel Partner / Reseller",
             "Industry": industries[i % 4], "AnnualRevenue": str(Decimal(1000 * i + 7)),
             "NumberOfEmployees": i * 3 if i % 5 else None, "Rating": ("Hot", "Warm", "Cold")[i % 3],
             "BillingCity": "Zürich" if i % 3 == 0 else "Lyon", "BillingCountry": "CH" if i % 3 == 0 else "FR",
             "Website": f"https://a{i}.example.com", "Description": "line one\nline \"two\", with comma",
             "CRM2_Health_Score__c": i / 7, "CreatedDate": "2025-01-01T00:00:00Z",
             "SystemModstamp": f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00.{i % 1000:03d}Z"}
            for i in range(n)]


def _contacts(n: int) -> list[dict[str, Any]]:
    return [{"Id": f"003TSF{i:012d}", "LastName": f"Person {i}", "FirstName": None if i % 4 == 0 else "Ann",
             "AccountId": f"001TSF{i % 50:012d}", "Email": f"p{i}@example.org",
             "SystemModstamp": f"2026-09-{1 + i % 28:02d}T10:00:{i % 60:02d}.000Z"} for i in range(n)]


@pytest.fixture
def org(tmp_path: Path) -> Iterator[SalesforceStandIn]:
    sf = SalesforceStandIn(tmp_path / "org.sqlite", extra_hostnames=LOGIN_HOSTS).start()
    sf.insert("Account", _accounts(230))
    sf.insert("Contact", _contacts(140))
    sf.merge("Account", "001TSF000000000001", ["001TSF000000000002"])
    session = requests.Session()
    token = session.post(sf.url + "/services/oauth2/token", verify=str(sf.ca_path), timeout=10, data={
        "grant_type": "client_credentials", "client_id": sf.credentials["client_id"],
        "client_secret": sf.credentials["client_secret"]}).json()["access_token"]
    deleted = session.delete(sf.url + "/services/data/v61.0/sobjects/Contact/003TSF000000000005",
                             headers={"Authorization": f"Bearer {token}"}, verify=str(sf.ca_path), timeout=10)
    assert deleted.status_code == 204
    yield sf
    sf.stop()


@pytest.fixture
def redirect(org: SalesforceStandIn) -> Iterator[LoginRedirect]:
    host, port = org._server.server_address[:2]
    proxy = LoginRedirect((str(host), int(port)))
    thread = threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()


# -- running the tap ---------------------------------------------------------------------------

class TapSalesforce:
    def __init__(self, executable: Path, org: SalesforceStandIn, proxy: LoginRedirect, workdir: Path) -> None:
        self.executable = executable
        self.org = org
        self.proxy = proxy
        self.workdir = workdir
        creds = org.credentials
        self.secrets = [creds["client_secret"], creds["refresh_token"]]

    def _config(self, api_type: str) -> Path:
        creds = self.org.credentials
        path = self.workdir / f"tap-salesforce-{api_type}.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds secrets: the tap's format
        with os.fdopen(fd, "w") as out:
            json.dump({"client_id": creds["client_id"], "client_secret": creds["client_secret"],
                       "refresh_token": creds["refresh_token"], "start_date": START_DATE, "api_type": api_type,
                       "select_fields_by_default": True, "is_sandbox": False}, out)
        return path

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k.lower() not in ("https_proxy", "http_proxy", "no_proxy",
                                                                        "all_proxy")}
        return {**env, "HTTPS_PROXY": self.proxy.url, "NO_PROXY": "127.0.0.1,localhost",
                "REQUESTS_CA_BUNDLE": str(self.org.ca_path)}

    def _run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(self.executable), *args], capture_output=True, text=True, env=self._env(),
                              timeout=300, cwd=self.workdir)
        if proc.returncode != 0:
            raise AssertionError(f"tap-salesforce exited {proc.returncode}:\n{self.scrub(proc.stderr)[-3000:]}")
        return proc

    def scrub(self, text: str) -> str:
        """The tap logs its login request's body (secrets included): never show them in test output."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def catalog(self, api_type: str) -> Path:
        proc = self._run(["--config", str(self._config(api_type)), "--discover"])
        catalog = json.loads(proc.stdout)
        for entry in catalog["streams"]:
            root = next(m for m in entry["metadata"] if m["breadcrumb"] == [])
            if entry["stream"] in STREAMS:
                assert root["metadata"]["valid-replication-keys"] == ["SystemModstamp"]
                root["metadata"].update({"selected": True, "replication-method": "INCREMENTAL",
                                         "replication-key": "SystemModstamp"})
        path = self.workdir / f"catalog-{api_type}.json"
        path.write_text(json.dumps(catalog))
        return path

    def sync(self, api_type: str, state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        args = ["--config", str(self._config(api_type)), "--properties", str(self.catalog(api_type))]
        if state is not None:
            state_path = self.workdir / "state.json"
            state_path.write_text(json.dumps(state))
            args += ["--state", str(state_path)]
        return [json.loads(line) for line in self._run(args).stdout.splitlines() if line.strip()]


def _records(messages: list[dict[str, Any]], stream: str) -> dict[str, dict[str, Any]]:
    return {m["record"]["Id"]: m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream}


def _final_state(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return [m["value"] for m in messages if m["type"] == "STATE"][-1]


# -- comparing with the org --------------------------------------------------------------------

def _same(truth: Any, read: Any) -> bool:
    if truth is None or read is None:
        return truth is None and read is None
    if isinstance(truth, bool) or isinstance(read, bool):
        return truth == read
    if isinstance(truth, int | float | Decimal):
        return Decimal(str(truth)) == Decimal(str(read))
    if isinstance(truth, str) and len(truth) == 28 and truth[10] == "T":  # a dateTime, ...000+0000
        return datetime.strptime(truth, "%Y-%m-%dT%H:%M:%S.%f%z") == _instant(read)
    return truth == read


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _compare(org: SalesforceStandIn, stream: str, read: dict[str, dict[str, Any]], *,
             ids: set[str] | None = None) -> int:
    """Every field of every record read equals the org's; returns how many values were compared."""
    truth = {r["Id"]: r for r in org.records(stream)}
    expected = set(truth) if ids is None else ids
    assert set(read) == expected, (f"{stream}: missing {sorted(expected - set(read))[:5]}, "
                                   f"unexpected {sorted(set(read) - expected)[:5]}")
    compared = 0
    mismatches = []
    for record_id, record in read.items():
        for name, value in truth[record_id].items():
            compared += 1
            if not _same(value, record.get(name)):
                mismatches.append(f"{record_id}.{name}: org {value!r}, tap {record.get(name)!r}")
    assert not mismatches, f"{len(mismatches)} of {compared} values differ: {mismatches[:10]}"
    return compared


# -- the test ----------------------------------------------------------------------------------

def test_tap_salesforce_reads_the_standin_over_rest_incrementally_and_bulk(tap_salesforce, org, redirect,
                                                                           tmp_path):
    tap = TapSalesforce(tap_salesforce, org, redirect, tmp_path)

    # 1. full REST sync: queryAll, so deleted and merged rows come too
    first = tap.sync("REST")
    assert redirect.tunnels >= 1 and redirect.refused == []  # the login went through the redirect, only it
    compared = sum(_compare(org, stream, _records(first, stream)) for stream in STREAMS)
    accounts = _records(first, "Account")
    assert accounts["001TSF000000000002"]["IsDeleted"] is True
    assert accounts["001TSF000000000002"]["MasterRecordId"] == "001TSF000000000001"
    assert _records(first, "Contact")["003TSF000000000005"]["IsDeleted"] is True
    assert accounts["001TSF000000000003"]["BillingAddress"]["city"] == "Zürich"
    assert compared > 10_000

    # 2. incremental: the bookmark is written with six fractional digits and sent back as such
    state = _final_state(first)
    bookmark = state["bookmarks"]["Account"]["SystemModstamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", bookmark), bookmark
    session = requests.Session()
    token = session.post(org.url + "/services/oauth2/token", verify=str(org.ca_path), timeout=10, data={
        "grant_type": "client_credentials", "client_id": org.credentials["client_id"],
        "client_secret": org.credentials["client_secret"]}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    changed = session.patch(org.url + "/services/data/v61.0/sobjects/Account/001TSF000000000010", headers=auth,
                            json={"Rating": "Cold", "AnnualRevenue": 99}, verify=str(org.ca_path), timeout=10)
    assert changed.status_code == 204
    new = session.post(org.url + "/services/data/v61.0/sobjects/Account", headers=auth, json={"Name": "Newcomer"},
                       verify=str(org.ca_path), timeout=10).json()["id"]
    second = tap.sync("REST", state)
    again = _records(second, "Account")
    assert {"001TSF000000000010", new} <= set(again)
    floor = _instant(bookmark)
    assert all(_instant(r["SystemModstamp"]) >= floor for r in again.values())
    everything = {r["Id"]: r for r in org.records("Account")}
    expected = {i for i, r in everything.items()
                if datetime.strptime(r["SystemModstamp"], "%Y-%m-%dT%H:%M:%S.%f%z") >= floor}
    _compare(org, "Account", again, ids=expected)
    assert again["001TSF000000000010"]["Rating"] == "Cold"

    # 3. Bulk API 1.0, from the start: the same rows as the org holds
    bulk = tap.sync("BULK")
    bulk_compared = sum(_compare(org, stream, _records(bulk, stream)) for stream in STREAMS)
    assert bulk_compared > 10_000
    calls = org.api_calls()
    assert calls["bulk"] >= 2 * 5  # per stream: create job, add batch, close, poll, result list, result
