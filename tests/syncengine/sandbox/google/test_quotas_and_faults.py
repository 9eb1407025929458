"""Per-minute quotas answered with 429 RESOURCE_EXHAUSTED, and injected 5xx faults."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError

from tests.support.google_sandbox import GoogleSandbox, error_of, person, settle


def test_read_quota_gives_429_resource_exhausted(people: Any, sandbox: GoogleSandbox) -> None:
    created = people.people().createContact(body=person("Quota")).execute()
    sandbox.ok("PATCH", "quotas", json={"read_requests_per_minute": 3})
    for _ in range(3):
        people.people().get(resourceName=created["resourceName"], personFields="names").execute()
    with pytest.raises(HttpError) as limited:
        people.people().get(resourceName=created["resourceName"], personFields="names").execute()
    assert limited.value.status_code == 429
    error = error_of(limited.value)
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert error["message"].startswith(
        "Quota exceeded for quota metric 'Critical read requests (Contact and Profile Reads)' "
        "and limit 'Critical read requests (Contact and Profile Reads) per minute per user'"
    )
    # The body a real critical-read 429 carries (mrmattwilkins/google-contacts-sync issue 1).
    assert error["details"] == [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "RATE_LIMIT_EXCEEDED",
            "domain": "googleapis.com",
            "metadata": {
                "service": "people.googleapis.com",
                "quota_metric": "people.googleapis.com/critical_read_requests",
                "quota_limit": "CriticalReadsPerMinutePerProjectPerUser",
                "consumer": "projects/0",
            },
        }
    ]
    # Writes are metered apart and still pass; usage shows in the control API.
    people.people().createContact(body=person("Still writes")).execute()
    usage = sandbox.ok("GET", "quotas")["usage_last_minute"]
    assert usage["read_requests_per_minute"] == 3
    # Clearing the window (a minute passing) lets reads through again.
    sandbox.ok("DELETE", "quotas/usage")
    people.people().get(resourceName=created["resourceName"], personFields="names").execute()


def test_write_quota_applies_to_creates_and_batches(people: Any, sandbox: GoogleSandbox) -> None:
    sandbox.ok("PATCH", "quotas", json={"write_requests_per_minute": 2})
    people.people().createContact(body=person("W1")).execute()
    people.people().batchCreateContacts(
        body={"contacts": [{"contactPerson": person("W2")}], "readMask": "names"}
    ).execute()
    with pytest.raises(HttpError) as limited:
        people.people().createContact(body=person("W3")).execute()
    assert limited.value.status_code == 429
    assert "Critical write requests" in error_of(limited.value)["message"]


def test_default_quotas_are_on_after_a_reset(sandbox: GoogleSandbox) -> None:
    sandbox.ok("POST", "reset")
    quotas = sandbox.ok("GET", "quotas")
    assert quotas["read_requests_per_minute"] == 180
    assert quotas["write_requests_per_minute"] == 90


def test_injected_faults_answer_in_googles_format(people: Any, sandbox: GoogleSandbox) -> None:
    sandbox.ok("PATCH", "faults", json={"next_errors": [503, 500, 429]})
    statuses = []
    for _ in range(3):
        with pytest.raises(HttpError) as failed:
            people.contactGroups().list().execute()
        statuses.append((failed.value.status_code, error_of(failed.value)["status"]))
    assert statuses == [(503, "UNAVAILABLE"), (500, "INTERNAL"), (429, "RESOURCE_EXHAUSTED")]
    assert people.contactGroups().list().execute()["totalItems"] >= 2
    assert sandbox.ok("GET", "faults")["next_errors"] == []


def test_updates_draw_on_the_critical_read_quota_too(people: Any, sandbox: GoogleSandbox) -> None:
    created = people.people().createContact(body=person("Reads")).execute()
    sandbox.ok("PATCH", "quotas", json={"read_requests_per_minute": 2})
    current = (
        people.people()
        .updateContact(
            resourceName=created["resourceName"],
            updatePersonFields="names",
            body={"etag": created["etag"], "names": [{"givenName": "Once"}]},
        )
        .execute()
    )
    people.people().batchUpdateContacts(
        body={
            "contacts": {current["resourceName"]: {"etag": current["etag"], "names": []}},
            "updateMask": "names",
            "readMask": "names",
        }
    ).execute()
    # Two updates used the two critical reads: the next update is refused with that quota.
    with pytest.raises(HttpError) as limited:
        people.people().updateContact(
            resourceName=created["resourceName"],
            updatePersonFields="names",
            body={"etag": "%any", "names": []},
        ).execute()
    assert limited.value.status_code == 429
    assert (
        "'Critical read requests (Contact and Profile Reads)'" in error_of(limited.value)["message"]
    )
    usage = sandbox.ok("GET", "quotas")["usage_last_minute"]
    # The create and the two updates; the refused update counted nowhere.
    assert (usage["read_requests_per_minute"], usage["write_requests_per_minute"]) == (2, 3)
    # Creates are writes only.
    people.people().createContact(body=person("Still creates")).execute()


def test_the_first_page_of_a_full_sync_has_its_own_quota(
    people: Any, sandbox: GoogleSandbox
) -> None:
    assert sandbox.ok("GET", "quotas")["full_sync_first_pages_per_minute"] == 10
    sandbox.ok("PATCH", "quotas", json={"full_sync_first_pages_per_minute": 2})
    for i in range(3):
        people.people().createContact(body=person(f"F{i}")).execute()
    settle(sandbox)
    connections = people.people().connections()

    def first_page() -> dict:
        return connections.list(
            resourceName="people/me", personFields="names", pageSize=2, requestSyncToken=True
        ).execute()

    first_page()
    page = first_page()
    with pytest.raises(HttpError) as limited:
        first_page()
    assert limited.value.status_code == 429
    error = error_of(limited.value)
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert error["details"][0]["reason"] == "RATE_LIMIT_EXCEEDED"
    # Later pages and incremental syncs are not first pages of a full sync.
    last = connections.list(
        resourceName="people/me",
        personFields="names",
        pageSize=2,
        requestSyncToken=True,
        pageToken=page["nextPageToken"],
    ).execute()
    connections.list(
        resourceName="people/me",
        personFields="names",
        requestSyncToken=True,
        syncToken=last["nextSyncToken"],
    ).execute()
    # A minute later the quota is there again.
    sandbox.ok("POST", "clock/advance", json={"seconds": 61})
    first_page()
