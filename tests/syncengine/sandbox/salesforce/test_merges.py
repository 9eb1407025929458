"""The control API's record merge: as Salesforce's UI and SOAP merge() do it."""

from __future__ import annotations

import uuid

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from tests.support.salesforce_sandbox import SalesforceSandbox


def _contact(sf: Salesforce, **values) -> str:
    values.setdefault("LastName", "Merge")
    return sf.Contact.create(values)["id"]


def test_merge_keeps_the_master_deletes_victims_with_master_record_id_and_reparents(
    sandbox: SalesforceSandbox, sf: Salesforce
) -> None:
    tag = uuid.uuid4().hex[:8]
    account = sf.Account.create({"Name": f"Merge {tag}"})["id"]
    master = _contact(sf, FirstName="Ada", Title="")
    first = _contact(sf, FirstName="Augusta", Title="Countess", Email=f"{tag}@example.com")
    second = _contact(sf, FirstName="Lovelace", Department="Maths")
    opportunity = sf.Opportunity.create(
        {"Name": tag, "StageName": "Prospecting", "CloseDate": "2027-01-31", "AccountId": account}
    )["id"]
    role = sf.OpportunityContactRole.create({"OpportunityId": opportunity, "ContactId": first})
    result = sandbox.control(
        "POST",
        "merge/Contact",
        json={
            "masterRecord": {"Id": master, "Department": "Engines"},
            "recordToMergeIds": [first, second],
        },
    ).json()
    assert result["success"] is True and result["id"] == master
    assert result["mergedRecordIds"] == [first, second]
    assert result["updatedRelatedIds"] == [role["id"]]
    kept = sf.Contact.get(master)
    # The master keeps its values, except those the request sets on it.
    assert (kept["FirstName"], kept["Title"], kept["Department"]) == ("Ada", None, "Engines")
    assert kept["MasterRecordId"] is None
    merged = sf.query_all(
        f"SELECT Id, MasterRecordId FROM Contact WHERE IsDeleted = TRUE "
        f"AND MasterRecordId = '{master}'",
        include_deleted=True,
    )["records"]
    assert sorted(r["Id"] for r in merged) == sorted([first, second])
    assert sf.query(f"SELECT Id FROM Contact WHERE Id = '{first}'")["totalSize"] == 0
    assert sf.OpportunityContactRole.get(role["id"])["ContactId"] == master


@pytest.mark.parametrize(
    "path, body, code",
    [
        ("merge/Opportunity", {"recordToMergeIds": ["x"]}, "INVALID_TYPE"),
        ("merge/Contact", {"recordToMergeIds": []}, "REQUIRED_FIELD_MISSING"),
        ("merge/Contact", {"recordToMergeIds": ["A", "B", "C"]}, "LIMIT_EXCEEDED"),
    ],
)
def test_bad_merges_are_refused_and_change_nothing(
    sandbox: SalesforceSandbox, sf: Salesforce, path: str, body: dict, code: str
) -> None:
    master = _contact(sf)
    victims = [_contact(sf) for _ in range(3)]
    names = {"A": victims[0], "B": victims[1], "C": victims[2], "x": victims[0]}
    body = {
        "masterRecord": {"Id": master},
        "recordToMergeIds": [names[v] for v in body["recordToMergeIds"]],
    }
    answer = sandbox.control("POST", path, check=False, json=body)
    assert answer.status_code == 400
    assert answer.json()[0]["errorCode"] == code
    for record_id in [master, *victims]:
        assert sf.Contact.get(record_id)["IsDeleted"] is False


def test_a_deleted_victim_is_refused(sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    master, victim, gone = _contact(sf), _contact(sf), _contact(sf)
    sf.Contact.delete(gone)
    answer = sandbox.control(
        "POST",
        "merge/Contact",
        check=False,
        json={"masterRecord": {"Id": master}, "recordToMergeIds": [victim, gone]},
    )
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "ENTITY_IS_DELETED"
    assert sf.Contact.get(victim)["IsDeleted"] is False
    with pytest.raises(SalesforceMalformedRequest):
        sf.Contact.update(master, {"MasterRecordId": victim})
