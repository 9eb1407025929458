"""The sandbox's User object (005 ids) and the owner checks of OwnerId, on the wire."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from syncengine.sandbox.salesforce.org import OrgDefinitionError, org_from_dict
from tests.support.salesforce_sandbox import SalesforceSandbox

INTEGRATION_USER = "005RS000000001AYAQ"
SALES_USER = "005RS000000002AYAQ"
INACTIVE_USER = "005RS000000003AYAQ"  # the default org's deactivated user


def new_user(sandbox: SalesforceSandbox, *, active: bool = True) -> str:
    """A user added the way Setup adds one (the control API); returns its id."""
    tag = uuid.uuid4().hex[:8]
    return sandbox.create(
        "User",
        Username=f"{tag}@users.example.com",
        FirstName="Una",
        LastName=f"User {tag}",
        Email=f"{tag}@users.example.com",
        IsActive=active,
    )


def test_org_file_users_are_user_records(sf: Salesforce) -> None:
    rows = sf.query(
        "SELECT Id, Name, Email, IsActive, Username FROM User "
        f"WHERE Id IN ('{INTEGRATION_USER}', '{SALES_USER}', '{INACTIVE_USER}') ORDER BY Name"
    )["records"]
    got = [(r["Id"], r["Name"], r["Email"], r["IsActive"]) for r in rows]
    assert got == [
        (INACTIVE_USER, "Fran Former", "fran.former@example.com", False),
        (INTEGRATION_USER, "Integration User", "integration@example.com", True),
        (SALES_USER, "Sam Sales", "sam.sales@example.com", True),
    ]
    assert all(r["attributes"]["type"] == "User" for r in rows)


def test_user_describe_is_read_only_and_owner_id_references_user(sf: Salesforce) -> None:
    user = sf.User.describe()
    assert user["keyPrefix"] == "005"
    assert not user["createable"] and not user["updateable"] and not user["deletable"]
    fields = {f["name"]: f for f in user["fields"]}
    assert {"Id", "Name", "Email", "IsActive", "Username"} <= set(fields)
    assert "IsDeleted" not in fields and "OwnerId" not in fields
    for sobject in ("Account", "Contact", "Lead", "Opportunity", "Task"):
        owner = {f["name"]: f for f in getattr(sf, sobject).describe()["fields"]}["OwnerId"]
        assert owner["type"] == "reference" and owner["referenceTo"] == ["User"]
        assert owner["createable"] and owner["updateable"] and owner["defaultedOnCreate"]
        assert owner["relationshipName"] == "Owner"


def test_the_api_cannot_create_or_change_users(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as created:
        sf.User.create({"Username": "x@example.com", "LastName": "X", "Email": "x@example.com"})
    assert created.value.content[0]["errorCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    with pytest.raises(SalesforceMalformedRequest) as updated:
        sf.User.update(SALES_USER, {"IsActive": False})
    assert updated.value.content[0]["errorCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"


def test_a_user_added_in_setup_is_queryable_by_its_stamp(
    sandbox: SalesforceSandbox, sf: Salesforce
) -> None:
    user_id = new_user(sandbox)
    row = sf.query(f"SELECT Id, Name, IsActive, SystemModstamp FROM User WHERE Id = '{user_id}'")
    [user] = row["records"]
    assert user_id.startswith("005") and user["IsActive"] is True
    assert user["Name"].startswith("Una User ")
    later = sf.query(f"SELECT Id FROM User WHERE SystemModstamp >= {user['SystemModstamp'][:19]}Z")[
        "records"
    ]
    assert user_id in [r["Id"] for r in later]


def test_owner_defaults_to_the_running_user_and_resolves_by_relationship(sf: Salesforce) -> None:
    account_id = sf.Account.create({"Name": f"Owned {uuid.uuid4().hex[:6]}"})["id"]
    [row] = sf.query(
        f"SELECT OwnerId, Owner.Name, Owner.Email FROM Account WHERE Id = '{account_id}'"
    )["records"]
    assert row["OwnerId"] == INTEGRATION_USER
    assert row["Owner"]["Name"] == "Integration User"
    assert row["Owner"]["Email"] == "integration@example.com"
    assert row["Owner"]["attributes"]["type"] == "User"


def test_owner_can_be_any_active_user(sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    user_id = new_user(sandbox)
    contact_id = sf.Contact.create({"LastName": "Owned", "OwnerId": user_id})["id"]
    assert sf.Contact.get(contact_id)["OwnerId"] == user_id
    sf.Contact.update(contact_id, {"OwnerId": SALES_USER})
    assert sf.Contact.get(contact_id)["OwnerId"] == SALES_USER


@pytest.mark.parametrize("sobject", ["Account", "Contact", "Lead", "Opportunity", "Task"])
def test_an_inactive_owner_is_refused_with_salesforces_body(
    sf: Salesforce, api: requests.Session, data_url: str, sobject: str
) -> None:
    body = {
        "Account": {"Name": "Acme"},
        "Contact": {"LastName": "Ada"},
        "Lead": {"LastName": "Ada", "Company": "Acme"},
        "Opportunity": {"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2026-01-01"},
        "Task": {"Subject": "Call"},
    }[sobject]
    response = api.post(f"{data_url}/sobjects/{sobject}/", json={**body, "OwnerId": INACTIVE_USER})
    assert response.status_code == 400
    assert response.json() == [
        {
            "errorCode": "INACTIVE_OWNER_OR_USER",
            "message": "operation performed with inactive user",
            "fields": [],
        }
    ]


def test_a_deactivated_user_is_refused_as_owner_on_update(
    sandbox: SalesforceSandbox, sf: Salesforce
) -> None:
    user_id = new_user(sandbox)
    contact_id = sf.Contact.create({"LastName": "Owned", "OwnerId": user_id})["id"]
    sandbox.update("User", user_id, IsActive=False)
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Contact.update(contact_id, {"OwnerId": user_id, "Title": "CEO"})
    assert refused.value.content[0]["errorCode"] == "INACTIVE_OWNER_OR_USER"
    # Nothing was written; an update leaving the owner alone still goes through.
    assert sf.Contact.get(contact_id)["Title"] is None
    sf.Contact.update(contact_id, {"Title": "CEO"})
    assert sf.Contact.get(contact_id)["OwnerId"] == user_id


@pytest.mark.parametrize(
    ("owner", "expected"),
    [
        (
            "005RS00000000ZZ",  # a well-formed user id no user has
            {"errorCode": "INVALID_CROSS_REFERENCE_KEY", "message": "invalid cross reference id",
             "fields": ["OwnerId"]},
        ),
        (
            "not-an-id",
            {"errorCode": "MALFORMED_ID", "message": "Owner ID: id value of incorrect type: "
             "not-an-id", "fields": ["OwnerId"]},
        ),
        (
            "001RS0000000001YAA",  # an Account's id
            {"errorCode": "FIELD_INTEGRITY_EXCEPTION", "message": "Owner ID: id value of "
             "incorrect type: 001RS0000000001YAA", "fields": ["OwnerId"]},
        ),
    ],
)  # fmt: skip
def test_an_owner_that_is_no_user_is_refused(
    api: requests.Session, data_url: str, owner: str, expected: dict
) -> None:
    response = api.post(f"{data_url}/sobjects/Contact/", json={"LastName": "Ada", "OwnerId": owner})
    assert response.status_code == 400
    assert response.json() == [expected]


def test_collections_refuse_an_inactive_owner_per_record(
    api: requests.Session, data_url: str
) -> None:
    response = api.post(
        f"{data_url}/composite/sobjects",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Contact"}, "LastName": "Kept", "OwnerId": SALES_USER},
                {"attributes": {"type": "Contact"}, "LastName": "Refused",
                 "OwnerId": INACTIVE_USER},
            ],
        },
    )  # fmt: skip
    assert response.status_code == 200
    kept, refused = response.json()
    assert kept["success"] is True
    assert refused == {
        "success": False,
        "errors": [
            {
                "statusCode": "INACTIVE_OWNER_OR_USER",
                "message": "operation performed with inactive user",
                "fields": [],
            }
        ],
    }


def test_org_file_users_are_checked() -> None:
    base = {"objects": {"Account": {"key_prefix": "001"}}}
    with pytest.raises(OrgDefinitionError, match="integration user"):
        org_from_dict({**base, "users": [{"username": "a", "id": "005RS000000001AYAQ"}]})
    with pytest.raises(OrgDefinitionError, match="start with 005"):
        org_from_dict(
            {**base, "users": [{"username": "a", "password": "p", "id": "001RS000000001AYAQ"}]}
        )
    with pytest.raises(OrgDefinitionError, match="built in"):
        org_from_dict(
            {
                "objects": {"User": {"key_prefix": "005"}},
                "users": [{"username": "a", "password": "p", "id": "005RS000000001AYAQ"}],
            }
        )
    org = org_from_dict(
        {**base, "users": [{"username": "A@x.com", "password": "p", "id": "005RS000000001AYAQ"}]}
    )
    assert org.sobject("user").key_prefix == "005"
    assert org.user.email == "a@x.com"


def test_bulk_ingest_refuses_an_inactive_owner_per_row(sf: Salesforce) -> None:
    tag = uuid.uuid4().hex[:8]
    records = [
        {"Concord_Id__c": f"{tag}-kept", "LastName": "Kept", "OwnerId": SALES_USER},
        {"Concord_Id__c": f"{tag}-refused", "LastName": "Refused", "OwnerId": INACTIVE_USER},
    ]
    result = sf.bulk2.Contact.upsert(records=records, external_id_field="Concord_Id__c")
    assert (result[0]["numberRecordsProcessed"], result[0]["numberRecordsFailed"]) == (2, 1)
    failures = list(
        csv.DictReader(io.StringIO(sf.bulk2.Contact.get_failed_records(result[0]["job_id"])))
    )
    assert [f["Concord_Id__c"] for f in failures] == [f"{tag}-refused"]
    assert failures[0]["sf__Error"].startswith(
        "INACTIVE_OWNER_OR_USER:operation performed with inactive user:"
    )
