"""Single-record REST, describe, limits and sessions, driven through simple-salesforce."""

from __future__ import annotations

import uuid

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from tests.support.salesforce_sandbox import API_VERSION, SalesforceSandbox


def unique(prefix: str = "x") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_versions_resource_is_open_and_lists_versions(sandbox: SalesforceSandbox) -> None:
    response = sandbox.session().get(f"{sandbox.url}/services/data/", timeout=10)
    assert response.status_code == 200
    assert {
        "label": f"v{API_VERSION}",
        "url": f"/services/data/v{API_VERSION}",
        "version": API_VERSION,
    } in response.json()


def test_every_api_response_carries_limit_info(api: requests.Session, data_url: str) -> None:
    first = api.get(f"{data_url}/limits/")
    second = api.get(f"{data_url}/sobjects/Account/describe/")
    missing = api.get(f"{data_url}/sobjects/Account/001RS0000000000AAA")
    for response in (first, second, missing):
        assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")
    used_first = int(first.headers["Sforce-Limit-Info"].split("=")[1].split("/")[0])
    used_second = int(second.headers["Sforce-Limit-Info"].split("=")[1].split("/")[0])
    assert used_second == used_first + 1
    assert first.json()["DailyApiRequests"]["Max"] == 15000
    assert first.json()["DailyApiRequests"]["Remaining"] == 15000 - used_first


def test_simple_salesforce_tracks_usage(sf: Salesforce) -> None:
    sf.limits()
    usage = sf.api_usage["api-usage"]
    assert usage.total == 15000 and usage.used >= 1


