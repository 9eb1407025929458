"""batchCreateContacts / batchUpdateContacts (≤ 200) and batchDeleteContacts (≤ 500)."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError

from .conftest import create_many, error_of, person


def test_batch_create_takes_200_and_refuses_201(people: Any) -> None:
    entries = [{"contactPerson": person(f"B{i}")} for i in range(201)]
    with pytest.raises(HttpError) as too_many:
        people.people().batchCreateContacts(
            body={"contacts": entries, "readMask": "names"}
        ).execute()
    assert too_many.value.status_code == 400
    assert error_of(too_many.value)["status"] == "INVALID_ARGUMENT"
    answer = (
        people.people()
        .batchCreateContacts(body={"contacts": entries[:200], "readMask": "names"})
        .execute()
    )
    created = answer["createdPeople"]
    assert len(created) == 200
    assert all(r["httpStatusCode"] == 200 and r["person"]["resourceName"] for r in created)
    assert created[0]["person"]["names"][0]["givenName"] == "B0"


def test_batch_create_needs_a_read_mask(people: Any) -> None:
    with pytest.raises(HttpError) as no_mask:
        people.people().batchCreateContacts(
            body={"contacts": [{"contactPerson": person("X")}]}
        ).execute()
    assert "readMask mask is required" in error_of(no_mask.value)["message"]


def test_batch_update_takes_200_and_reports_stale_etags_per_contact(people: Any) -> None:
    created = create_many(people, 201)
    too_many = {p["resourceName"]: {"etag": p["etag"], "names": []} for p in created}
    with pytest.raises(HttpError) as refused:
        people.people().batchUpdateContacts(
            body={"contacts": too_many, "updateMask": "names", "readMask": "names"}
        ).execute()
    assert refused.value.status_code == 400
    contacts = {
        p["resourceName"]: {"etag": p["etag"], "names": [{"givenName": f"U{i}"}]}
        for i, p in enumerate(created[:200])
    }
    stale_name = created[0]["resourceName"]
    contacts[stale_name]["etag"] = "%stale"
    answer = (
        people.people()
        .batchUpdateContacts(
            body={"contacts": contacts, "updateMask": "names", "readMask": "names"}
        )
        .execute()
    )
    results = answer["updateResult"]
    assert len(results) == 200
    assert results[stale_name]["status"]["code"] == 9  # FAILED_PRECONDITION
    assert "person.etag is different" in results[stale_name]["status"]["message"]
    fresh = created[1]["resourceName"]
    assert results[fresh]["person"]["names"][0]["givenName"] == "U1"
    assert results[fresh]["person"]["etag"] != created[1]["etag"]


def test_batch_delete_takes_500_and_refuses_501(people: Any) -> None:
    created = create_many(people, 501)
    names = [p["resourceName"] for p in created]
    with pytest.raises(HttpError) as too_many:
        people.people().batchDeleteContacts(body={"resourceNames": names}).execute()
    assert too_many.value.status_code == 400
    assert people.people().batchDeleteContacts(body={"resourceNames": names[:500]}).execute() == {}
    left = (
        people.people().connections().list(resourceName="people/me", personFields="names").execute()
    )
    assert [p["resourceName"] for p in left["connections"]] == names[500:]


def test_batch_delete_of_an_unknown_contact_deletes_nothing(people: Any) -> None:
    created = create_many(people, 2)
    with pytest.raises(HttpError) as unknown:
        people.people().batchDeleteContacts(
            body={"resourceNames": [created[0]["resourceName"], "people/c42"]}
        ).execute()
    assert unknown.value.status_code == 404
    left = (
        people.people().connections().list(resourceName="people/me", personFields="names").execute()
    )
    assert left["totalItems"] == 2
