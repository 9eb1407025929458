"""Bulk API 2.0 ingest and query jobs, end to end (reference §6)."""

from __future__ import annotations

import csv
import io
import time
import uuid

import pytest
import requests
from simple_salesforce import Salesforce


def wait_for(api: requests.Session, url: str) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job = api.get(url).json()
        if job["state"] in ("JobComplete", "Failed", "Aborted"):
            return job
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def test_ingest_upsert_with_simple_salesforce(sf: Salesforce) -> None:
    tag = uuid.uuid4().hex[:8]
    records = [{"Concord_Id__c": f"{tag}-{i}", "LastName": f"Bulk {i}"} for i in range(300)]
    records.append({"Concord_Id__c": f"{tag}-bad", "LastName": ""})  # fails: required
    result = sf.bulk2.Contact.upsert(records=records, external_id_field="Concord_Id__c")
    assert result[0]["numberRecordsProcessed"] == 301
    assert result[0]["numberRecordsFailed"] == 1
    job_id = result[0]["job_id"]
    successes = list(csv.DictReader(io.StringIO(sf.bulk2.Contact.get_successful_records(job_id))))
    assert len(successes) == 300
    assert successes[0]["sf__Created"] == "true" and successes[0]["sf__Id"].startswith("003")
    failures = list(csv.DictReader(io.StringIO(sf.bulk2.Contact.get_failed_records(job_id))))
    assert failures == [
        {
            "sf__Id": "",
            "sf__Error": "REQUIRED_FIELD_MISSING:Required fields are "
            "missing: [LastName]:LastName --",
            "Concord_Id__c": f"{tag}-bad",
            "LastName": "",
        }
    ]
    assert (
        sf.query(f"SELECT COUNT() FROM Contact WHERE Concord_Id__c LIKE '{tag}-%'")["totalSize"]
        == 300
    )


