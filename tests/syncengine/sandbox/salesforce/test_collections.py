"""sObject Collections: create, update, upsert, delete, retrieve (reference §1)."""

from __future__ import annotations

import json
import uuid

import requests
from simple_salesforce import Salesforce

from tests.support.salesforce_sandbox import SalesforceSandbox


def unique(prefix: str = "x") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def account(name: str | None = None, **fields: object) -> dict[str, object]:
    return {"attributes": {"type": "Account"}, "Name": name or unique("Acc"), **fields}


def test_create_mixed_types_in_order_with_partial_failure(sf: Salesforce) -> None:
    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": False,
            "records": [
                account(),
                {"attributes": {"type": "Contact"}, "FirstName": "No", "Email": "not-an-email"},
                {"attributes": {"type": "Contact"}, "LastName": "Johnson"},
            ],
        },
    )
    assert results[0]["success"] is True and results[0]["id"].startswith("001")
    assert results[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "INVALID_EMAIL_ADDRESS",
                "message": "Email: invalid email address: not-an-email",
                "fields": ["Email"],
            }
        ],
    }
    assert results[2]["success"] is True and results[2]["id"].startswith("003")
    assert results[2]["errors"] == [] and "created" not in results[2]


def test_all_or_none_rolls_back_for_real(sf: Salesforce) -> None:
    name = unique("Rollback")
    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": True,
            "records": [
                account(name),
                {"attributes": {"type": "Contact"}, "FirstName": "No last name"},
            ],
        },
    )
    assert results == [
        {
            "success": False,
            "errors": [
                {
                    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "message": "Record rolled back because not all records were valid and the "
                    "request "
                    "was using AllOrNone header",
                    "fields": [],
                }
            ],
        },
        {
            "success": False,
            "errors": [
                {
                    "statusCode": "REQUIRED_FIELD_MISSING",
                    "message": "Required fields are missing: [LastName]",
                    "fields": ["LastName"],
                }
            ],
        },
    ]
    assert sf.query(f"SELECT Id FROM Account WHERE Name = '{name}'")["totalSize"] == 0


def test_update_keeps_id_on_rollback_and_reports_wrong_type(sf: Salesforce) -> None:
    acc = sf.Account.create({"Name": unique()})["id"]
    results = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Account"}, "id": acc, "NumberOfEmployees": 27000},
                {"attributes": {"type": "Contact"}, "id": acc, "Title": "Lead Engineer"},
            ],
        },
    )
    assert results[0]["id"] == acc and results[0]["success"] is False
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"] == [
        {
            "statusCode": "MALFORMED_ID",
            "message": f"Contact ID: id value of incorrect type: {acc}",
            "fields": ["Id"],
        }
    ]
    assert sf.Account.get(acc)["NumberOfEmployees"] is None
    ok = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "records": [{"attributes": {"type": "Account"}, "Id": acc, "NumberOfEmployees": 27000}]
        },
    )
    assert ok == [{"id": acc, "success": True, "errors": []}]
    assert sf.Account.get(acc)["NumberOfEmployees"] == 27000


def test_upsert_by_external_id_reports_created(sf: Salesforce) -> None:
    a, b = unique("A"), unique("B")
    existing = sf.Account.create({"Name": "Old", "Concord_Id__c": b})["id"]
    results = sf.restful(
        "composite/sobjects/Account/Concord_Id__c",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [
                account("Company One", Concord_Id__c=a),
                account("Company Two", Concord_Id__c=b),
            ],
        },
    )
    assert results[0]["success"] and results[0]["created"] is True
    assert results[1] == {"id": existing, "success": True, "errors": [], "created": False}
    assert sf.Account.get(existing)["Name"] == "Company Two"


def test_upsert_duplicates_within_one_call_are_detected(sf: Salesforce) -> None:
    ext = unique("same")
    results = sf.restful(
        "composite/sobjects/Account/Concord_Id__c",
        method="PATCH",
        json={
            "records": [account("First", Concord_Id__c=ext), account("Second", Concord_Id__c=ext)]
        },
    )
    assert results[0]["created"] is True
    assert results[1]["created"] is False and results[1]["id"] == results[0]["id"]


def test_more_than_200_records_is_a_top_level_400(api: requests.Session, data_url: str) -> None:
    body = {"records": [account() for _ in range(201)]}
    response = api.post(f"{data_url}/composite/sobjects", json=body)
    assert response.status_code == 400
    assert response.json() == [
        {
            "message": "record limit reached. cannot submit more than 200 records into this call",
            "errorCode": "EXCEEDED_ID_LIMIT",
        }
    ]


def test_more_than_10_chunks_is_rejected(api: requests.Session, data_url: str) -> None:
    records = []
    for _ in range(6):
        records += [account(), {"attributes": {"type": "Contact"}, "LastName": "X"}]
    response = api.post(f"{data_url}/composite/sobjects", json={"records": records})
    assert response.status_code == 400


