"""otherContacts.list, Trash, the contact limit (counting Other contacts and Trash) and 128 KB."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError

from tests.support.google_sandbox import (
    GoogleSandbox,
    error_of,
    list_connections,
    person,
    reason_of,
    settle,
)


def other_contacts(people: Any, **params: Any) -> dict:
    return people.otherContacts().list(readMask="names,emailAddresses", **params).execute()


def test_other_contacts_are_listed_apart_with_a_restricted_mask(
    people: Any, sandbox: GoogleSandbox
) -> None:
    sandbox.ok("POST", "other-contacts", json=person("Emailed", email="emailed@example.com"))
    people.people().createContact(body=person("Saved")).execute()
    settle(sandbox)
    answer = other_contacts(people, requestSyncToken=True)
    assert [p["emailAddresses"][0]["value"] for p in answer["otherContacts"]] == [
        "emailed@example.com"
    ]
    assert answer["otherContacts"][0]["resourceName"].startswith("otherContacts/c")
    assert answer["totalSize"] == 1 and answer["nextSyncToken"]
    connections = list_connections(people)
    assert [c["names"][0]["givenName"] for c in connections["connections"]] == ["Saved"]
    with pytest.raises(HttpError) as bad_mask:
        people.otherContacts().list(readMask="names,organizations").execute()
    assert "not allowed for other contacts" in error_of(bad_mask.value)["message"]


def test_other_contacts_sync_and_copy(people: Any, sandbox: GoogleSandbox) -> None:
    first = other_contacts(people, requestSyncToken=True)
    other = sandbox.ok("POST", "other-contacts", json=person("Later"))
    settle(sandbox)
    changes = other_contacts(people, syncToken=first["nextSyncToken"], requestSyncToken=True)
    assert [p["resourceName"] for p in changes["otherContacts"]] == [other["resourceName"]]
    copied = (
        people.otherContacts()
        .copyOtherContactToMyContactsGroup(
            resourceName=other["resourceName"], body={"copyMask": "names,emailAddresses"}
        )
        .execute()
    )
    assert copied["resourceName"].startswith("people/c")
    assert copied["names"][0]["givenName"] == "Later"


def test_moving_a_contact_to_other_contacts_syncs_as_a_delete(
    people: Any, sandbox: GoogleSandbox
) -> None:
    created = people.people().createContact(body=person("Mover")).execute()
    settle(sandbox)
    first = list_connections(people, requestSyncToken=True)
    moved = sandbox.ok("POST", f"contacts/{created['resourceName'].split('/')[1]}/move-to-other")
    assert moved["resourceName"].startswith("otherContacts/")
    settle(sandbox)
    changes = list_connections(people, syncToken=first["nextSyncToken"], requestSyncToken=True)
    assert [(c["resourceName"], c["metadata"]["deleted"]) for c in changes["connections"]] == [
        (created["resourceName"], True)
    ]
    assert other_contacts(people)["totalSize"] == 1


def test_deleted_contacts_go_to_trash_and_can_be_restored(
    people: Any, sandbox: GoogleSandbox
) -> None:
    created = people.people().createContact(body=person("Trashed")).execute()
    people.people().deleteContact(resourceName=created["resourceName"]).execute()
    trash = sandbox.ok("GET", "trash")
    assert [c["resourceName"] for c in trash["contacts"]] == [created["resourceName"]]
    assert sandbox.ok("GET", "")["counts"] == {
        "contacts": 0,
        "otherContacts": 0,
        "trash": 1,
        "stored": 1,
    }
    sandbox.ok("POST", f"contacts/{created['resourceName'].split('/')[1]}/restore")
    got = people.people().get(resourceName=created["resourceName"], personFields="names").execute()
    assert got["names"][0]["givenName"] == "Trashed"


def test_trash_older_than_the_retention_is_purged(people: Any, sandbox: GoogleSandbox) -> None:
    created = people.people().createContact(body=person("Old")).execute()
    people.people().deleteContact(resourceName=created["resourceName"]).execute()
    sandbox.ok("PATCH", "limits", json={"trash_retention_days": 0})
    assert sandbox.ok("GET", "trash")["count"] == 0


def test_contact_limit_counts_other_contacts_and_trash(people: Any, sandbox: GoogleSandbox) -> None:
    sandbox.ok("PATCH", "limits", json={"contact_limit": 5})
    sandbox.ok("POST", "fill", json={"count": 2, "kind": "other"})
    sandbox.ok("POST", "fill", json={"count": 1, "kind": "trash"})
    people.people().createContact(body=person("Four")).execute()
    people.people().createContact(body=person("Five")).execute()
    with pytest.raises(HttpError) as full:
        people.people().createContact(body=person("Six")).execute()
    assert full.value.status_code == 400
    assert error_of(full.value)["status"] == "FAILED_PRECONDITION"
    assert reason_of(full.value) == "CONTACT_LIMIT_EXCEEDED"
    assert "Contact storage limit exceeded (5 contacts" in error_of(full.value)["message"]

    # Emptying the Trash makes room for exactly one.
    assert sandbox.ok("POST", "trash/empty") == {"purged": 1}
    with pytest.raises(HttpError) as one_too_many:
        people.people().batchCreateContacts(
            body={
                "contacts": [{"contactPerson": person("Six")}, {"contactPerson": person("Seven")}],
                "readMask": "names",
            }
        ).execute()
    # The whole batch fails; only the contact past the limit is named (by its index).
    [detail] = error_of(one_too_many.value)["details"]
    assert detail["@type"].endswith("BatchCreateContactsErrorDetails")
    assert list(detail["contactErrors"]) == ["1"]
    assert detail["contactErrors"]["1"]["code"] == 9
    assert detail["contactErrors"]["1"]["details"][0]["reason"] == "CONTACT_LIMIT_EXCEEDED"
    answer = (
        people.people()
        .batchCreateContacts(
            body={"contacts": [{"contactPerson": person("Six")}], "readMask": "names"}
        )
        .execute()
    )
    assert answer["createdPeople"][0]["person"]["names"][0]["givenName"] == "Six"


def test_the_default_contact_limit_is_25000(sandbox: GoogleSandbox) -> None:
    assert sandbox.ok("GET", "limits")["contact_limit"] == 25_000
    assert sandbox.ok("GET", "limits")["contact_size_limit_bytes"] == 128 * 1024


def test_contact_limit_at_25000_with_the_default(people: Any, sandbox: GoogleSandbox) -> None:
    sandbox.ok("POST", "fill", json={"count": 24_999})
    people.people().createContact(body=person("Last fits")).execute()
    with pytest.raises(HttpError) as full:
        people.people().createContact(body=person("One too many")).execute()
    assert reason_of(full.value) == "CONTACT_LIMIT_EXCEEDED"


def test_contacts_over_128_kb_are_refused(people: Any, sandbox: GoogleSandbox) -> None:
    big_note = "x" * (128 * 1024)
    with pytest.raises(HttpError) as too_large:
        people.people().createContact(
            body=person("Big", biographies=[{"value": big_note}])
        ).execute()
    assert too_large.value.status_code == 400
    assert error_of(too_large.value)["message"] == "Contact is too large (max 128 KB)."
    assert reason_of(too_large.value) == "CONTACT_SIZE_LIMIT_EXCEEDED"

    sandbox.ok("PATCH", "limits", json={"contact_size_limit_bytes": 2048})
    small = people.people().createContact(body=person("Small")).execute()
    with pytest.raises(HttpError) as grown:
        people.people().updateContact(
            resourceName=small["resourceName"],
            updatePersonFields="biographies",
            body={"etag": small["etag"], "biographies": [{"value": "y" * 3000}]},
        ).execute()
    assert reason_of(grown.value) == "CONTACT_SIZE_LIMIT_EXCEEDED"
    with pytest.raises(HttpError) as huge:
        people.people().batchCreateContacts(
            body={
                "contacts": [
                    {"contactPerson": person("Fits")},
                    {"contactPerson": person("Huge", biographies=[{"value": "z" * 3000}])},
                ],
                "readMask": "names",
            }
        ).execute()
    [detail] = error_of(huge.value)["details"]
    assert {k: v["code"] for k, v in detail["contactErrors"].items()} == {"1": 3}
    assert sandbox.ok("GET", "contacts")["count"] == 1  # only Small: "Fits" was not created
