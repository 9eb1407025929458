"""SOQL query, queryAll and query-more paging (reference §2.1-2.2)."""

from __future__ import annotations

import uuid

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from tests.support.salesforce_sandbox import API_VERSION


@pytest.fixture(scope="module")
def tag(sf: Salesforce) -> str:
    """450 contacts under one account, created in 3 collection calls."""
    tag = uuid.uuid4().hex[:8]
    account_id = sf.Account.create({"Name": f"Q-{tag}", "Industry": "Retail"})["id"]
    for start in range(0, 450, 200):
        records = [
            {
                "attributes": {"type": "Contact"},
                "LastName": f"{tag}-{i:04d}",
                "AccountId": account_id,
                "Title": "CEO" if i % 3 == 0 else None,
                "Score__c": i % 100,
            }
            for i in range(start, min(start + 200, 450))
        ]
        results = sf.restful("composite/sobjects", method="POST", json={"records": records})
        assert all(r["success"] for r in results)
    return tag


def test_paging_with_next_records_url(api: requests.Session, data_url: str, tag: str) -> None:
    soql = f"SELECT Id, LastName FROM Contact WHERE LastName LIKE '{tag}-%' ORDER BY LastName"
    first = api.get(
        f"{data_url}/query/", params={"q": soql}, headers={"Sforce-Query-Options": "batchSize=200"}
    ).json()
    assert first["totalSize"] == 450 and first["done"] is False and len(first["records"]) == 200
    assert first["nextRecordsUrl"].startswith(f"/services/data/v{API_VERSION}/query/01g")
    assert first["nextRecordsUrl"].endswith("-200")
    base = data_url.split("/services")[0]
    second = api.get(base + first["nextRecordsUrl"]).json()
    third = api.get(base + second["nextRecordsUrl"]).json()
    assert len(second["records"]) == 200 and third["done"] is True
    assert "nextRecordsUrl" not in third and len(third["records"]) == 50
    names = [r["LastName"] for r in first["records"] + second["records"] + third["records"]]
    assert names == sorted(names) and len(set(names)) == 450


def test_query_all_helper_follows_pages(sf: Salesforce, tag: str) -> None:
    result = sf.query_all(f"SELECT Id FROM Contact WHERE LastName LIKE '{tag}-%'")
    assert result["totalSize"] == 450 and len(result["records"]) == 450


def test_where_operators_order_limit_offset_and_parent_fields(sf: Salesforce, tag: str) -> None:
    result = sf.query(
        f"SELECT LastName, Account.Name, Score__c FROM Contact WHERE LastName LIKE '{tag}-%' "
        "AND (Title = 'CEO' OR Score__c IN (1, 2)) AND Score__c >= 1 AND Score__c < 10 "
        "ORDER BY Score__c DESC, LastName LIMIT 5 OFFSET 1"
    )
    rows = result["records"]
    assert result["totalSize"] == 5
    assert [r["Score__c"] for r in rows] == sorted((r["Score__c"] for r in rows), reverse=True)
    assert all(r["Score__c"] < 10 for r in rows)
    assert rows[0]["Account"]["Name"] == f"Q-{tag}"
    assert rows[0]["Account"]["attributes"]["type"] == "Account"


def test_count_and_datetime_literals(sf: Salesforce, tag: str) -> None:
    count = sf.query(
        f"SELECT COUNT() FROM Contact WHERE LastName LIKE '{tag}-%' "
        "AND CreatedDate > 2020-01-01T00:00:00Z"
    )
    assert count["totalSize"] == 450 and count["records"] == []
    none = sf.query(
        f"SELECT COUNT() FROM Contact WHERE LastName LIKE '{tag}-%' "
        "AND CreatedDate < 2020-01-01T00:00:00Z"
    )
    assert none["totalSize"] == 0


def test_query_all_includes_deleted(sf: Salesforce) -> None:
    name = f"Gone-{uuid.uuid4().hex[:8]}"
    record_id = sf.Account.create({"Name": name})["id"]
    sf.Account.delete(record_id)
    soql = f"SELECT Id, IsDeleted FROM Account WHERE Name = '{name}'"
    assert sf.query(soql)["totalSize"] == 0
    everything = sf.query(soql, include_deleted=True)
    assert everything["records"][0]["IsDeleted"] is True