def test_daily_limit_exceeded_gives_403(sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    sandbox.control("PATCH", "limits", json={"daily_api_limit": 5, "api_calls_used": 5})
    try:
        with pytest.raises(SalesforceRefusedRequest) as caught:
            sf.Account.describe()
        assert caught.value.status == 403
        assert caught.value.content == [
            {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
        ]
    finally:
        sandbox.control("PATCH", "limits", json={"daily_api_limit": 15000, "api_calls_used": 0})


def test_missing_or_bad_token_gives_401(sandbox: SalesforceSandbox, data_url: str) -> None:
    response = sandbox.session().get(
        f"{data_url}/limits/", headers={"Authorization": "Bearer nope"}
    )
    assert response.status_code == 401
    assert response.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_global_and_object_describe_respect_field_level_security(sf: Salesforce) -> None:
    names = {o["name"]: o for o in sf.describe()["sobjects"]}
    assert {
        "Account",
        "Contact",
        "Lead",
        "Opportunity",
        "Task",
        "OpportunityContactRole",
        "Project__c",
    } <= set(names)
    assert names["Account"]["keyPrefix"] == "001" and names["Lead"]["keyPrefix"] == "00Q"
    contact = sf.Contact.describe()
    fields = {f["name"]: f for f in contact["fields"]}
    assert "Salary__c" not in fields  # hidden by FLS: simply absent
    assert fields["Lifetime_Value__c"]["updateable"] is False
    assert fields["Lifetime_Value__c"]["createable"] is False
    assert fields["LastName"]["nillable"] is False and fields["LastName"]["length"] == 80
    ext = fields["Concord_Id__c"]
    assert ext["externalId"] and ext["unique"] and ext["idLookup"]
    assert fields["AccountId"]["referenceTo"] == ["Account"]
    assert fields["AccountId"]["relationshipName"] == "Account"
    # The platform's own fields are never null; ids take 18 bytes, text 3 per character
    for name in ("Id", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById",
                 "SystemModstamp", "OwnerId", "IsDeleted"):  # fmt: skip
        assert fields[name]["nillable"] is False, name
    assert fields["Title"]["nillable"] is True and fields["AccountId"]["nillable"] is True
    assert [fields[n]["byteLength"] for n in ("Id", "AccountId", "OwnerId")] == [18, 18, 18]
    assert fields["LastName"]["byteLength"] == 240
    assert fields["CreatedDate"]["byteLength"] == 0 and fields["Score__c"]["byteLength"] == 0
    stage = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}["StageName"]
    assert stage["restrictedPicklist"] is True
    assert "Closed Won" in [v["value"] for v in stage["picklistValues"]]


def test_describe_if_modified_since_gives_304(api: requests.Session, data_url: str) -> None:
    first = api.get(f"{data_url}/sobjects/Contact/describe")
    again = api.get(
        f"{data_url}/sobjects/Contact/describe",
        headers={"If-Modified-Since": first.headers["Last-Modified"]},
    )
    assert again.status_code == 304 and again.content == b""


def test_create_get_update_delete(sf: Salesforce) -> None:
    created = sf.Account.create({"Name": unique("Acme"), "Industry": "Banking"})
    assert created["success"] is True and created["errors"] == []
    account_id = created["id"]
    assert len(account_id) == 18 and account_id.startswith("001")
    record = sf.Account.get(account_id)
    assert record["attributes"]["type"] == "Account"
    assert record["Industry"] == "Banking" and record["IsDeleted"] is False
    assert record["CreatedDate"].endswith("+0000") and len(record["CreatedDate"]) == 28
    assert sf.Account.update(account_id, {"Phone": "555-0100"}) == 204
    updated = sf.Account.get(account_id)
    assert updated["Phone"] == "555-0100"
    assert updated["SystemModstamp"] >= record["SystemModstamp"]
    assert sf.Account.get(account_id[:15])["Id"] == account_id  # 15-char ids are accepted
    assert sf.Account.delete(account_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Account.get(account_id)
    assert caught.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.update(account_id, {"Phone": "1"})
    assert caught.value.content == [
        {"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}
    ]


def test_unknown_record_is_404_not_found(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Contact.get("003RS0000000000AAA"[:15])
    assert caught.value.content == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]


def test_upsert_by_external_id_201_then_200_then_300(
    sf: Salesforce, sandbox: SalesforceSandbox
) -> None:
    ext = unique("ext")
    first = sf.Contact.upsert(f"Concord_Id__c/{ext}", {"LastName": "One"}, raw_response=True)
    assert first.status_code == 201
    assert first.json()["created"] is True and first.json()["success"] is True
    second = sf.Contact.upsert(f"Concord_Id__c/{ext}", {"LastName": "Two"}, raw_response=True)
    assert second.status_code == 200
    assert second.json() == {
        "id": first.json()["id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    assert sf.Contact.get_by_custom_id("Concord_Id__c", ext)["LastName"] == "Two"


def test_upsert_update_only_404(sf: Salesforce, api: requests.Session, data_url: str) -> None:
    response = api.patch(
        f"{data_url}/sobjects/Contact/Concord_Id__c/{unique()}?updateOnly=true",
        json={"LastName": "X"},
    )
    assert response.status_code == 404


def test_more_than_one_external_id_match_gives_300(
    sf: Salesforce, sandbox: SalesforceSandbox
) -> None:
    legacy = unique("legacy")
    ids = [
        sandbox.control(
            "POST", "records/Lead", json={"LastName": n, "Company": "C", "Legacy_Id__c": legacy}
        ).json()["id"]
        for n in ("A", "B")
    ]
    with pytest.raises(SalesforceMoreThanOneRecord) as caught:
        sf.Lead.upsert(f"Legacy_Id__c/{legacy}", {"Title": "CEO"})
    assert caught.value.status == 300
    assert sorted(caught.value.content) == sorted(
        f"/services/data/v{API_VERSION}/sobjects/Lead/{i}" for i in ids
    )


def test_unique_field_rejects_duplicates_case_insensitively(sandbox: SalesforceSandbox) -> None:
    ext = unique("LEAD")
    first = sandbox.control(
        "POST", "records/Lead", json={"LastName": "A", "Company": "C", "Concord_Id__c": ext}
    ).json()
    second = sandbox.control(
        "POST",
        "records/Lead",
        json={"LastName": "B", "Company": "C", "Concord_Id__c": ext.lower()},
        check=False,
    ).json()
    assert first["success"] is True
    assert second == {
        "success": False,
        "errors": [
            {
                "statusCode": "DUPLICATE_VALUE",
                "message": "duplicate value found: Concord_Id__c duplicates value on record "
                "with id: "
                f"{first['id']}",
                "fields": [],
            }
        ],
    }


def test_expired_access_token_gives_401(sandbox: SalesforceSandbox) -> None:
    sf = sandbox.client()
    sf.Account.describe()
    sandbox.control("POST", "tokens/expire", json={"access_token": sf.session_id})
    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.Account.describe()
    assert caught.value.content[0]["errorCode"] == "INVALID_SESSION_ID"


def test_method_not_allowed(api: requests.Session, data_url: str) -> None:
    response = api.put(f"{data_url}/sobjects/Account/describe")
    assert response.status_code == 405
    assert response.json() == [
        {
            "message": "HTTP Method 'PUT' not allowed. Allowed are GET,HEAD",
            "errorCode": "METHOD_NOT_ALLOWED",
        }
    ]
    response = api.delete(f"{data_url}/sobjects/")
    assert response.status_code == 405
    assert response.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"
