"""simple-salesforce, unmodified, against the stand-in: it must not be able to tell it from Salesforce.

simple-salesforce's login helpers hard-code ``*.salesforce.com``, so the session comes from the
stand-in's own token endpoint and is handed over as ``instance_url`` + ``session_id`` with a
``requests.Session`` that verifies against the stand-in's CA.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceMoreThanOneRecord

from connectors.salesforce.standin import SalesforceStandIn

BULK_WAIT = 0.05  # simple-salesforce sleeps this long before each job poll (default 5 s)


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SalesforceStandIn]:
    sf = SalesforceStandIn(tmp_path_factory.mktemp("ssf") / "org.sqlite").start()
    sf.insert("Account", [{"Name": f"Seed {i:04d}", "Tax_Id__c": f"T{i % 7}"} for i in range(4500)])
    yield sf
    sf.stop()


@pytest.fixture(scope="module")
def sf(standin: SalesforceStandIn) -> Salesforce:
    session = requests.Session()
    session.verify = str(standin.ca_path)
    # requests lets REQUESTS_CA_BUNDLE (set on many CI machines) override session.verify; without
    # environment trust, the stand-in's CA is the only one this session accepts.
    session.trust_env = False
    token = session.post(f"{standin.url}/services/oauth2/token", timeout=10,
                         data={"grant_type": "client_credentials", "client_id": standin.credentials["client_id"],
                               "client_secret": standin.credentials["client_secret"]}).json()
    return Salesforce(instance_url=token["instance_url"], session_id=token["access_token"], session=session,
                      version="62.0")


def test_query_all_follows_next_records_url_over_three_pages(sf, standin):
    calls = standin.api_calls()["rest"]
    result = sf.query_all("SELECT Id, Name FROM Account WHERE Name LIKE 'Seed%' ORDER BY Name")
    assert result["totalSize"] == 4500 and standin.api_calls()["rest"] - calls == 3  # 2,000 + 2,000 + 500
    names = [r["Name"] for r in result["records"]]
    assert names == [f"Seed {i:04d}" for i in range(4500)]
    assert result["records"][0]["attributes"]["type"] == "Account"
    assert sf.api_usage["api-usage"].total == 100_000


def test_upsert_by_external_id_and_ambiguity(sf):
    assert sf.Account.upsert("CRM2_Golden_Id__c/GOLD-1", {"Name": "Golden", "CRM2_Tier__c": "A"}) == 201
    assert sf.Account.upsert("CRM2_Golden_Id__c/GOLD-1", {"CRM2_Tier__c": "B"}) == 200
    record = sf.Account.get_by_custom_id("CRM2_Golden_Id__c", "GOLD-1")
    assert (record["Name"], record["CRM2_Tier__c"]) == ("Golden", "B")
    with pytest.raises(SalesforceMoreThanOneRecord) as info:
        sf.Account.upsert("Tax_Id__c/T3", {"Name": "Which one?"})
    assert len(info.value.content) > 1 and all(u.startswith("/services/data/v62.0/sobjects/Account/")
                                               for u in info.value.content)
    with pytest.raises(SalesforceMalformedRequest) as bad:
        sf.Account.create({"Name": "Bad tier", "CRM2_Tier__c": "Z"})
    assert bad.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_sobject_collections_through_restful(sf):
    created = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Account"}, "Name": "Coll 1"},
        {"attributes": {"type": "Account"}, "Name": "Coll 2", "CRM2_Health_Score__c": 71.5}]})
    assert [r["success"] for r in created] == [True, True]
    upserted = sf.restful("composite/sobjects/Account/CRM2_Golden_Id__c", method="PATCH", json={"records": [
        {"attributes": {"type": "Account"}, "CRM2_Golden_Id__c": "COLL-1", "Name": "Coll 3"},
        {"attributes": {"type": "Account"}, "CRM2_Golden_Id__c": "GOLD-X", "Name": "X" * 300}]})
    assert upserted[0]["success"] and upserted[0]["created"]
    assert upserted[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    got = sf.query(f"SELECT Name, CRM2_Health_Score__c FROM Account WHERE Id = '{created[1]['id']}'")
    assert got["records"][0]["CRM2_Health_Score__c"] == 71.5


def test_bulk2_insert_upsert_and_query(sf, standin):
    inserted = sf.bulk2.Account.insert(records=[{"Name": f"Bulk {i}"} for i in range(5)], wait=BULK_WAIT)
    assert inserted[0]["numberRecordsProcessed"] == 5 and inserted[0]["numberRecordsFailed"] == 0
    records = [{"CRM2_Golden_Id__c": f"BULK-{i}", "Name": f"Bulk upsert {i}", "CRM2_Tier__c": "C"} for i in range(3)]
    records.append({"CRM2_Golden_Id__c": "BULK-BAD", "Name": "Bad", "CRM2_Tier__c": "Q"})
    first = sf.bulk2.Account.upsert(records=records, external_id_field="CRM2_Golden_Id__c", wait=BULK_WAIT)
    assert (first[0]["numberRecordsProcessed"], first[0]["numberRecordsFailed"]) == (4, 1)
    results = sf.bulk2.Account.get_all_ingest_records(first[0]["job_id"])
    assert sorted(r["sf__Created"] for r in results["successfulRecords"]) == ["true"] * 3
    assert results["failedRecords"][0]["sf__Error"].startswith("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")
    again = sf.bulk2.Account.upsert(records=records[:3], external_id_field="CRM2_Golden_Id__c", wait=BULK_WAIT)
    rerun = sf.bulk2.Account.get_successful_records(again[0]["job_id"])
    assert [r["sf__Created"] for r in csv.DictReader(io.StringIO(rerun))] == ["false"] * 3

    pages = list(sf.bulk2.Account.query("SELECT Id, Name FROM Account WHERE Name LIKE 'Seed%'", max_records=2000,
                                        wait=BULK_WAIT))
    rows = [row for page in pages for row in csv.DictReader(io.StringIO(page))]
    assert len(pages) == 3 and len(rows) == 4500 and set(rows[0]) == {"Id", "Name"}
    assert standin.api_calls()["bulk"] > 0


def test_bulk_api_1_query_through_sf_bulk(sf, standin):
    """``sf.bulk`` is simple-salesforce's Bulk API 1.0 handler (JSON jobs, epoch-millisecond dates)."""
    rows = sf.bulk.Account.query("SELECT Id, Name, CreatedDate FROM Account WHERE Name LIKE 'Seed 001%'",
                                 lazy_operation=False, wait=BULK_WAIT)
    truth = {r["Id"]: r for r in standin.records("Account") if r["Name"].startswith("Seed 001")}
    assert len(rows) == len(truth) == 10
    for row in rows:
        assert row["Name"] == truth[row["Id"]]["Name"]
        assert isinstance(row["CreatedDate"], int)  # Bulk 1.0 JSON gives datetimes as epoch milliseconds
    assert len(sf.bulk.Account.query_all("SELECT Id FROM Account WHERE Name LIKE 'Seed 002%'",
                                         lazy_operation=False, wait=BULK_WAIT)) == 10