def test_query_errors(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id FROM Account WHERE")
    assert caught.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Salary__c FROM Contact")  # hidden by FLS
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert caught.value.content[0]["message"].startswith(
        "\nSELECT Salary__c FROM Contact\n       ^\nERROR at Row:1:Column:8\n"
        "No such column 'Salary__c' on entity 'Contact'."
    )
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id FROM Nope__c")
    assert caught.value.content[0]["errorCode"] == "INVALID_TYPE"


def test_bad_locator(api: requests.Session, data_url: str) -> None:
    response = api.get(f"{data_url}/query/01gRS0000000000AAA-200")
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def refused(sf: Salesforce, soql: str) -> dict:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query(soql)
    (error,) = caught.value.content
    return error


@pytest.mark.parametrize(
    ("where", "column", "message"),
    [
        # quoted datetime, quoted date, a date literal on a datetime field
        ("CreatedDate > '2020-01-01T00:00:00Z'", 30,
         "value of filter criterion for field 'CreatedDate' must be of type dateTime and should "
         "not be enclosed in quotes"),
        ("Birthdate = '2020-01-31'", 30,
         "value of filter criterion for field 'Birthdate' must be of type date and should not be "
         "enclosed in quotes"),
        ("CreatedDate > 2020-01-01", 30,
         "value of filter criterion for field 'CreatedDate' must be of type dateTime and should "
         "not be enclosed in quotes"),
        # a number compared with a text field, text with a number field
        ("LastName = 5", 30,
         "value of filter criterion for field 'LastName' must be of type string and should be "
         "enclosed in quotes"),
        ("Id != null AND Score__c IN (1, '2')", 45,
         "value of filter criterion for field 'Score__c' must be of type double and should not "
         "be enclosed in quotes"),
    ],
)  # fmt: skip
def test_filter_values_of_the_wrong_kind_are_refused(
    sf: Salesforce, where: str, column: int, message: str
) -> None:
    soql = f"SELECT Id FROM Contact WHERE {where}"
    error = refused(sf, soql)
    assert error["errorCode"] == "INVALID_FIELD"
    assert error["message"] == (
        f"\n{soql}\n{' ' * (column - 1)}^\nERROR at Row:1:Column:{column}\n{message}"
    )


def test_filter_values_of_the_right_kind_are_accepted(sf: Salesforce, tag: str) -> None:
    soql = (
        f"SELECT Id FROM Contact WHERE LastName LIKE '{tag}-%' AND CreatedDate >= "
        "2020-01-01T00:00:00Z AND CreatedDate <= TODAY AND Birthdate = null AND Score__c < 2.5 "
        "AND HasOptedOutOfEmail = false"
    )
    assert sf.query(soql)["totalSize"] == 15  # scores 0, 1 and 2 of each hundred


def test_error_bodies_point_at_the_place(sf: Salesforce) -> None:
    error = refused(sf, "SELECT Id, Nope__c FROM Contact")
    assert error["errorCode"] == "INVALID_FIELD"
    assert error["message"].startswith(
        "\nSELECT Id, Nope__c FROM Contact\n           ^\nERROR at Row:1:Column:12\n"
        "No such column 'Nope__c' on entity 'Contact'. If you are attempting to use a custom "
        "field, be sure to append the '__c' after the custom field name."
    )
    error = refused(sf, "SELECT Id FROM Nope__c")
    assert error["errorCode"] == "INVALID_TYPE"
    assert error["message"].startswith(
        "\nSELECT Id FROM Nope__c\n               ^\nERROR at Row:1:Column:16\n"
        "sObject type 'Nope__c' is not supported."
    )
    error = refused(sf, "SELECT Id FROM Contact WHERE LastName = 'x' ORDER")
    assert error["errorCode"] == "MALFORMED_QUERY"
    assert "\nERROR at Row:1:Column:" in error["message"]


def test_offset_above_2000_is_refused(sf: Salesforce) -> None:
    assert sf.query("SELECT Id FROM Contact LIMIT 1 OFFSET 2000")["done"] is True
    error = refused(sf, "SELECT Id FROM Contact LIMIT 1 OFFSET 2001")
    assert error == {
        "errorCode": "NUMBER_OUTSIDE_VALID_RANGE",
        "message": "Maximum SOQL offset allowed is 2000",
    }


def test_id_literals_match_15_char_ids_case_sensitively(sf: Salesforce) -> None:
    record_id = sf.Account.create({"Name": f"Ids-{uuid.uuid4().hex[:8]}"})["id"]
    for literal in (record_id, record_id[:15]):
        rows = sf.query(f"SELECT Id FROM Account WHERE Id = '{literal}'")["records"]
        assert [r["Id"] for r in rows] == [record_id]  # the answer carries the 18-char id
        rows = sf.query(f"SELECT Id FROM Account WHERE Id IN ('{literal}')")["records"]
        assert [r["Id"] for r in rows] == [record_id]
    # A 15-char id in another case is another id; an 18-char one with a wrong suffix is malformed
    swapped = record_id[:15].swapcase()
    assert sf.query(f"SELECT Id FROM Account WHERE Id = '{swapped}'")["totalSize"] == 0
    error = refused(sf, f"SELECT Id FROM Account WHERE Id = '{record_id.swapcase()}'")
    assert error["errorCode"] == "INVALID_QUERY_FILTER_OPERATOR"
    assert error["message"].endswith(f"invalid ID field: {record_id.swapcase()}")
    error = refused(sf, "SELECT Id FROM Contact WHERE AccountId = 'abc'")
    assert error["errorCode"] == "INVALID_QUERY_FILTER_OPERATOR"
