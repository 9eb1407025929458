"""A restart keeps the state; every supported discovery method lands on a sandbox route."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from googleapiclient.discovery import build
from googleapiclient.http import HttpMock

from syncengine.sandbox.google.api import ROUTES
from tests.support.google_sandbox import (
    list_connections,
    person,
    settle,
    start_sandbox,
    stop_sandbox,
)


def test_restart_keeps_contacts_tokens_and_sync_tokens(tmp_path: Path) -> None:
    state = tmp_path / "google.sqlite3"
    first = start_sandbox(state)
    try:
        token = first.mint_token()
        people = first.service_for_token(token["access_token"])
        created = people.people().createContact(body=person("Durable")).execute()
        sync = list_connections(people, requestSyncToken=True)
        first.ok("PATCH", "limits", json={"contact_limit": 1234})
    finally:
        stop_sandbox(first)
    second = start_sandbox(state)
    try:
        assert second.url != "" and state.exists()
        people = second.service_for_token(token["access_token"])
        got = (
            people.people()
            .get(resourceName=created["resourceName"], personFields="names")
            .execute()
        )
        assert got["etag"] == created["etag"] and got["names"][0]["givenName"] == "Durable"
        people.people().deleteContact(resourceName=created["resourceName"]).execute()
        settle(second)
        changes = list_connections(people, syncToken=sync["nextSyncToken"], requestSyncToken=True)
        assert changes["connections"][0]["metadata"]["deleted"] is True
        assert second.ok("GET", "limits")["contact_limit"] == 1234
    finally:
        stop_sandbox(second)


def _requests(service: Any) -> list[Any]:
    people, groups, other = service.people(), service.contactGroups(), service.otherContacts()
    return [
        people.connections().list(resourceName="people/me", personFields="names"),
        people.get(resourceName="people/c1", personFields="names"),
        people.getBatchGet(resourceNames=["people/c1"], personFields="names"),
        people.searchContacts(query="a", readMask="names"),
        people.createContact(body={}),
        people.updateContact(resourceName="people/c1", updatePersonFields="names", body={}),
        people.deleteContact(resourceName="people/c1"),
        people.batchCreateContacts(body={}),
        people.batchUpdateContacts(body={}),
        people.batchDeleteContacts(body={}),
        groups.list(),
        groups.get(resourceName="contactGroups/starred"),
        groups.batchGet(resourceNames=["contactGroups/starred"]),
        groups.create(body={}),
        groups.update(resourceName="contactGroups/abc", body={}),
        groups.delete(resourceName="contactGroups/abc"),
        groups.members().modify(resourceName="contactGroups/starred", body={}),
        other.list(readMask="names"),
        other.search(query="a", readMask="names"),
        other.copyOtherContactToMyContactsGroup(resourceName="otherContacts/c1", body={}),
    ]


def test_every_supported_discovery_method_matches_one_route() -> None:
    # Built offline (HttpMock): only the URIs the client would call are looked at.
    service = build(
        "people",
        "v1",
        http=HttpMock(headers={"status": "200"}),
        static_discovery=True,
        client_options={"api_endpoint": "http://127.0.0.1:8444/"},
    )
    for request in _requests(service):
        url = urlsplit(request.uri)
        assert f"{url.scheme}://{url.netloc}" == "http://127.0.0.1:8444"
        matching = [r for r in ROUTES if r.method == request.method and r.pattern.match(url.path)]
        assert len(matching) == 1, (request.method, url.path)
