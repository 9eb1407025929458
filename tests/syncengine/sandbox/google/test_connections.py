"""people.connections.list: paging, sort orders, sync tokens, tombstones and token expiry."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError

from tests.support.google_sandbox import (
    GoogleSandbox,
    create_many,
    error_of,
    list_connections,
    person,
    reason_of,
    settle,
)


def list_all(people: Any, **params: Any) -> tuple[list[dict], dict, int]:
    """Every page via list_next; returns items, the last page and the number of calls."""
    connections = people.people().connections()
    request = connections.list(resourceName="people/me", **params)
    items: list[dict] = []
    calls = 0
    page: dict = {}
    while request is not None:
        page = request.execute()
        calls += 1
        items.extend(page.get("connections", []))
        request = connections.list_next(request, page)
    return items, page, calls


def full_sync(people: Any) -> tuple[list[dict], str]:
    items, last, _ = list_all(
        people, personFields="names,metadata", pageSize=1000, requestSyncToken=True
    )
    return items, last["nextSyncToken"]


def incremental(people: Any, sync_token: str) -> tuple[list[dict], str]:
    items, last, _ = list_all(
        people, personFields="names,metadata", syncToken=sync_token, requestSyncToken=True
    )
    return items, last["nextSyncToken"]


def rest_of_the_listing(people: Any, first: dict) -> tuple[list[dict], dict]:
    """The pages after a first page of 20 that asked for a sync token: items and last page."""
    rest, last, _ = list_all(
        people,
        personFields="names",
        pageSize=20,
        requestSyncToken=True,
        pageToken=first["nextPageToken"],
    )
    return rest, last


def test_paging_returns_every_contact_once_with_totals(people: Any) -> None:
    created = create_many(people, 250)
    items, last, calls = list_all(people, personFields="names", pageSize=100)
    assert calls == 3
    assert sorted(p["resourceName"] for p in items) == sorted(p["resourceName"] for p in created)
    assert last["totalItems"] == 250
    assert "nextPageToken" not in last
    assert "nextSyncToken" not in last  # not requested


def test_page_size_defaults_to_100_and_is_capped_at_1000(people: Any) -> None:
    create_many(people, 120)
    page = list_connections(people)
    assert len(page["connections"]) == 100 and page["nextPageToken"]
    with pytest.raises(HttpError) as too_big:
        list_connections(people, pageSize=1001)
    assert too_big.value.status_code == 400


def test_person_fields_is_required(people: Any) -> None:
    with pytest.raises(HttpError) as missing:
        people.people().connections().list(resourceName="people/me").execute()
    # As Google answers it (googleapis/google-api-php-client-services issue 129).
    assert error_of(missing.value) == {
        "code": 400,
        "message": "personFields mask is required. Please specify one or more valid paths. "
        "Valid paths are documented at https://developers.google.com/people/api/rest/v1/people/get.",
        "status": "INVALID_ARGUMENT",
    }


def test_only_the_last_page_carries_the_sync_token(people: Any, sandbox: GoogleSandbox) -> None:
    create_many(people, 30)
    settle(sandbox)
    first = list_connections(people, pageSize=20, requestSyncToken=True)
    assert "nextSyncToken" not in first and first["nextPageToken"]
    second = list_connections(
        people, pageSize=20, requestSyncToken=True, pageToken=first["nextPageToken"]
    )
    assert len(second["connections"]) == 10 and second["nextSyncToken"]


def test_page_token_must_come_with_the_same_parameters(people: Any) -> None:
    create_many(people, 30)
    first = list_connections(people, pageSize=20)
    with pytest.raises(HttpError) as mismatch:
        list_connections(
            people, "names,emailAddresses", pageSize=20, pageToken=first["nextPageToken"]
        )
    assert mismatch.value.status_code == 400
    with pytest.raises(HttpError) as forged:
        list_connections(people, pageToken="forged")
    assert forged.value.status_code == 400


def test_contacts_changed_while_paging_are_not_lost(people: Any, sandbox: GoogleSandbox) -> None:
    created = create_many(people, 40)
    settle(sandbox)
    first = list_connections(people, pageSize=20, requestSyncToken=True)
    # Change a contact not yet listed: it leaves this snapshot and arrives in the next sync.
    late = created[-1]
    current = people.people().get(resourceName=late["resourceName"], personFields="names").execute()
    people.people().updateContact(
        resourceName=late["resourceName"],
        updatePersonFields="names",
        body={"etag": current["etag"], "names": [{"givenName": "Changed"}]},
    ).execute()
    rest, last = rest_of_the_listing(people, first)
    listed = {p["resourceName"]: p for p in first["connections"] + rest}
    # The change has not propagated yet: the listing shows the contact as it was.
    assert len(listed) == 40
    assert listed[late["resourceName"]]["names"][0]["givenName"] == "bulk39"
    settle(sandbox)
    changes, _ = incremental(people, last["nextSyncToken"])
    assert [c["names"][0]["givenName"] for c in changes] == ["Changed"]


def test_sort_orders(people: Any) -> None:
    for given in ("Carol", "alice", "Bob"):
        people.people().createContact(body=person(given, family=given[::-1])).execute()
    by_first, _, _ = list_all(people, personFields="names", sortOrder="FIRST_NAME_ASCENDING")
    assert [p["names"][0]["givenName"] for p in by_first] == ["alice", "Bob", "Carol"]
    newest, _, _ = list_all(people, personFields="names", sortOrder="LAST_MODIFIED_DESCENDING")
    assert [p["names"][0]["givenName"] for p in newest] == ["Bob", "alice", "Carol"]
    with pytest.raises(HttpError):
        list_all(
            people,
            personFields="names",
            sortOrder="LAST_MODIFIED_DESCENDING",
            requestSyncToken=True,
        )


def test_incremental_sync_returns_only_changes_and_tombstones(
    people: Any, sandbox: GoogleSandbox
) -> None:
    keep, edit, drop = (
        people.people().createContact(body=person(name)).execute()
        for name in ("Keep", "Edit", "Drop")
    )
    settle(sandbox)
    items, token = full_sync(people)
    assert len(items) == 3

    nothing, token = incremental(people, token)
    assert nothing == []

    people.people().updateContact(
        resourceName=edit["resourceName"],
        updatePersonFields="names",
        body={"etag": edit["etag"], "names": [{"givenName": "Edited"}]},
    ).execute()
    people.people().deleteContact(resourceName=drop["resourceName"]).execute()
    added = people.people().createContact(body=person("Added")).execute()
    settle(sandbox)

    changes, token = incremental(people, token)
    by_name = {c["resourceName"]: c for c in changes}
    assert set(by_name) == {edit["resourceName"], drop["resourceName"], added["resourceName"]}
    assert keep["resourceName"] not in by_name
    assert by_name[edit["resourceName"]]["names"][0]["givenName"] == "Edited"
    tombstone = by_name[drop["resourceName"]]
    assert tombstone["metadata"]["deleted"] is True
    assert "names" not in tombstone
    assert "deleted" not in by_name[added["resourceName"]]["metadata"]

    again, _ = incremental(people, token)
    assert again == []


def test_incremental_sync_pages_too(people: Any, sandbox: GoogleSandbox) -> None:
    _, token = full_sync(people)
    create_many(people, 45)
    settle(sandbox)
    items, last, calls = list_all(
        people, personFields="names", syncToken=token, requestSyncToken=True, pageSize=20
    )
    assert len(items) == 45 and calls == 3 and last["nextSyncToken"]


def test_control_api_edits_reach_the_next_sync(people: Any, sandbox: GoogleSandbox) -> None:
    created = people.people().createContact(body=person("Web")).execute()
    settle(sandbox)
    _, token = full_sync(people)
    contact_id = created["resourceName"].split("/")[1]
    sandbox.ok("PATCH", f"contacts/{contact_id}", json={"names": [{"givenName": "Edited in UI"}]})
    added = sandbox.ok("POST", "contacts", json=person("Typed in UI"))
    settle(sandbox)
    changes, token = incremental(people, token)
    names = {c["resourceName"]: c["names"][0]["givenName"] for c in changes}
    assert names == {created["resourceName"]: "Edited in UI", added["resourceName"]: "Typed in UI"}
    sandbox.ok("DELETE", f"contacts/{contact_id}")
    settle(sandbox)
    changes, _ = incremental(people, token)
    assert [(c["resourceName"], c["metadata"]["deleted"]) for c in changes] == [
        (created["resourceName"], True)
    ]


def test_expired_sync_token_is_a_400_with_reason_expired_sync_token(
    people: Any, sandbox: GoogleSandbox
) -> None:
    people.people().createContact(body=person("Expiring")).execute()
    settle(sandbox)
    _, token = full_sync(people)
    sandbox.ok("POST", "sync-tokens/expire")
    with pytest.raises(HttpError) as expired:
        incremental(people, token)
    assert expired.value.status_code == 400
    error = error_of(expired.value)
    assert error["message"] == (
        "Sync token is expired. Clear local cache and retry call without the sync token."
    )
    assert error["status"] == "FAILED_PRECONDITION"
    assert error["details"][0] == {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "EXPIRED_SYNC_TOKEN",
        "domain": "people.googleapis.com",
    }
    # The documented recovery: a full sync without the token gives a fresh, working one.
    items, fresh = full_sync(people)
    assert len(items) == 1
    assert incremental(people, fresh)[0] == []


def test_unknown_and_old_sync_tokens_are_expired(people: Any, sandbox: GoogleSandbox) -> None:
    with pytest.raises(HttpError) as unknown:
        incremental(people, "not-a-token")
    assert reason_of(unknown.value) == "EXPIRED_SYNC_TOKEN"
    _, token = full_sync(people)
    sandbox.ok("PATCH", "limits", json={"sync_token_ttl_seconds": 0})
    with pytest.raises(HttpError) as old:
        incremental(people, token)
    assert reason_of(old.value) == "EXPIRED_SYNC_TOKEN"


def test_only_people_me_has_connections(people: Any) -> None:
    with pytest.raises(HttpError) as other:
        people.people().connections().list(resourceName="people/c1", personFields="names").execute()
    assert other.value.status_code == 400


def test_writes_reach_sync_answers_only_after_the_propagation_delay(
    people: Any, sandbox: GoogleSandbox
) -> None:
    assert sandbox.ok("GET", "limits")["propagation_delay_seconds"] == 120
    old = people.people().createContact(body=person("Old")).execute()
    settle(sandbox)
    _, token = full_sync(people)
    people.people().updateContact(
        resourceName=old["resourceName"],
        updatePersonFields="names",
        body={"etag": old["etag"], "names": [{"givenName": "Renamed"}]},
    ).execute()
    new = people.people().createContact(body=person("New")).execute()
    # Reads that are not sync requests see every write at once.
    plain, _, _ = list_all(people, personFields="names")
    assert {p["names"][0]["givenName"] for p in plain} == {"Renamed", "New"}
    got = people.people().get(resourceName=new["resourceName"], personFields="names").execute()
    assert got["names"][0]["givenName"] == "New"
    # Sync requests do not, for a while: a full sync shows the contact as it was and not the
    # new one; an incremental one shows nothing yet — and its token loses nothing.
    items, _ = full_sync(people)
    assert [p["names"][0]["givenName"] for p in items] == ["Old"]
    nothing, token = incremental(people, token)
    assert nothing == []
    sandbox.ok("POST", "clock/advance", json={"seconds": 119})
    assert incremental(people, token)[0] == []
    sandbox.ok("POST", "clock/advance", json={"seconds": 2})
    changes, _ = incremental(people, token)
    assert [p["names"][0]["givenName"] for p in changes] == ["Renamed", "New"]


def test_a_sync_token_expires_seven_days_after_it_was_issued(
    people: Any, sandbox: GoogleSandbox
) -> None:
    assert sandbox.ok("GET", "limits")["sync_token_ttl_seconds"] == 7 * 24 * 3600
    _, token = full_sync(people)
    sandbox.ok("POST", "clock/advance", json={"seconds": 7 * 24 * 3600 - 60})
    _, fresh = incremental(people, token)  # still good six days and 23 hours on
    sandbox.ok("POST", "clock/advance", json={"seconds": 120})
    with pytest.raises(HttpError) as expired:
        incremental(people, token)
    assert expired.value.status_code == 400
    assert error_of(expired.value) == {
        "code": 400,
        "message": (
            "Sync token is expired. Clear local cache and retry call without the sync token."
        ),
        "status": "FAILED_PRECONDITION",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "EXPIRED_SYNC_TOKEN",
                "domain": "people.googleapis.com",
            }
        ],
    }
    assert incremental(people, fresh)[0] == []  # the later token has days left


def test_the_clock_only_moves_forward(sandbox: GoogleSandbox) -> None:
    before = sandbox.ok("GET", "clock")
    after = sandbox.ok("POST", "clock/advance", json={"seconds": 3600})
    assert after["now"] - before["now"] >= 3600 and after["offsetSeconds"] >= 3600
    assert sandbox.control("POST", "clock/advance", json={"seconds": -1}).status_code == 400
    sandbox.ok("POST", "reset")
    assert sandbox.ok("GET", "clock")["offsetSeconds"] == 0


def test_a_change_that_propagates_while_paging_arrives_with_the_next_sync(
    people: Any, sandbox: GoogleSandbox
) -> None:
    created = create_many(people, 40)
    settle(sandbox)
    first = list_connections(people, pageSize=20, requestSyncToken=True)
    late = created[-1]
    people.people().updateContact(
        resourceName=late["resourceName"],
        updatePersonFields="names",
        body={"etag": late["etag"], "names": [{"givenName": "Changed"}]},
    ).execute()
    settle(sandbox)  # the change reaches sync answers before the second page is asked for
    rest, last = rest_of_the_listing(people, first)
    # The listing is a snapshot at its first page: the changed contact is not in it…
    listed = {p["resourceName"] for p in first["connections"] + rest}
    assert late["resourceName"] not in listed and len(listed) == 39
    # …and comes with the next incremental sync, so it is not lost.
    changes, _ = incremental(people, last["nextSyncToken"])
    assert [c["names"][0]["givenName"] for c in changes] == ["Changed"]