def test_delete_and_retrieve(sf: Salesforce, api: requests.Session, data_url: str) -> None:
    created = sf.restful(
        "composite/sobjects", method="POST", json={"records": [account("R1"), account("R2")]}
    )
    ids = [r["id"] for r in created]
    retrieved = sf.restful(
        "composite/sobjects/Account",
        method="GET",
        params={"ids": ",".join([*ids, "001RS0000000000"]), "fields": "Id,Name"},
    )
    assert [r["Name"] if r else None for r in retrieved] == ["R1", "R2", None]
    assert retrieved[0]["attributes"]["type"] == "Account"
    posted = sf.restful(
        "composite/sobjects/Account", method="POST", json={"ids": ids, "fields": ["Name"]}
    )
    assert [r["Name"] for r in posted] == ["R1", "R2"]
    results = sf.restful(
        "composite/sobjects",
        method="DELETE",
        params={"ids": f"{ids[0]},001RM000003oLrB000", "allOrNone": "false"},
    )
    assert results == [
        {"id": ids[0], "success": True, "errors": []},
        {
            "success": False,
            "errors": [
                {
                    "statusCode": "MALFORMED_ID",
                    "message": "malformed id 001RM000003oLrB000",
                    "fields": [],
                }
            ],
        },
    ]
    again = sf.restful("composite/sobjects", method="DELETE", params={"ids": ids[0]})
    assert again[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert again[0]["errors"][0]["message"] == "entity is deleted"


def test_collections_count_as_one_api_call(api: requests.Session, data_url: str) -> None:
    before = api.get(f"{data_url}/limits").headers["Sforce-Limit-Info"]
    api.post(f"{data_url}/composite/sobjects", json={"records": [account() for _ in range(50)]})
    after = api.get(f"{data_url}/limits").headers["Sforce-Limit-Info"]
    used = [int(h.split("=")[1].split("/")[0]) for h in (before, after)]
    assert used[1] - used[0] == 2


def test_control_records_can_be_edited_as_a_user(
    sandbox: SalesforceSandbox, sf: Salesforce
) -> None:
    acc = sf.Account.create({"Name": unique()})["id"]
    edit = sandbox.control("PATCH", f"records/Account/{acc}", json={"Rating": "Hot"})
    assert edit.status_code == 200 and edit.json()["success"] is True
    record = sf.Account.get(acc)
    assert record["Rating"] == "Hot"
    assert record["LastModifiedById"] != record["CreatedById"]  # a human made this change


def test_value_of_the_wrong_json_type_fails_the_whole_collection(
    api: requests.Session, data_url: str, sf: Salesforce
) -> None:
    # Salesforce deserialises the whole body first: one bad value fails the request as a 400
    # JSON_PARSER_ERROR, with no per-record results and nothing written
    tag = unique("Json")
    body = json.dumps(
        {"allOrNone": False, "records": [
            {"attributes": {"type": "Contact"}, "LastName": f"{tag}-ok"},
            {"attributes": {"type": "Contact"}, "LastName": f"{tag}-bad", "Score__c": "abc"},
        ]},
        separators=(",", ":"),
    )  # fmt: skip
    response = api.post(
        f"{data_url}/composite/sobjects",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    column = body.index('"abc"') + 1
    assert response.json() == [
        {
            "errorCode": "JSON_PARSER_ERROR",
            "message": "Cannot deserialize instance of double from VALUE_STRING value abc or "
            f"request may be missing a required field at [line:1, column:{column}]",
        }
    ]
    soql = f"SELECT COUNT() FROM Contact WHERE LastName LIKE '{tag}-%'"
    assert sf.query(soql)["totalSize"] == 0
    # The same through an upsert collection, and a date in another format on a single create
    upsert = api.patch(
        f"{data_url}/composite/sobjects/Contact/Concord_Id__c",
        json={"records": [{"attributes": {"type": "Contact"}, "Concord_Id__c": tag,
                           "LastName": "X", "Birthdate": "31/01/2024"}]},
    )  # fmt: skip
    assert upsert.status_code == 400
    assert upsert.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert "instance of date from VALUE_STRING value 31/01/2024" in upsert.json()[0]["message"]
    single = api.post(
        f"{data_url}/sobjects/Contact", json={"LastName": "X", "HasOptedOutOfEmail": 1}
    )
    assert single.status_code == 400
    assert single.json()[0]["message"].startswith(
        "Cannot deserialize instance of boolean from VALUE_NUMBER_INT value 1 "
    )
    # Values the deserialiser can read still go through, and each record's own checks follow
    ok = api.post(
        f"{data_url}/composite/sobjects",
        json={"records": [
            {"attributes": {"type": "Contact"}, "LastName": f"{tag}-1", "Score__c": "42",
             "Birthdate": "2024-01-31", "HasOptedOutOfEmail": "true"},
            {"attributes": {"type": "Contact"}, "FirstName": "No last name"},
        ]},
    )  # fmt: skip
    assert ok.status_code == 200
    first, second = ok.json()
    assert first["success"] is True
    assert second["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
