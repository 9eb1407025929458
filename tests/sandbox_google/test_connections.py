"""people.connections.list: paging, sort orders, sync tokens, tombstones and token expiry."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError

from .conftest import SandboxProcess, create_many, error_of, person, reason_of


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
    page = (
        people.people().connections().list(resourceName="people/me", personFields="names").execute()
    )
    assert len(page["connections"]) == 100 and page["nextPageToken"]
    with pytest.raises(HttpError) as too_big:
        people.people().connections().list(
            resourceName="people/me", personFields="names", pageSize=1001
        ).execute()
    assert too_big.value.status_code == 400


def test_person_fields_is_required(people: Any) -> None:
    with pytest.raises(HttpError) as missing:
        people.people().connections().list(resourceName="people/me").execute()
    assert "personFields mask is required" in error_of(missing.value)["message"]


def test_only_the_last_page_carries_the_sync_token(people: Any) -> None:
    create_many(people, 30)
    first = (
        people.people()
        .connections()
        .list(resourceName="people/me", personFields="names", pageSize=20, requestSyncToken=True)
        .execute()
    )
    assert "nextSyncToken" not in first and first["nextPageToken"]
    second = (
        people.people()
        .connections()
        .list(
            resourceName="people/me",
            personFields="names",
            pageSize=20,
            requestSyncToken=True,
            pageToken=first["nextPageToken"],
        )
        .execute()
    )
    assert len(second["connections"]) == 10 and second["nextSyncToken"]


def test_page_token_must_come_with_the_same_parameters(people: Any) -> None:
    create_many(people, 30)
    first = (
        people.people()
        .connections()
        .list(resourceName="people/me", personFields="names", pageSize=20)
        .execute()
    )
    with pytest.raises(HttpError) as mismatch:
        people.people().connections().list(
            resourceName="people/me",
            personFields="names,emailAddresses",
            pageSize=20,
            pageToken=first["nextPageToken"],
        ).execute()
    assert mismatch.value.status_code == 400
    with pytest.raises(HttpError) as forged:
        people.people().connections().list(
            resourceName="people/me", personFields="names", pageToken="forged"
        ).execute()
    assert forged.value.status_code == 400


def test_contacts_changed_while_paging_are_not_lost(people: Any) -> None:
    created = create_many(people, 40)
    first = (
        people.people()
        .connections()
        .list(resourceName="people/me", personFields="names", pageSize=20, requestSyncToken=True)
        .execute()
    )
    # Change a contact not yet listed: it leaves this snapshot and arrives in the next sync.
    late = created[-1]
    current = people.people().get(resourceName=late["resourceName"], personFields="names").execute()
    people.people().updateContact(
        resourceName=late["resourceName"],
        updatePersonFields="names",
        body={"etag": current["etag"], "names": [{"givenName": "Changed"}]},
    ).execute()
    rest, last, _ = list_all(
        people,
        personFields="names",
        pageSize=20,
        requestSyncToken=True,
        pageToken=first["nextPageToken"],
    )
    listed = {p["resourceName"] for p in first["connections"] + rest}
    assert late["resourceName"] not in listed and len(listed) == 39
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


def test_incremental_sync_returns_only_changes_and_tombstones(people: Any) -> None:
    keep, edit, drop = (
        people.people().createContact(body=person(name)).execute()
        for name in ("Keep", "Edit", "Drop")
    )
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


def test_incremental_sync_pages_too(people: Any) -> None:
    _, token = full_sync(people)
    create_many(people, 45)
    items, last, calls = list_all(
        people, personFields="names", syncToken=token, requestSyncToken=True, pageSize=20
    )
    assert len(items) == 45 and calls == 3 and last["nextSyncToken"]


def test_control_api_edits_reach_the_next_sync(people: Any, sandbox: SandboxProcess) -> None:
    created = people.people().createContact(body=person("Web")).execute()
    _, token = full_sync(people)
    contact_id = created["resourceName"].split("/")[1]
    sandbox.ok("PATCH", f"contacts/{contact_id}", json={"names": [{"givenName": "Edited in UI"}]})
    added = sandbox.ok("POST", "contacts", json=person("Typed in UI"))
    changes, token = incremental(people, token)
    names = {c["resourceName"]: c["names"][0]["givenName"] for c in changes}
    assert names == {created["resourceName"]: "Edited in UI", added["resourceName"]: "Typed in UI"}
    sandbox.ok("DELETE", f"contacts/{contact_id}")
    changes, _ = incremental(people, token)
    assert [(c["resourceName"], c["metadata"]["deleted"]) for c in changes] == [
        (created["resourceName"], True)
    ]


def test_expired_sync_token_is_a_400_with_reason_expired_sync_token(
    people: Any, sandbox: SandboxProcess
) -> None:
    people.people().createContact(body=person("Expiring")).execute()
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


def test_unknown_and_old_sync_tokens_are_expired(people: Any, sandbox: SandboxProcess) -> None:
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
