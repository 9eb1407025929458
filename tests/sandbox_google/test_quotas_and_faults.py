"""Per-minute quotas answered with 429 RESOURCE_EXHAUSTED, and injected 5xx faults."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError

from .conftest import SandboxProcess, error_of, person


def test_read_quota_gives_429_resource_exhausted(people: Any, sandbox: SandboxProcess) -> None:
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
    detail = error["details"][0]
    assert detail["reason"] == "RATE_LIMIT_EXCEEDED"
    assert detail["metadata"]["quota_metric"] == "people.googleapis.com/read_requests"
    # Writes are metered apart and still pass; usage shows in the control API.
    people.people().createContact(body=person("Still writes")).execute()
    usage = sandbox.ok("GET", "quotas")["usage_last_minute"]
    assert usage["read_requests_per_minute"] == 3
    # Clearing the window (a minute passing) lets reads through again.
    sandbox.ok("DELETE", "quotas/usage")
    people.people().get(resourceName=created["resourceName"], personFields="names").execute()


def test_write_quota_applies_to_creates_and_batches(people: Any, sandbox: SandboxProcess) -> None:
    sandbox.ok("PATCH", "quotas", json={"write_requests_per_minute": 2})
    people.people().createContact(body=person("W1")).execute()
    people.people().batchCreateContacts(
        body={"contacts": [{"contactPerson": person("W2")}], "readMask": "names"}
    ).execute()
    with pytest.raises(HttpError) as limited:
        people.people().createContact(body=person("W3")).execute()
    assert limited.value.status_code == 429
    assert "Critical write requests" in error_of(limited.value)["message"]


def test_default_quotas_are_on_after_a_reset(sandbox: SandboxProcess) -> None:
    sandbox.ok("POST", "reset")
    quotas = sandbox.ok("GET", "quotas")
    assert quotas["read_requests_per_minute"] == 180
    assert quotas["write_requests_per_minute"] == 90


def test_injected_faults_answer_in_googles_format(people: Any, sandbox: SandboxProcess) -> None:
    sandbox.ok("PATCH", "faults", json={"next_errors": [503, 500, 429]})
    statuses = []
    for _ in range(3):
        with pytest.raises(HttpError) as failed:
            people.contactGroups().list().execute()
        statuses.append((failed.value.status_code, error_of(failed.value)["status"]))
    assert statuses == [(503, "UNAVAILABLE"), (500, "INTERNAL"), (429, "RESOURCE_EXHAUSTED")]
    assert people.contactGroups().list().execute()["totalItems"] >= 2
    assert sandbox.ok("GET", "faults")["next_errors"] == []
