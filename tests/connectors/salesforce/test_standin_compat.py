"""What third-party Salesforce clients send the stand-in, and what they must get back.

SOQL dateTime literals in every documented form, Bulk 2.0 hardDelete, Account's standard fields
and NOT_FOUND for a well-formed unknown id: each over real HTTPS on loopback with ``requests``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.salesforce.standin import SalesforceStandIn
from connectors.salesforce.standin.soql import SoqlSyntaxError, parse, parse_datetime_literal

V = "/services/data/v62.0"


class Http:
    """A requests session against one stand-in, holding a client-credentials token."""

    def __init__(self, sf: SalesforceStandIn) -> None:
        self.sf = sf
        self.session = requests.Session()
        answer = self.session.post(sf.url + "/services/oauth2/token", verify=str(sf.ca_path), timeout=10,
                                   data={"grant_type": "client_credentials", "client_id": sf.credentials["client_id"],
                                         "client_secret": sf.credentials["client_secret"]})
        assert answer.status_code == 200, answer.text
        self.token = answer.json()["access_token"]

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("https://") else self.sf.url + (path if path.startswith("/") else f"{V}/{path}")
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.session.request(method, url, headers=headers, verify=str(self.sf.ca_path), timeout=10, **kwargs)

    def names(self, soql: str, *, all_rows: bool = False) -> list[str]:
        answer = self("GET", "queryAll" if all_rows else "query", params={"q": soql})
        assert answer.status_code == 200, answer.text
        return [r["Name"] for r in answer.json()["records"]]


@pytest.fixture
def sf(tmp_path: Path) -> Iterator[SalesforceStandIn]:
    standin = SalesforceStandIn(tmp_path / "org.sqlite").start()
    yield standin
    standin.stop()


@pytest.fixture
def http(sf: SalesforceStandIn) -> Http:
    return Http(sf)


# -- SOQL dateTime literals --------------------------------------------------------------------

# The examples of Salesforce's "Date Formats and Date Literals" (SOQL and SOSL reference) and of
# the REST API's "Valid Date and DateTime Formats" page, with the UTC instant each one means.
DOCUMENTED = [
    ("1999-01-01T23:01:01+01:00", "1999-01-01T22:01:01.000000"),
    ("1999-01-01T23:01:01-08:00", "1999-01-02T07:01:01.000000"),
    ("1999-01-01T23:01:01Z", "1999-01-01T23:01:01.000000"),
    ("2005-10-08T01:02:03Z", "2005-10-08T01:02:03.000000"),
    ("2002-10-10T12:00:00+05:00", "2002-10-10T07:00:00.000000"),
    ("2002-10-10T00:00:00+05:00", "2002-10-09T19:00:00.000000"),
    # yyyy-MM-ddTHH:mm:ss.SSS+/-HH:mm and .SSSZ, and the longer fractions clients send
    ("2002-10-10T12:00:00.123+05:00", "2002-10-10T07:00:00.123000"),
    ("2002-10-10T12:00:00.123Z", "2002-10-10T12:00:00.123000"),
    ("2026-10-31T23:59:59.000000Z", "2026-10-31T23:59:59.000000"),  # tap-salesforce's bookmark form
    ("2026-10-31T23:59:59.123456Z", "2026-10-31T23:59:59.123456"),
    ("2022-12-01T10:47:53.299852-06:00", "2022-12-01T16:47:53.299852"),
    ("2026-10-31T23:59:59.5Z", "2026-10-31T23:59:59.500000"),
    ("2026-10-31T23:59:59.12345+00:00", "2026-10-31T23:59:59.123450"),
]


@pytest.mark.parametrize(("literal", "utc"), DOCUMENTED)
def test_every_documented_datetime_form_parses_to_its_utc_instant(literal, utc):
    query = parse(f"SELECT Id FROM Account WHERE CreatedDate > {literal}")
    value = query.where.value  # type: ignore[union-attr]
    assert value.kind == "datetime"
    assert value.value.replace(tzinfo=None).isoformat(timespec="microseconds") == utc
    assert parse_datetime_literal(literal).utcoffset().total_seconds() == 0


@pytest.mark.parametrize("literal", ["2026-13-01T00:00:00Z", "2026-10-31T24:00:00Z", "2026-10-31T23:59:59.1234567Z",
                                     "2026-10-31T23:59:59", "2026-10-31T23:59Z"])
def test_malformed_datetimes_are_syntax_errors(literal):
    with pytest.raises(SoqlSyntaxError):
        parse(f"SELECT Id FROM Account WHERE CreatedDate > {literal}")


@pytest.fixture
def stamped(sf: SalesforceStandIn) -> None:
    sf.insert("Account", [
        {"Name": "early", "SystemModstamp": "2026-10-31T23:59:58.999Z"},
        {"Name": "on", "SystemModstamp": "2026-10-31T23:59:59.000Z"},
        {"Name": "later", "SystemModstamp": "2026-10-31T23:59:59.001Z"},
        {"Name": "next", "SystemModstamp": "2026-11-01T00:00:00.000Z"},
    ])


@pytest.mark.parametrize(("where", "names"), [
    # the bookmark tap-salesforce sends on its second run: >= includes the record it ended on
    ("SystemModstamp >= 2026-10-31T23:59:59.000000Z", ["on", "later", "next"]),
    ("SystemModstamp > 2026-10-31T23:59:59.000000Z", ["later", "next"]),
    ("SystemModstamp = 2026-10-31T23:59:59.000000Z", ["on"]),
    ("SystemModstamp = 2026-10-31T23:59:59Z", ["on"]),
    ("SystemModstamp = 2026-11-01T01:00:00+01:00", ["next"]),
    ("SystemModstamp < 2026-10-31T15:59:59.001-08:00", ["early", "on"]),
    # a literal between two stored milliseconds: every comparison exact, equality never true
    ("SystemModstamp > 2026-10-31T23:59:59.000500Z", ["later", "next"]),
    ("SystemModstamp >= 2026-10-31T23:59:59.000500Z", ["later", "next"]),
    ("SystemModstamp < 2026-10-31T23:59:59.000500Z", ["early", "on"]),
    ("SystemModstamp <= 2026-10-31T23:59:59.000500Z", ["early", "on"]),
    ("SystemModstamp = 2026-10-31T23:59:59.000500Z", []),
    ("SystemModstamp != 2026-10-31T23:59:59.000500Z", ["early", "on", "later", "next"]),
    ("SystemModstamp IN (2026-10-31T23:59:59.000500Z, 2026-10-31T23:59:59.001000Z)", ["later"]),
    ("SystemModstamp NOT IN (2026-10-31T23:59:59.000500Z, 2026-10-31T23:59:59.001Z)", ["early", "on", "next"]),
])
def test_datetime_literals_compare_at_their_full_precision(http, stamped, where, names):
    assert http.names(f"SELECT Name FROM Account WHERE {where} ORDER BY SystemModstamp") == names


def test_a_microsecond_literal_in_a_bulk_query(sf, http, stamped):
    job = http("POST", "jobs/query", json={"operation": "query", "query": "SELECT Name FROM Account WHERE "
                                           "SystemModstamp >= 2026-10-31T23:59:59.000000Z ORDER BY SystemModstamp"})
    assert job.status_code == 200, job.text
    job_id = job.json()["id"]
    for _ in range(200):
        if http("GET", f"jobs/query/{job_id}").json()["state"] == "JobComplete":
            break
        time.sleep(0.05)
    rows = http("GET", f"jobs/query/{job_id}/results").text.splitlines()
    assert rows == ['"Name"', '"on"', '"later"', '"next"']


# -- issue 16, defect 3 ------------------------------------------------------------------------

def _bulk_ingest(http: Http, operation: str, csv_text: str) -> dict[str, Any]:
    job = http("POST", "jobs/ingest", json={"object": "Account", "operation": operation})
    assert job.status_code == 200, job.text
    job_id = job.json()["id"]
    assert http("PUT", f"jobs/ingest/{job_id}/batches", data=csv_text.encode(),
                headers={"Content-Type": "text/csv"}).status_code == 201
    http("PATCH", f"jobs/ingest/{job_id}", json={"state": "UploadComplete"})
    for _ in range(200):
        info = http("GET", f"jobs/ingest/{job_id}").json()
        if info["state"] in ("JobComplete", "Failed"):
            return info
        time.sleep(0.05)
    raise AssertionError("bulk job did not finish")


def test_bulk_hard_delete_skips_the_recycle_bin_and_delete_does_not(sf, http):
    sf.insert("Account", [{"Name": "soft"}, {"Name": "hard"}, {"Name": "kept"}])
    ids = {r["Name"]: r["Id"] for r in sf.records("Account")}
    assert _bulk_ingest(http, "delete", f"Id\n{ids['soft']}\n")["numberRecordsFailed"] == 0
    assert _bulk_ingest(http, "hardDelete", f"Id\n{ids['hard']}\n")["numberRecordsFailed"] == 0
    everything = http("GET", "queryAll", params={"q": "SELECT Name, IsDeleted FROM Account ORDER BY Name"}).json()
    assert [(r["Name"], r["IsDeleted"]) for r in everything["records"]] == [("kept", False), ("soft", True)]
    assert http("GET", f"sobjects/Account/{ids['hard']}").json()[0]["errorCode"] == "NOT_FOUND"
    assert http("GET", f"sobjects/Account/{ids['soft']}").json()[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_account_has_the_common_standard_fields(sf, http):
    fields = {f["name"]: f for f in http("GET", "sobjects/Account/describe").json()["fields"]}
    for name in ("AnnualRevenue", "NumberOfEmployees", "Rating", "Industry", "AccountNumber", "AccountSource",
                 "Ownership", "Description", "Fax", "Sic", "Site", "TickerSymbol", "YearStarted", "BillingState",
                 "ShippingStreet", "ShippingCity", "ShippingState", "ShippingPostalCode", "ShippingCountry",
                 "ShippingAddress"):
        assert name in fields, name
    assert fields["AnnualRevenue"]["type"] == "currency"
    assert fields["NumberOfEmployees"]["type"] == "int"
    assert [v["value"] for v in fields["Rating"]["picklistValues"]] == ["Hot", "Warm", "Cold"]
    created = http("POST", "sobjects/Account", json={
        "Name": "Acme", "AnnualRevenue": 1250000, "NumberOfEmployees": 42, "Rating": "Hot", "Industry": "Energy",
        "BillingState": "CA", "ShippingCity": "Oakland"})
    assert created.status_code == 201, created.text
    rows = http("GET", "query", params={"q": "SELECT Name, AnnualRevenue, NumberOfEmployees, Rating, Industry, "
                                        "BillingAddress, ShippingCity FROM Account WHERE AnnualRevenue > 1000000 "
                                        "AND NumberOfEmployees >= 42 AND Rating = 'Hot'"}).json()["records"]
    assert len(rows) == 1
    assert rows[0]["AnnualRevenue"] == 1250000 and rows[0]["NumberOfEmployees"] == 42
    assert rows[0]["BillingAddress"]["state"] == "CA" and rows[0]["ShippingCity"] == "Oakland"


def test_a_well_formed_unknown_id_is_not_found(http):
    unknown = http("GET", "sobjects/Account/001000000000000AAA")
    assert unknown.status_code == 404
    assert unknown.json() == [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND",
                               "fields": []}]
    short = http("GET", "sobjects/Account/001000000000000")
    assert short.json()[0]["message"] == "The requested resource does not exist"
    garbage = http("GET", "sobjects/Account/not-an-id")
    assert garbage.status_code == 404
    assert garbage.json()[0]["message"] == "Provided external ID field does not exist or is not accessible: not-an-id"
