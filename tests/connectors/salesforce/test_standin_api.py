"""The Salesforce stand-in on the wire: SOQL, validation, upsert, collections, Bulk 2.0, faults, OAuth.

Everything over real HTTPS on loopback with plain ``requests`` verifying against the stand-in's
CA, so what is asserted is what any client would see: status codes, bodies and headers.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.salesforce.standin import Faults, SalesforceStandIn, start
from connectors.salesforce.standin.launcher import main as standin_main
from connectors.salesforce.standin.soql import (
    BoolOp,
    Comparison,
    InList,
    Like,
    Not,
    SoqlSyntaxError,
    error_report,
    parse,
)

V = "/services/data/v62.0"
SECRET_VALUE = "jane.doe.private@example.org"


class Http:
    """A requests session against one stand-in, holding a client-credentials token."""

    def __init__(self, sf: SalesforceStandIn) -> None:
        self.sf = sf
        self.session = requests.Session()
        self.token = self.fetch_token()

    def fetch_token(self) -> str:
        answer = self.session.post(self.sf.url + "/services/oauth2/token", verify=str(self.sf.ca_path), timeout=10,
                                   data={"grant_type": "client_credentials",
                                         "client_id": self.sf.credentials["client_id"],
                                         "client_secret": self.sf.credentials["client_secret"]})
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("https://") else self.sf.url + (path if path.startswith("/") else f"{V}/{path}")
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.session.request(method, url, headers=headers, verify=str(self.sf.ca_path), timeout=10, **kwargs)

    def query(self, soql: str, *, all_rows: bool = False, **kwargs: Any) -> requests.Response:
        return self("GET", "queryAll" if all_rows else "query", params={"q": soql}, **kwargs)

    def ids(self, soql: str, *, all_rows: bool = False) -> list[str]:
        answer = self.query(soql, all_rows=all_rows)
        assert answer.status_code == 200, answer.text
        return [r["Id"] for r in answer.json()["records"]]


@pytest.fixture
def sf(tmp_path: Path) -> Iterator[SalesforceStandIn]:
    standin = SalesforceStandIn(tmp_path / "org.sqlite").start()
    yield standin
    standin.stop()


@pytest.fixture
def http(sf: SalesforceStandIn) -> Http:
    return Http(sf)


def _error(answer: requests.Response) -> dict[str, Any]:
    body = answer.json()
    assert isinstance(body, list) and len(body) == 1, body
    assert set(body[0]) == {"message", "errorCode", "fields"}
    return body[0]


# -- SOQL parser --------------------------------------------------------------------------------

def test_parser_reads_the_whole_subset():
    q = parse("select Id, Name FROM Account WHERE (Name LIKE 'Ac\\_%' OR Type IN ('A', 'B')) AND "
              "CreatedDate >= 2026-01-01T00:00:00Z AND CloseDate__x != 2026-02-01 AND IsDeleted = false AND "
              "Industry != null AND Id NOT IN ('001000000000001AAA') "
              "ORDER BY Name DESC NULLS LAST, Id LIMIT 10 OFFSET 5")
    assert q.sobject == "Account" and [f.name for f in q.fields] == ["Id", "Name"]
    assert isinstance(q.where, BoolOp) and q.where.op == "AND" and len(q.where.operands) == 6
    inner = q.where.operands[0]
    assert isinstance(inner, BoolOp) and inner.op == "OR"
    assert isinstance(inner.operands[0], Like) and inner.operands[0].pattern.like == "Ac\\_%"
    assert isinstance(inner.operands[1], InList) and [v.value for v in inner.operands[1].values] == ["A", "B"]
    assert q.where.operands[1].value.kind == "datetime"
    assert q.where.operands[2].value.kind == "date" and q.where.operands[2].op == "!="
    assert q.where.operands[3].value.value is False
    assert q.where.operands[4].value.kind == "null"
    assert isinstance(q.where.operands[5], InList) and q.where.operands[5].negated
    assert [(o.field.name, o.descending, o.nulls_last) for o in q.order_by] == [("Name", True, True),
                                                                               ("Id", False, False)]
    assert (q.limit, q.offset) == (10, 5)
    assert parse("SELECT COUNT() FROM Contact").count


def test_parser_not_applies_to_one_parenthesised_condition():
    q = parse("SELECT Id FROM Account WHERE NOT (Name = 'a' OR Name = 'b')")
    assert isinstance(q.where, Not) and isinstance(q.where.operand, BoolOp)
    nested = parse("SELECT Id FROM Account WHERE Name != null AND (NOT Type = 'x')")
    assert isinstance(nested.where, BoolOp) and isinstance(nested.where.operands[1], Not)
    assert isinstance(nested.where.operands[1].operand, Comparison)


@pytest.mark.parametrize(("soql", "at", "reason"), [
    ("SELEC Id FROM Account", 0, "unexpected token: SELEC"),
    ("SELECT Id FROM", 14, "unexpected token: <EOF>"),
    ("SELECT Id, FROM Account", 11, "unexpected token: FROM"),
    ("SELECT Id FROM Account WHERE Name = 'a' AND Type = 'b' OR Industry = 'c'", 55, "unexpected token: OR"),
    ("SELECT Id FROM Account WHERE Name = 'a' AND NOT Type = 'b'", 44, "unexpected token: NOT"),
    ("SELECT Id FROM Account WHERE Name = 'abc", 36, "unterminated string"),
    ("SELECT Id FROM Account WHERE Name = 'a\\qb'", 38, "Illegal character sequence '\\q'"),
    ("SELECT Id FROM Account ORDER Name", 29, "unexpected token: Name"),
    ("SELECT Id FROM Account LIMIT 1.5", 29, "unexpected token: 1.5"),
    ("SELECT Id FROM Account WHERE Name IN 'a'", 37, "unexpected token: 'a'"),
])
def test_parser_reports_the_offending_position(soql, at, reason):
    with pytest.raises(SoqlSyntaxError) as info:
        parse(soql)
    assert info.value.pos == at and reason in info.value.message


def test_error_report_counts_rows_and_columns_like_salesforce():
    soql = "SELECT Id\nFROM Account\nWHERE Name = 'a' AND Type = 'b' OR Industry = 'c'"
    with pytest.raises(SoqlSyntaxError) as info:
        parse(soql)
    report = error_report(soql, info.value.pos, info.value.message)
    assert report.splitlines()[1:] == ["WHERE Name = 'a' AND Type = 'b' OR Industry = 'c'",
                                       " " * 32 + "^", "ERROR at Row:3:Column:33", "unexpected token: OR"]


# -- query errors on the wire ---------------------------------------------------------------------

@pytest.mark.parametrize(("soql", "code", "text"), [
    ("SELEC Id FROM Account", "MALFORMED_QUERY", "ERROR at Row:1:Column:1\nunexpected token: SELEC"),
    ("SELECT Id, Nmae FROM Account", "INVALID_FIELD", "No such column 'Nmae' on entity 'Account'"),
    ("SELECT Id FROM Acount", "INVALID_TYPE", "sObject type 'Acount' is not supported"),
    ("SELECT Id FROM Account WHERE CreatedDate > 2026-01-01", "INVALID_QUERY_FILTER_OPERATOR",
     "must be of type dateTime and should not be enclosed in quotes"),
    ("SELECT Id FROM Account WHERE Name = 5", "INVALID_QUERY_FILTER_OPERATOR", "must be of type string"),
    ("SELECT Id FROM Account WHERE Id = 'nope'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: nope"),
    ("SELECT Id FROM Account WHERE BillingAddress = null", "INVALID_FIELD", "can not be filtered"),
    ("SELECT Id, Id FROM Account", "MALFORMED_QUERY", "duplicate field selected: Id"),
])
def test_query_errors_have_salesforce_codes_and_reports(http, soql, code, text):
    answer = http.query(soql)
    assert answer.status_code == 400
    error = _error(answer)
    assert error["errorCode"] == code and text in error["message"]
    assert answer.headers["Sforce-Limit-Info"].startswith("api-usage=")


# -- query semantics ------------------------------------------------------------------------------

@pytest.fixture
def accounts(sf: SalesforceStandIn) -> dict[str, str]:
    rows = [
        {"Id": "001TESTQR000000001", "Name": "Acme_One", "Type": "Supplier", "CRM2_CLV__c": "100.50",
         "SystemModstamp": "2026-03-01T10:00:00Z", "CreatedDate": "2026-03-01T10:00:00Z"},
        {"Id": "001TESTQR000000002", "Name": "acmeTwo", "Type": None, "CRM2_CLV__c": "2000.00",
         "SystemModstamp": "2026-03-01T10:00:00Z", "CreatedDate": "2026-03-02T10:00:00Z"},
        {"Id": "001TESTQR000000003", "Name": "Bolt", "Type": "Prospect", "CRM2_CLV__c": None,
         "SystemModstamp": "2026-03-02T10:00:00.250+01:00", "CreatedDate": "2026-03-03T10:00:00Z"},
        {"Id": "001TESTQR000000004", "Name": "Zeta", "Type": "Supplier", "IsDeleted": True,
         "SystemModstamp": "2026-03-03T10:00:00Z"},
    ]
    sf.insert("Account", rows)
    return {r["Name"]: r["Id"] for r in rows}


@pytest.mark.parametrize(("where", "names"), [
    ("Name = 'ACME_ONE'", ["Acme_One"]),  # text compares case-insensitively
    ("Type != 'Supplier'", ["acmeTwo", "Bolt"]),  # != matches null, as in SOQL
    ("Type = null", ["acmeTwo"]),
    ("NOT (Type = 'Supplier')", ["acmeTwo", "Bolt"]),  # NOT is two-valued
    ("Name LIKE 'acme\\_%'", ["Acme_One"]),  # escaped wildcard matches itself
    ("Name LIKE 'acme%'", ["Acme_One", "acmeTwo"]),
    ("Type IN ('Prospect', null)", ["acmeTwo", "Bolt"]),
    ("Type NOT IN ('Prospect')", ["Acme_One", "acmeTwo"]),
    ("CRM2_CLV__c > 100.5", ["acmeTwo"]),
    ("CRM2_CLV__c >= 100.5 AND CRM2_CLV__c < 2000", ["Acme_One"]),
    ("SystemModstamp > 2026-03-01T10:00:00Z", ["Bolt"]),
    ("SystemModstamp = 2026-03-02T09:00:00.250Z", ["Bolt"]),  # +01:00 stored as UTC
    ("(SystemModstamp > 2026-03-01T10:00:00Z OR (SystemModstamp = 2026-03-01T10:00:00Z AND "
     "Id > '001TESTQR000000001'))", ["acmeTwo", "Bolt"]),
    ("IsDeleted = false AND CreatedDate < 2026-03-02T00:00:00Z", ["Acme_One"]),
])
def test_where_clauses_follow_soql_semantics(http, accounts, where, names):
    got = http.ids(f"SELECT Id FROM Account WHERE {where} ORDER BY Name")
    assert got == [accounts[n] for n in sorted(names, key=str.lower)]


def test_order_by_is_case_insensitive_nulls_first_and_honours_direction(http, accounts):
    assert http.ids("SELECT Id FROM Account ORDER BY Name") == [accounts[n] for n in ("Acme_One", "acmeTwo", "Bolt")]
    assert http.ids("SELECT Id FROM Account ORDER BY Type, Name DESC") == [
        accounts[n] for n in ("acmeTwo", "Bolt", "Acme_One")]
    assert http.ids("SELECT Id FROM Account ORDER BY Type DESC NULLS LAST, Name LIMIT 2 OFFSET 1") == [
        accounts[n] for n in ("Bolt", "acmeTwo")]


def test_count_records_and_value_shapes(http, accounts):
    body = http.query("SELECT COUNT() FROM Account WHERE Type = 'Supplier'").json()
    assert body == {"totalSize": 1, "done": True, "records": []}
    assert http.query("SELECT COUNT() FROM Account WHERE Type = 'Supplier'", all_rows=True).json()["totalSize"] == 2
    record = http.query("SELECT Id, Name, CRM2_CLV__c, IsDeleted, SystemModstamp, BillingAddress FROM Account "
                        "WHERE Name = 'Acme_One'").json()["records"][0]
    assert record["attributes"] == {"type": "Account", "url": f"{V}/sobjects/Account/{accounts['Acme_One']}"}
    assert record["CRM2_CLV__c"] == 100.5 and record["IsDeleted"] is False and record["BillingAddress"] is None
    assert record["SystemModstamp"] == "2026-03-01T10:00:00.000+0000"


def test_deleted_and_merged_rows_only_through_query_all(sf, http, accounts):
    sf.merge("Account", accounts["Acme_One"], [accounts["acmeTwo"]])
    live = set(http.ids("SELECT Id FROM Account"))
    everything = {r["Id"]: r for r in http.query("SELECT Id, IsDeleted, MasterRecordId FROM Account",
                                                 all_rows=True).json()["records"]}
    assert live == {accounts["Acme_One"], accounts["Bolt"]}
    assert set(everything) == set(accounts.values())
    merged = everything[accounts["acmeTwo"]]
    assert merged["IsDeleted"] is True and merged["MasterRecordId"] == accounts["Acme_One"]
    assert everything[accounts["Zeta"]]["IsDeleted"] is True and everything[accounts["Zeta"]]["MasterRecordId"] is None


def test_paging_honours_batch_size_and_replays_a_page(sf, http):
    sf.insert("Account", [{"Name": f"Row {i:04d}"} for i in range(650)])
    first = http.query("SELECT Id, Name FROM Account ORDER BY Name",
                       headers={"Sforce-Query-Options": "batchSize=50"}).json()  # clamped to 200
    assert first["totalSize"] == 650 and len(first["records"]) == 200 and first["done"] is False
    pages, url = [first], first["nextRecordsUrl"]
    assert url.startswith(f"{V}/query/")
    again = http("GET", url).json()
    assert again == http("GET", url).json()  # the same locator gives the same page
    while url:
        page = http("GET", url, headers={"Sforce-Query-Options": "batchSize=300"}).json()
        pages.append(page)
        url = page.get("nextRecordsUrl")
    names = [r["Name"] for p in pages for r in p["records"]]
    assert names == [f"Row {i:04d}" for i in range(650)]
    assert [len(p["records"]) for p in pages] == [200, 300, 150] and pages[-1]["done"] is True
    default = http.query("SELECT Id FROM Account").json()
    assert len(default["records"]) == 650 and default["done"] is True  # 2,000 by default
    bad = http("GET", f"{V}/query/01gNOTACURSOR00000-200")
    assert bad.status_code == 400 and _error(bad)["errorCode"] == "INVALID_QUERY_LOCATOR"


# -- validation on writes -------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "code", "fields"), [
    ({"Name": "X", "Nmae": "y"}, "INVALID_FIELD", ["Nmae"]),
    ({"Type": "Supplier"}, "REQUIRED_FIELD_MISSING", ["Name"]),
    ({"Name": "X" * 256}, "STRING_TOO_LONG", ["Name"]),
    ({"Name": "X", "CRM2_Health_Score__c": "high"}, "JSON_PARSER_ERROR", ["CRM2_Health_Score__c"]),
    ({"Name": "X", "CRM2_Scored_At__c": "yesterday"}, "JSON_PARSER_ERROR", ["CRM2_Scored_At__c"]),
    ({"Name": "X", "CRM2_Tier__c": "D"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["CRM2_Tier__c"]),
    ({"Name": "X", "SystemModstamp": "2026-01-01T00:00:00Z"}, "INVALID_FIELD_FOR_INSERT_UPDATE",
     ["SystemModstamp"]),
    ({"Name": "X", "ParentId": "003000000000000AAA"}, "MALFORMED_ID", ["ParentId"]),
    ({"Name": "X", "ParentId": "001000000000000AAA"}, "INVALID_CROSS_REFERENCE_KEY", ["ParentId"]),
    ({"Name": "X", "CRM2_Churn_Risk__c": 1e20}, "NUMBER_OUTSIDE_VALID_RANGE", ["CRM2_Churn_Risk__c"]),
])
def test_create_validation_errors(http, body, code, fields):
    answer = http("POST", "sobjects/Account", json=body)
    assert answer.status_code == 400, answer.text
    error = _error(answer)
    assert error["errorCode"] == code and error["fields"] == fields


def test_error_messages_never_echo_personal_data(http):
    answer = http("POST", "sobjects/Contact", json={"LastName": "Doe", "Email": "not an address " + SECRET_VALUE})
    too_long = http("POST", "sobjects/Contact", json={"LastName": SECRET_VALUE * 10})
    assert _error(answer)["errorCode"] == "INVALID_EMAIL_ADDRESS"
    assert _error(too_long)["errorCode"] == "STRING_TOO_LONG"
    assert SECRET_VALUE not in answer.text and SECRET_VALUE not in too_long.text


def test_writes_stamp_system_fields_and_derive_values(sf, http):
    created = http("POST", "sobjects/Contact", json={"FirstName": "Ada", "LastName": "Lovelace"})
    assert created.status_code == 201 and created.json()["success"] is True
    cid = created.json()["id"]
    assert len(cid) == 18 and cid.startswith("003")
    before = http("GET", f"sobjects/Contact/{cid}").json()
    assert before["Name"] == "Ada Lovelace" and before["OwnerId"].startswith("005")
    time.sleep(0.01)
    assert http("PATCH", f"sobjects/Contact/{cid}", json={"FirstName": "Augusta"}).status_code == 204
    after = http("GET", f"sobjects/Contact/{cid}", params={"fields": "Name,SystemModstamp"}).json()
    assert after["Name"] == "Augusta Lovelace" and after["SystemModstamp"] > before["SystemModstamp"]
    assert set(after) == {"attributes", "Name", "SystemModstamp"}
    opp = http("POST", "sobjects/Opportunity", json={"Name": "Deal", "StageName": "Closed Won",
                                                      "CloseDate": "2026-05-01", "Amount": 1234.565})
    row = http("GET", f"sobjects/Opportunity/{opp.json()['id']}").json()
    assert row["IsWon"] is True and row["IsClosed"] is True and row["Amount"] == 1234.57  # rounded to scale
    assert http("DELETE", f"sobjects/Contact/{cid}").status_code == 204
    gone = http("GET", f"sobjects/Contact/{cid}")
    assert gone.status_code == 404 and _error(gone)["errorCode"] == "ENTITY_IS_DELETED"
    assert http("GET", "sobjects/Contact/003000000000000AAA").status_code == 404
    # many rows written at once share one SystemModstamp: clients must break ties by Id
    sf.insert("Account", [{"Name": f"Tie {i}"} for i in range(50)])
    stamps = {r["SystemModstamp"] for r in http.query("SELECT SystemModstamp FROM Account").json()["records"]}
    assert len(stamps) == 1


def test_upsert_by_external_id_creates_updates_and_reports_ambiguity(sf, http):
    url = "sobjects/Account/CRM2_Golden_Id__c/G-1"
    created = http("PATCH", url, json={"Name": "Golden"})
    assert created.status_code == 201 and created.json()["created"] is True
    updated = http("PATCH", url, json={"Name": "Golden 2"})
    assert updated.status_code == 200 and updated.json() == {"id": created.json()["id"], "success": True,
                                                             "errors": [], "created": False}
    assert http("GET", "sobjects/Account/CRM2_Golden_Id__c/g-1").json()["Name"] == "Golden 2"  # case-insensitive
    # Tax_Id__c is an external id but not unique: two records can share a value
    sf.insert("Account", [{"Name": "A", "Tax_Id__c": "DE1"}, {"Name": "B", "Tax_Id__c": "DE1"}])
    ambiguous = http("PATCH", "sobjects/Account/Tax_Id__c/DE1", json={"Name": "C"})
    assert ambiguous.status_code == 300
    ids = http.ids("SELECT Id FROM Account WHERE Tax_Id__c = 'DE1' ORDER BY Id")
    assert ambiguous.json() == [f"{V}/sobjects/Account/{i}" for i in ids]
    assert http.ids("SELECT Id FROM Account WHERE Name = 'C'") == []  # nothing written
    dup = http("POST", "sobjects/Account", json={"Name": "D", "CRM2_Golden_Id__c": "G-1"})
    assert _error(dup)["errorCode"] == "DUPLICATE_VALUE"
    not_ext = http("PATCH", "sobjects/Account/Name/ACME", json={"Type": "Other"})
    assert not_ext.status_code == 404 and _error(not_ext)["errorCode"] == "NOT_FOUND"


# -- sObject Collections --------------------------------------------------------------------------

def _acct(**fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Account"}, **fields}


def test_collections_answer_per_record_in_input_order(http):
    body = {"allOrNone": False, "records": [_acct(Name="One"), _acct(Type="Other"), _acct(Name="Three")]}
    results = http("POST", "composite/sobjects", json=body).json()
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1] == {"success": False, "errors": [{"statusCode": "REQUIRED_FIELD_MISSING",
                                                       "message": "Required fields are missing: [Name]",
                                                       "fields": ["Name"]}]}
    ids = [results[0]["id"], results[2]["id"]]
    patch = {"records": [_acct(Id=ids[1], Name="Three!"), _acct(Id="001000000000000AAA", Name="?"),
                         _acct(Id=ids[0], CRM2_Tier__c="A")]}
    updated = http("PATCH", "composite/sobjects", json=patch).json()
    assert [r["success"] for r in updated] == [True, False, True] and updated[0]["id"] == ids[1]
    assert updated[1]["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    deleted = http("DELETE", "composite/sobjects", params={"ids": ",".join(ids)}).json()
    assert [(r["id"], r["success"]) for r in deleted] == [(ids[0], True), (ids[1], True)]


def test_collections_all_or_none_rolls_everything_back(http):
    body = {"allOrNone": True, "records": [_acct(Name="Kept?"), _acct(Name="X" * 300)]}
    results = http("POST", "composite/sobjects", json=body).json()
    assert [r["success"] for r in results] == [False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert http.ids("SELECT Id FROM Account") == []


def test_collections_upsert_and_the_200_record_limit(http):
    path = "composite/sobjects/Account/CRM2_Golden_Id__c"
    first = http("PATCH", path, json={"records": [_acct(CRM2_Golden_Id__c="G1", Name="a"),
                                                  _acct(CRM2_Golden_Id__c="G2", Name="b")]}).json()
    assert [(r["success"], r["created"]) for r in first] == [(True, True), (True, True)]
    second = http("PATCH", path, json={"records": [_acct(CRM2_Golden_Id__c="G2", Name="b2"),
                                                   _acct(CRM2_Golden_Id__c="G3", Name="c"),
                                                   _acct(CRM2_Golden_Id__c="G3", Name="c again")]}).json()
    assert (second[0]["success"], second[0]["created"], second[0]["id"]) == (True, False, first[1]["id"])
    assert [r["errors"][0]["statusCode"] for r in second[1:]] == ["DUPLICATE_EXTERNAL_ID"] * 2
    too_many = http("PATCH", path, json={"records": [_acct(CRM2_Golden_Id__c=f"N{i}", Name="n")
                                                     for i in range(201)]})
    assert too_many.status_code == 400 and _error(too_many)["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert http.query("SELECT COUNT() FROM Account").json()["totalSize"] == 2


# -- Bulk API 2.0 ---------------------------------------------------------------------------------

def _wait(http: Http, path: str, *, until: tuple[str, ...] = ("JobComplete", "Failed", "Aborted")) -> dict:
    seen = []
    for _ in range(200):
        info = http("GET", path).json()
        seen.append(info["state"])
        if info["state"] in until:
            return info | {"_seen": seen}
        time.sleep(0.02)
    raise AssertionError(f"job stuck: {seen}")


def test_bulk_ingest_reports_successful_and_failed_rows(http):
    job = http("POST", "jobs/ingest", json={"object": "Account", "operation": "upsert",
                                            "externalIdFieldName": "CRM2_Golden_Id__c", "lineEnding": "LF"}).json()
    assert job["state"] == "Open" and job["contentUrl"].endswith(f"/jobs/ingest/{job['id']}/batches")
    data = ("CRM2_Golden_Id__c,Name,CRM2_Health_Score__c\n"
            "G1,First,10\nG2,,20\nG3,Third,not-a-number\nG1,First again,#N/A\n")
    assert http("PUT", f"jobs/ingest/{job['id']}/batches", data=data,
                headers={"Content-Type": "text/csv"}).status_code == 201
    closed = http("PATCH", f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"}).json()
    assert closed["state"] == "UploadComplete"
    info = _wait(http, f"jobs/ingest/{job['id']}")
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 4
    assert info["numberRecordsFailed"] == 2
    ok = list(csv.DictReader(io.StringIO(http("GET", f"jobs/ingest/{job['id']}/successfulResults").text)))
    failed = list(csv.DictReader(io.StringIO(http("GET", f"jobs/ingest/{job['id']}/failedResults").text)))
    assert [(r["CRM2_Golden_Id__c"], r["sf__Created"]) for r in ok] == [("G1", "true"), ("G1", "false")]
    assert ok[0]["sf__Id"] == ok[1]["sf__Id"]
    assert [r["CRM2_Golden_Id__c"] for r in failed] == ["G2", "G3"]
    assert failed[0]["sf__Error"].startswith("REQUIRED_FIELD_MISSING:")
    assert failed[1]["sf__Error"].startswith("INVALID_TYPE_ON_FIELD_IN_RECORD:")
    record = http("GET", "sobjects/Account/CRM2_Golden_Id__c/G1").json()
    assert record["Name"] == "First again" and record["CRM2_Health_Score__c"] is None  # #N/A sets null


def test_bulk_ingest_with_an_unknown_column_fails_and_leaves_rows_unprocessed(http):
    job = http("POST", "jobs/ingest", json={"object": "Account", "operation": "insert"}).json()
    http("PUT", f"jobs/ingest/{job['id']}/batches", data="Name,Colour__c\nA,red\nB,blue\n")
    http("PATCH", f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    info = _wait(http, f"jobs/ingest/{job['id']}")
    assert info["state"] == "Failed" and "Field name not found : Colour__c" in info["errorMessage"]
    unprocessed = http("GET", f"jobs/ingest/{job['id']}/unprocessedrecords").text
    assert list(csv.reader(io.StringIO(unprocessed))) == [["Name", "Colour__c"], ["A", "red"], ["B", "blue"]]
    assert http.ids("SELECT Id FROM Account") == []
    aborted = http("POST", "jobs/ingest", json={"object": "Account", "operation": "insert"}).json()
    assert http("PATCH", f"jobs/ingest/{aborted['id']}", json={"state": "Aborted"}).json()["state"] == "Aborted"
    bad = http("POST", "jobs/ingest", json={"object": "Account", "operation": "upsert"})
    assert bad.status_code == 400


def _ingest(http: Http, job: dict[str, Any], data: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    created = http("POST", "jobs/ingest", json=job).json()
    http("PUT", f"jobs/ingest/{created['id']}/batches", data=data, headers={"Content-Type": "text/csv"})
    http("PATCH", f"jobs/ingest/{created['id']}", json={"state": "UploadComplete"})
    assert _wait(http, f"jobs/ingest/{created['id']}")["state"] == "JobComplete"
    ok = http("GET", f"jobs/ingest/{created['id']}/successfulResults").text
    failed = http("GET", f"jobs/ingest/{created['id']}/failedResults").text
    return list(csv.DictReader(io.StringIO(ok))), list(csv.DictReader(io.StringIO(failed)))


def test_bulk_update_and_delete_by_id(sf, http):
    sf.insert("Account", [{"Id": "001BULKUP000000001", "Name": "U1"}, {"Id": "001BULKUP000000002", "Name": "U2"}])
    ok, failed = _ingest(http, {"object": "Account", "operation": "update"},
                         "id,Name\n001BULKUP000000001,U1 renamed\n001BULKUP000000009,Ghost\n")
    assert [(r["sf__Id"], r["sf__Created"]) for r in ok] == [("001BULKUP000000001", "false")]
    assert failed[0]["sf__Id"] == "001BULKUP000000009"
    assert failed[0]["sf__Error"].startswith("INVALID_CROSS_REFERENCE_KEY:")
    ok, failed = _ingest(http, {"object": "Account", "operation": "delete"}, "Id\n001BULKUP000000002\n")
    assert [r["sf__Id"] for r in ok] == ["001BULKUP000000002"] and failed == []
    rows = http.query("SELECT Name, IsDeleted FROM Account ORDER BY Name", all_rows=True).json()["records"]
    assert [(r["Name"], r["IsDeleted"]) for r in rows] == [("U1 renamed", False), ("U2", True)]


def test_bulk_query_pages_by_locator_and_query_all_sees_deleted(sf, http):
    sf.insert("Account", [{"Name": f"B{i:03d}", "IsDeleted": i % 10 == 0} for i in range(250)])
    for operation, expected in (("query", 225), ("queryAll", 250)):
        job = http("POST", "jobs/query", json={"operation": operation,
                                               "query": "SELECT Id, Name, IsDeleted FROM Account"}).json()
        assert job["state"] == "UploadComplete"
        info = _wait(http, f"jobs/query/{job['id']}")
        assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == expected
        rows, locator, sizes = [], None, []
        while True:
            params = {"maxRecords": 100} | ({"locator": locator} if locator else {})
            page = http("GET", f"jobs/query/{job['id']}/results", params=params)
            assert page.headers["Content-Type"].startswith("text/csv")
            sizes.append(int(page.headers["Sforce-NumberOfRecords"]))
            rows += list(csv.DictReader(io.StringIO(page.text)))
            locator = page.headers["Sforce-Locator"]
            if locator == "null":
                break
        assert sizes == [100, 100, expected - 200] and len({r["Id"] for r in rows}) == expected
        assert {r["IsDeleted"] for r in rows} == ({"false"} if operation == "query" else {"false", "true"})
    bad = http("POST", "jobs/query", json={"operation": "query", "query": "SELECT COUNT() FROM Account"})
    assert bad.status_code == 400


# -- faults ---------------------------------------------------------------------------------------

def test_fault_limit_exhausted_after_n_calls(sf, http):
    sf.set_faults(Faults(limit_exhausted_after=sf.api_calls_total() + 2))
    assert http.query("SELECT Id FROM Account").status_code == 200
    assert http.query("SELECT Id FROM Account").status_code == 200
    refused = http.query("SELECT Id FROM Account")
    assert refused.status_code == 403 and _error(refused)["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert "api-usage=" in refused.headers["Sforce-Limit-Info"]
    assert http.fetch_token()  # logins are not API calls
    sf.set_faults(None)
    assert http.query("SELECT Id FROM Account").status_code == 200


def test_the_daily_limit_itself(tmp_path):
    with SalesforceStandIn(tmp_path / "small.sqlite", daily_limit=3) as small:
        client = Http(small)
        assert [client("GET", "limits").status_code for _ in range(4)] == [200, 200, 200, 403]
        assert client("GET", "limits").headers["Sforce-Limit-Info"] == "api-usage=5/3"


def test_fault_session_expiry_revokes_every_session(sf, http):
    other = Http(sf)
    sf.set_faults(Faults(session_expiry_every=3))
    assert [http("GET", "limits").status_code for _ in range(2)] == [200, 200]
    expired = http("GET", "limits")
    assert expired.status_code == 401 and _error(expired)["errorCode"] == "INVALID_SESSION_ID"
    assert other("GET", "limits").status_code == 401  # everyone's session is gone
    http.token = http.fetch_token()
    assert http("GET", "limits").status_code == 200


def test_fault_server_errors_next_and_after(sf, http):
    sf.set_faults(Faults(status_503_next=2))
    answers = [http("GET", "limits") for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert _error(answers[0])["errorCode"] == "SERVER_UNAVAILABLE"
    sf.set_faults(Faults(status_503_next=1))
    assert _token(sf, data={"grant_type": "client_credentials"}).status_code == 503  # logins fail too
    sf.set_faults(Faults(status_500_after=sf.api_calls_total() + 1))
    assert [http("GET", "limits").status_code for _ in range(3)] == [200, 500, 500]


def test_fault_dropped_connection_and_delay(sf, http):
    sf.set_faults(Faults(drop_connection_next=1))
    with pytest.raises(requests.ConnectionError):
        http("GET", "limits")
    assert http("GET", "limits").status_code == 200
    sf.set_faults(Faults(delay_seconds=0.3, delay_next=1))
    started = time.monotonic()
    assert http("GET", "limits").status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    http("GET", "limits")
    assert time.monotonic() - started < 0.3


def test_fault_lock_errors_are_per_row_and_deterministic(sf, http):
    def run() -> list[bool]:
        sf.set_faults(Faults(lock_row_fraction=0.5, seed=11))
        results = http("POST", "composite/sobjects",
                       json={"records": [_acct(Name=f"L{i}") for i in range(20)]}).json()
        return [r["success"] for r in results]

    first, second = run(), run()
    assert first == second and 0 < first.count(False) < 20
    sf.set_faults(Faults(lock_row_fraction=1.0))
    single = http("PATCH", "sobjects/Account/CRM2_Golden_Id__c/L", json={"Name": "L"})
    assert single.status_code == 400 and _error(single)["errorCode"] == "UNABLE_TO_LOCK_ROW"
    results = http("POST", "composite/sobjects", json={"records": [_acct(Name="x")]}).json()
    assert results[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"


def test_faults_from_a_json_file(tmp_path):
    path = tmp_path / "faults.json"
    path.write_text(json.dumps({"status_503_next": 2, "seed": 3}))
    assert Faults.from_file(path) == Faults(status_503_next=2, seed=3)
    path.write_text(json.dumps({"status_503_nxt": 2}))
    with pytest.raises(ValueError, match=r"unknown fault setting.*status_503_nxt"):
        Faults.from_file(path)


# -- OAuth, TLS, counters, persistence ------------------------------------------------------------

def _token(sf: SalesforceStandIn, **kwargs: Any) -> requests.Response:
    return requests.post(sf.url + "/services/oauth2/token", verify=str(sf.ca_path), timeout=10, **kwargs)


def test_oauth_flows_and_token_shape(sf):
    creds = sf.credentials
    cc = _token(sf, data={"grant_type": "client_credentials", "client_id": creds["client_id"],
                          "client_secret": creds["client_secret"]})
    body = cc.json()
    assert cc.status_code == 200
    assert set(body) >= {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"}
    assert body["instance_url"] == sf.url and body["token_type"] == "Bearer"
    expected = base64.b64encode(hmac.new(creds["client_secret"].encode(), (body["id"] + body["issued_at"]).encode(),
                                         hashlib.sha256).digest()).decode()
    assert body["signature"] == expected
    basic = base64.b64encode(f"{creds['client_id']}:{creds['client_secret']}".encode()).decode()
    assert _token(sf, data={"grant_type": "client_credentials"},
                  headers={"Authorization": f"Basic {basic}"}).status_code == 200
    password = _token(sf, data={"grant_type": "password", "client_id": creds["client_id"],
                                "client_secret": creds["client_secret"], "username": creds["username"],
                                "password": creds["password"] + creds["security_token"]})
    assert password.status_code == 200
    claims = {"iss": creds["client_id"], "sub": creds["username"], "aud": sf.url, "exp": int(time.time()) + 120}
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    signed = jwt.encode(claims, creds["private_key"], algorithm="RS256")
    assert _token(sf, data={"grant_type": grant, "assertion": signed}).status_code == 200
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    forged = _token(sf, data={"grant_type": grant, "assertion": jwt.encode(claims, stranger, algorithm="RS256")})
    assert forged.status_code == 400 and forged.json()["error"] == "invalid_grant"
    wrong = _token(sf, data={"grant_type": "client_credentials", "client_id": creds["client_id"],
                             "client_secret": "guess"})
    assert wrong.status_code == 400 and wrong.json() == {"error": "invalid_client",
                                                         "error_description": "invalid client credentials"}
    bad_user = _token(sf, data={"grant_type": "password", "client_id": creds["client_id"],
                                "username": creds["username"], "password": "guess"})
    assert bad_user.json()["error"] == "invalid_grant"


def test_tls_is_verified_against_the_standin_ca_only(sf):
    session = requests.Session()
    session.trust_env = False  # the machine's CA bundle, which does not know our throwaway CA
    with pytest.raises(requests.exceptions.SSLError):
        session.get(sf.url + "/services/data", timeout=10)
    assert session.get(sf.url + "/services/data", verify=str(sf.ca_path), timeout=10).status_code == 200


def test_unauthenticated_calls_get_invalid_session(sf):
    answer = requests.get(sf.url + f"{V}/limits", verify=str(sf.ca_path), timeout=10,
                          headers={"Authorization": "Bearer 00Dbogus!token"})
    assert answer.status_code == 401 and _error(answer)["errorCode"] == "INVALID_SESSION_ID"


def test_counters_separate_kinds_and_writes(sf, http):
    before = sf.api_calls()
    http.query("SELECT Id FROM Account")
    http("POST", "sobjects/Account", json={"Name": "W"})
    http("POST", "jobs/query", json={"operation": "query", "query": "SELECT Id FROM Account"})
    http.fetch_token()
    after = sf.api_calls()
    assert {k: after[k] - before[k] for k in after} == {"rest": 2, "bulk": 1, "auth": 1, "writes": 1}
    assert sf.api_calls_total() == after["rest"] + after["bulk"] + after["auth"]
    assert sf.write_calls_total() == after["writes"]


def test_describe_reports_what_clients_rely_on(http):
    describe = http("GET", "sobjects/Account/describe").json()
    fields = {f["name"]: f for f in describe["fields"]}
    assert describe["keyPrefix"] == "001" and describe["name"] == "Account"
    golden = fields["CRM2_Golden_Id__c"]
    assert golden["externalId"] and golden["unique"] and golden["idLookup"] and golden["type"] == "string"
    assert [p["value"] for p in fields["CRM2_Tier__c"]["picklistValues"]] == ["A", "B", "C"]
    assert fields["CRM2_Tier__c"]["restrictedPicklist"] is True
    assert fields["CRM2_CLV__c"]["type"] == "currency" and fields["CRM2_Scored_At__c"]["type"] == "datetime"
    assert fields["Name"]["nillable"] is False and fields["SystemModstamp"]["createable"] is False
    assert fields["BillingAddress"]["type"] == "address" and fields["ParentId"]["referenceTo"] == ["Account"]
    names = {o["name"] for o in http("GET", "sobjects").json()["sobjects"]}
    assert names == {"Account", "Contact", "Opportunity", "Case", "Task", "Event", "Survey_Response__c"}
    versions = requests.get(http.sf.url + "/services/data/", verify=str(http.sf.ca_path), timeout=10).json()
    assert {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"} in versions
    assert http("GET", "sobjects/Nope/describe").status_code == 404


def test_state_survives_a_restart(tmp_path):
    db = tmp_path / "org.sqlite"
    with SalesforceStandIn(db) as first:
        client = Http(first)
        created = client("PATCH", "sobjects/Account/CRM2_Golden_Id__c/KEEP", json={"Name": "Kept"}).json()["id"]
        client("DELETE", f"sobjects/Account/{client('POST', 'sobjects/Account', json={'Name': 'Gone'}).json()['id']}")
        secret, old_url = first.credentials["client_secret"], first.url
    with pytest.raises(requests.ConnectionError):
        requests.get(old_url + "/services/data", verify=str(first.ca_path), timeout=5)
    with SalesforceStandIn(db) as second:
        assert second.credentials["client_secret"] == secret
        client = Http(second)
        assert client("GET", "sobjects/Account/CRM2_Golden_Id__c/KEEP").json()["Id"] == created
        rows = client.query("SELECT Name, IsDeleted FROM Account ORDER BY Name", all_rows=True).json()["records"]
        assert [(r["Name"], r["IsDeleted"]) for r in rows] == [("Gone", True), ("Kept", False)]
        new = client("POST", "sobjects/Account", json={"Name": "After"}).json()["id"]
        assert new not in {created}  # ids keep counting after a restart


# -- the launcher behind `crm2 sandbox salesforce` and `crm2 demo` --------------------------------

def test_start_seeds_once_and_hands_over_a_working_config(tmp_path):
    handle = start(tmp_path, customers=20, seed=5)
    try:
        secret = handle.env["CRM2_SF_CLIENT_SECRET"]
        assert handle.seeded and handle.counts["Account"] > 0 and handle.counts["Contact"] > 0
        cfg = handle.tap_config
        assert cfg["instance_url"] == handle.server.url and Path(cfg["ca_bundle"]).exists()
        assert cfg["client_secret_env"] == "CRM2_SF_CLIENT_SECRET" and "Survey_Response__c" in cfg["objects"]
        assert secret not in handle.describe() and secret not in json.dumps(cfg)
        for private in (tmp_path / "salesforce.env", tmp_path / "salesforce.sqlite"):
            assert private.stat().st_mode & 0o077 == 0, f"{private.name} is readable by others"
        refresh = handle.server.credentials["refresh_token"]
        assert (tmp_path / "salesforce.env").read_text() == (f"CRM2_SF_CLIENT_SECRET={secret}\n"
                                                             f"CRM2_SF_REFRESH_TOKEN={refresh}\n")
        assert refresh not in handle.describe() and refresh not in json.dumps(cfg)
        client = Http(handle.server)
        assert client("GET", "limits").status_code == 200
        # faults can be switched on while the sandbox runs
        (tmp_path / "salesforce-faults.json").write_text(json.dumps({"status_503_next": 1}))
        deadline = time.monotonic() + 5
        while client("GET", "limits").status_code != 503:
            assert time.monotonic() < deadline, "faults file not picked up"
            time.sleep(0.1)
        counts = handle.counts
    finally:
        handle.stop()
    again = start(tmp_path, customers=999, seed=1)
    try:
        assert not again.seeded and again.counts == counts  # an existing org is not re-seeded
        assert again.env["CRM2_SF_CLIENT_SECRET"] == secret
    finally:
        again.stop()


def test_module_entry_point_rejects_bad_fault_settings(tmp_path, capsys):
    bad = tmp_path / "faults.json"
    bad.write_text('{"status_503_next": 1,}')
    assert standin_main(["--workdir", str(tmp_path), "--faults", str(bad)]) == 2
    assert "faults.json:1:" in capsys.readouterr().err