def test_ingest_wire_sequence_and_states(api: requests.Session, data_url: str) -> None:
    job = api.post(
        f"{data_url}/jobs/ingest",
        json={
            "object": "Account",
            "operation": "insert",
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        },
    ).json()
    assert job["state"] == "Open" and job["id"].startswith("750")
    assert (
        job["contentUrl"]
        == f"services/data/{data_url.rsplit('/', 1)[1]}/jobs/ingest/{job['id']}/batches"
    )
    upload = api.put(
        f"{data_url}/jobs/ingest/{job['id']}/batches",
        data="Name,Industry\nA,Banking\nB,Nope\n",
        headers={"Content-Type": "text/csv"},
    )
    assert upload.status_code == 201 and upload.content == b""
    closed = api.patch(f"{data_url}/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    assert closed.json()["state"] in ("UploadComplete", "InProgress", "JobComplete")
    done = wait_for(api, f"{data_url}/jobs/ingest/{job['id']}")
    assert done["state"] == "JobComplete" and done["numberRecordsFailed"] == 1
    failed = api.get(f"{data_url}/jobs/ingest/{job['id']}/failedResults/").text
    assert failed.splitlines()[0] == '"sf__Id","sf__Error","Name","Industry"'
    assert (
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:Industry: bad value for restricted picklist "
        "field: Nope:Industry --" in failed
    )
    assert api.get(f"{data_url}/jobs/ingest/{job['id']}/unprocessedrecords/").status_code == 200
    assert api.delete(f"{data_url}/jobs/ingest/{job['id']}").status_code == 204
    gone = api.get(f"{data_url}/jobs/ingest/{job['id']}")
    assert gone.status_code == 404 and gone.json()[0]["errorCode"] == "NOT_FOUND"


def test_ingest_unknown_column_fails_the_job(api: requests.Session, data_url: str) -> None:
    job = api.post(
        f"{data_url}/jobs/ingest", json={"object": "Account", "operation": "insert"}
    ).json()
    api.put(f"{data_url}/jobs/ingest/{job['id']}/batches", data="Name,Nope__c\nA,1\n")
    api.patch(f"{data_url}/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    done = wait_for(api, f"{data_url}/jobs/ingest/{job['id']}")
    assert done["state"] == "Failed"
    assert done["errorMessage"] == "InvalidBatch : Field name not found : Nope__c"


def test_query_job_with_locator_paging(
    sf: Salesforce, api: requests.Session, data_url: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "records": [
                {"attributes": {"type": "Account"}, "Name": f"{tag}-{i}"} for i in range(25)
            ]
        },
    )
    rows = []
    for page in sf.bulk2.Account.query(
        f"SELECT Id, Name FROM Account WHERE Name LIKE '{tag}-%'", max_records=10
    ):
        rows += list(csv.DictReader(io.StringIO(page)))
    assert sorted(r["Name"] for r in rows) == sorted(f"{tag}-{i}" for i in range(25))
    job = api.post(
        f"{data_url}/jobs/query",
        json={"operation": "query", "query": f"SELECT Name FROM Account WHERE Name LIKE '{tag}-%'"},
    ).json()
    wait_for(api, f"{data_url}/jobs/query/{job['id']}")
    page = api.get(f"{data_url}/jobs/query/{job['id']}/results", params={"maxRecords": 20})
    assert (
        page.headers["Sforce-NumberOfRecords"] == "20" and page.headers["Sforce-Locator"] != "null"
    )
    last = api.get(
        f"{data_url}/jobs/query/{job['id']}/results",
        params={"maxRecords": 20, "locator": page.headers["Sforce-Locator"]},
    )
    assert (
        last.headers["Sforce-NumberOfRecords"] == "5" and last.headers["Sforce-Locator"] == "null"
    )


def test_query_job_rejects_bad_soql(api: requests.Session, data_url: str) -> None:
    response = api.post(
        f"{data_url}/jobs/query", json={"operation": "query", "query": "SELECT Nope FROM Account"}
    )
    assert response.status_code == 400 and response.json()[0]["errorCode"] == "INVALID_FIELD"


@pytest.mark.parametrize(
    ("soql", "message"),
    [
        ("SELECT Id FROM Account ORDER BY Name LIMIT 10 OFFSET 5",
         "OFFSET not supported in Bulk Query"),
        ("SELECT COUNT() FROM Account", "Aggregate queries not supported in Bulk Query"),
    ],
)  # fmt: skip
def test_query_job_refuses_offset_and_aggregates(
    api: requests.Session, data_url: str, soql: str, message: str
) -> None:
    response = api.post(f"{data_url}/jobs/query", json={"operation": "query", "query": soql})
    assert response.status_code == 400
    assert response.json() == [{"errorCode": "API_ERROR", "message": message}]
    assert api.get(f"{data_url}/query/", params={"q": soql}).status_code == 200  # REST takes it


def test_result_files_have_one_line_per_row(
    sf: Salesforce, api: requests.Session, data_url: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    job = api.post(
        f"{data_url}/jobs/ingest",
        json={"object": "Account", "operation": "insert", "lineEnding": "LF"},
    ).json()
    rows = "".join(f"{tag}-{i}\n" for i in range(3)) + "\n"  # a blank line is no record
    upload = api.put(
        f"{data_url}/jobs/ingest/{job['id']}/batches",
        data=f"Name\n{rows}".encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert upload.status_code == 201
    api.patch(f"{data_url}/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    wait_for(api, f"{data_url}/jobs/ingest/{job['id']}")
    ok = api.get(f"{data_url}/jobs/ingest/{job['id']}/successfulResults/").text
    assert ok.count("\n") == 4 and "\n\n" not in ok and "\r" not in ok and ok.endswith("\n")
    query = api.post(
        f"{data_url}/jobs/query",
        json={"operation": "query", "query": f"SELECT Name FROM Account WHERE Name LIKE '{tag}-%'"},
    ).json()
    wait_for(api, f"{data_url}/jobs/query/{query['id']}")
    text = api.get(f"{data_url}/jobs/query/{query['id']}/results").text
    assert text.count("\n") == 4 and "\n\n" not in text and "\r" not in text
    assert sorted(text.splitlines()[1:]) == [f'"{tag}-{i}"' for i in range(3)]
