"""Each validation error code on the wire, in Salesforce's single-record and collection shapes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce

from tests.support.salesforce_sandbox import SalesforceSandbox


def create(
    api: requests.Session, data_url: str, sobject: str, body: dict[str, Any], **headers: str
) -> requests.Response:
    return api.post(f"{data_url}/sobjects/{sobject}/", json=body, headers=headers)


def first_error(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    return response.json()[0]


@pytest.mark.parametrize(
    ("sobject", "body", "expected"),
    [
        (
            "Contact",
            {"FirstName": "x"},
            {
                "errorCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [LastName]",
                "fields": ["LastName"],
            },
        ),
        (
            "Contact",
            {"LastName": "x" * 81},
            {
                "errorCode": "STRING_TOO_LONG",
                "message": f"Last Name: data value too large: {'x' * 81} (max length=80)",
                "fields": ["LastName"],
            },
        ),
        (
            "Contact",
            {"LastName": "x", "Email": "not-an-email"},
            {
                "errorCode": "INVALID_EMAIL_ADDRESS",
                "message": "Email: invalid email address: not-an-email",
                "fields": ["Email"],
            },
        ),
        (
            "Account",
            {"Name": "x", "Industry": "Foo"},
            {
                "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                "message": "Industry: bad value for restricted picklist field: Foo",
                "fields": ["Industry"],
            },
        ),
        (
            "Contact",
            {"LastName": "x", "Score__c": 1000},
            {
                "errorCode": "NUMBER_OUTSIDE_VALID_RANGE",
                "message": "Score: value outside of valid range on numeric field: 1000",
                "fields": ["Score__c"],
            },
        ),
        (
            "Contact",
            {"LastName": "x", "Phone": "call me"},
            {
                "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                "message": "Phone number must contain 7 to 20 digits or separators",
                "fields": ["Phone"],
            },
        ),
        (
            "Account",
            {"Name": "Invalid Test Account"},
            {
                "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                "message": "Test accounts are not allowed in this org",
                "fields": [],
            },
        ),
        (
            "Contact",
            {"LastName": "x", "Lifetime_Value__c": 5},
            {
                "errorCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
                "message": "Unable to create/update fields: Lifetime_Value__c. Please check the "
                "security settings of this field and verify that it is read/write for your profile "
                "or permission set.",
                "fields": ["Lifetime_Value__c"],
            },
        ),
        (
            "Contact",
            {"LastName": "x", "Salary__c": 5},
            {
                "errorCode": "INVALID_FIELD",
                "message": "No such column 'Salary__c' on sobject of type Contact",
                "fields": ["Salary__c"],
            },
        ),
        (
            "Contact",
            {"LastName": "x", "AccountId": "001RS0000000000"},
            {
                "errorCode": "INVALID_CROSS_REFERENCE_KEY",
                "message": "invalid cross reference id",
                "fields": ["AccountId"],
            },
        ),
    ],
)
def test_single_record_errors(
    api: requests.Session,
    data_url: str,
    sobject: str,
    body: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    assert first_error(create(api, data_url, sobject, body)) == expected


def test_trigger_and_flow_failures(api: requests.Session, data_url: str) -> None:
    trigger = first_error(create(api, data_url, "Account", {"Name": "TRIGGER FAIL now"}))
    assert trigger["errorCode"] == "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"
    assert trigger["message"].startswith("AccountTrigger: execution of BeforeInsert\n\ncaused by: ")
    flow = first_error(
        create(
            api,
            data_url,
            "Opportunity",
            {"Name": "FLOW FAIL", "StageName": "Prospecting", "CloseDate": "2030-01-01"},
        )
    )
    assert flow["errorCode"] == "CANNOT_EXECUTE_FLOW_TRIGGER"


def test_read_only_object_gives_insufficient_access(api: requests.Session, data_url: str) -> None:
    error = first_error(create(api, data_url, "Region__c", {"Name": "EMEA"}))
    assert error == {
        "errorCode": "INSUFFICIENT_ACCESS_OR_READONLY",
        "message": "insufficient access rights on object id",
        "fields": [],
    }


def test_duplicate_rules_alert_and_block(api: requests.Session, data_url: str) -> None:
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    assert create(api, data_url, "Contact", {"LastName": "A", "Email": email}).status_code == 201
    duplicate = first_error(create(api, data_url, "Contact", {"LastName": "B", "Email": email}))
    assert duplicate["errorCode"] == "DUPLICATES_DETECTED"
    assert duplicate["message"] == "Use one of these records?"
    assert duplicate["duplicateResult"]["duplicateRule"] == "Standard_Contact_Duplicate_Rule"
    assert duplicate["duplicateResult"]["matchResults"][0]["matchRecords"][0]["record"]["Id"]
    allowed = create(
        api,
        data_url,
        "Contact",
        {"LastName": "B", "Email": email},
        **{"Sforce-Duplicate-Rule-Header": "allowSave=true"},
    )
    assert allowed.status_code == 201
    assert create(api, data_url, "Lead", {"LastName": "A", "Company": "C", "Email": email}).ok
    blocked = create(
        api,
        data_url,
        "Lead",
        {"LastName": "B", "Company": "C", "Email": email},
        **{"Sforce-Duplicate-Rule-Header": "allowSave=true"},
    )
    assert first_error(blocked)["errorCode"] == "DUPLICATES_DETECTED"


def test_errors_in_collections_use_status_code(sf: Salesforce) -> None:
    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"records": [{"attributes": {"type": "Account"}, "Name": "x", "Industry": "Foo"}]},
    )
    assert results == [
        {
            "success": False,
            "errors": [
                {
                    "statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    "message": "Industry: bad value for restricted picklist field: Foo",
                    "fields": ["Industry"],
                }
            ],
        }
    ]


def test_unable_to_lock_row_fault(sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    sandbox.control("PATCH", "faults", json={"unable_to_lock_row_rate": 1.0})
    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"records": [{"attributes": {"type": "Account"}, "Name": "locked"}]},
    )
    assert results[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    assert results[0]["errors"][0]["message"].startswith("unable to obtain exclusive access")


def test_server_unavailable_and_timeout_faults(
    sandbox: SalesforceSandbox, api: requests.Session, data_url: str
) -> None:
    sandbox.control("PATCH", "faults", json={"server_unavailable_rate": 1.0})
    response = api.get(f"{data_url}/limits")
    assert response.status_code == 503
    assert response.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    sandbox.control(
        "PATCH",
        "faults",
        json={"server_unavailable_rate": 0.0, "timeout_rate": 1.0, "timeout_seconds": 1.0},
    )
    with pytest.raises(requests.exceptions.RequestException):
        api.get(f"{data_url}/limits", timeout=0.5)
    sandbox.control("PATCH", "faults", json={"timeout_rate": 0.0, "latency_ms": 200})
    response = api.get(f"{data_url}/limits")
    assert response.ok and response.elapsed.total_seconds() >= 0.2
