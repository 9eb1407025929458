"""batchCreateContacts / batchUpdateContacts (≤ 200) and batchDeleteContacts (≤ 500)."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError

from tests.support.google_sandbox import create_many, error_of, list_connections, person


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
    assert error_of(no_mask.value)["message"] == (
        "readMask is required. Please specify one or more valid paths. Valid paths are "
        "documented at https://developers.google.com/people/api/rest/v1/people/get."
    )


def _contact_errors(exc: HttpError, detail_type: str) -> dict[str, Any]:
    [detail] = [d for d in error_of(exc)["details"] if d["@type"] == detail_type]
    return detail["contactErrors"]


CREATE_DETAILS = "type.googleapis.com/google.people.v1.BatchCreateContactsErrorDetails"
UPDATE_DETAILS = "type.googleapis.com/google.people.v1.BatchUpdateContactsErrorDetails"


def test_batch_update_takes_200_and_one_stale_etag_fails_the_whole_request(
    people: Any, sandbox: Any
) -> None:
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
    with pytest.raises(HttpError) as stale:
        people.people().batchUpdateContacts(
            body={"contacts": contacts, "updateMask": "names", "readMask": "names"}
        ).execute()
    # Google: 400 with BatchUpdateContactsErrorDetails keyed by resource name; nothing saved.
    assert stale.value.status_code == 400
    errors = _contact_errors(stale.value, UPDATE_DETAILS)
    assert list(errors) == [stale_name]
    assert errors[stale_name]["code"] == 9  # FAILED_PRECONDITION
    assert "person.etag is different" in errors[stale_name]["message"]
    untouched = sandbox.ok("GET", f"contacts/{created[1]['resourceName'].split('/')[1]}")
    assert untouched["names"][0]["givenName"] == "bulk1"
    assert untouched["etag"] == created[1]["etag"]
    # Without the stale contact the rest goes through.
    del contacts[stale_name]
    answer = (
        people.people()
        .batchUpdateContacts(
            body={"contacts": contacts, "updateMask": "names", "readMask": "names"}
        )
        .execute()
    )
    results = answer["updateResult"]
    assert len(results) == 199
    fresh = created[1]["resourceName"]
    assert results[fresh]["person"]["names"][0]["givenName"] == "U1"
    assert results[fresh]["person"]["etag"] != created[1]["etag"]


def test_batch_update_names_every_invalid_contact(people: Any, sandbox: Any) -> None:
    sandbox.ok("PATCH", "limits", json={"contact_size_limit_bytes": 2000})
    created = create_many(people, 3)
    contacts = {
        p["resourceName"]: {"etag": p["etag"], "biographies": [{"value": "short"}]} for p in created
    }
    big, unknown = created[1]["resourceName"], "people/c1234567890123456789"
    contacts[big]["biographies"] = [{"value": "x" * 3000}]
    contacts[unknown] = {"etag": "%x", "biographies": []}
    with pytest.raises(HttpError) as refused:
        people.people().batchUpdateContacts(
            body={"contacts": contacts, "updateMask": "biographies", "readMask": "names"}
        ).execute()
    errors = _contact_errors(refused.value, UPDATE_DETAILS)
    assert set(errors) == {big, unknown}
    assert errors[big]["details"][0]["reason"] == "CONTACT_SIZE_LIMIT_EXCEEDED"
    assert errors[unknown]["code"] == 5  # NOT_FOUND
    assert "biographies" not in sandbox.ok(
        "GET", f"contacts/{created[0]['resourceName'].split('/')[1]}"
    )


def test_batch_create_is_all_or_nothing_with_errors_by_index(people: Any, sandbox: Any) -> None:
    sandbox.ok("PATCH", "limits", json={"contact_size_limit_bytes": 2000})
    entries = [{"contactPerson": person(f"C{i}")} for i in range(4)]
    entries[2]["contactPerson"]["biographies"] = [{"value": "x" * 3000}]
    with pytest.raises(HttpError) as refused:
        people.people().batchCreateContacts(
            body={"contacts": entries, "readMask": "names"}
        ).execute()
    assert refused.value.status_code == 400
    errors = _contact_errors(refused.value, CREATE_DETAILS)
    assert list(errors) == ["2"]
    assert errors["2"]["code"] == 3  # INVALID_ARGUMENT
    assert errors["2"]["details"][0]["reason"] == "CONTACT_SIZE_LIMIT_EXCEEDED"
    assert sandbox.ok("GET", "contacts")["count"] == 0  # nothing created


def test_batch_delete_takes_500_and_refuses_501(people: Any) -> None:
    created = create_many(people, 501)
    names = [p["resourceName"] for p in created]
    with pytest.raises(HttpError) as too_many:
        people.people().batchDeleteContacts(body={"resourceNames": names}).execute()
    assert too_many.value.status_code == 400
    assert people.people().batchDeleteContacts(body={"resourceNames": names[:500]}).execute() == {}
    left = list_connections(people)
    assert [p["resourceName"] for p in left["connections"]] == names[500:]


def test_batch_delete_of_an_unknown_contact_deletes_nothing(people: Any) -> None:
    created = create_many(people, 2)
    with pytest.raises(HttpError) as unknown:
        people.people().batchDeleteContacts(
            body={"resourceNames": [created[0]["resourceName"], "people/c42"]}
        ).execute()
    assert unknown.value.status_code == 404
    left = list_connections(people)
    assert left["totalItems"] == 2
