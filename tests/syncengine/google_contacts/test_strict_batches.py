"""Google's batch writes are all or nothing: the connector sets the invalid contacts aside and
sends the rest again, so one bad contact never holds back the other 199 (issue 14)."""

from __future__ import annotations

import pytest

from crm.models import Record
from crm.services.records import update_record
from syncengine.models import RecordLink, SyncCycle, SyncError
from tests.factories import SyncCycleFactory
from tests.support.sync import no_sleep
from tests.support.sync import person_stage_of as stage_of

pytestmark = pytest.mark.django_db


def run_with_user_edits(integration, google, edits: dict[str, list[dict]]):
    """One cycle in which the Google user edits contacts right after Concord read them for a
    push (the etags Concord holds go stale): ``edits`` maps a resource name to the bodies the
    user saves, one after each read of that contact."""
    from syncengine.engine.cycles import claim_cycle
    from syncengine.engine.runner import CycleRunner
    from syncengine.services.integrations import build_connector

    integration.refresh_from_db()
    cycle = claim_cycle(cycle_id=SyncCycleFactory(integration=integration).pk)
    runner = CycleRunner(cycle)
    connector = build_connector(integration=integration, meter=runner.meter, sleep=no_sleep)
    read = connector._read_missing

    def read_then_user_edits(names, outcomes):
        read(names, outcomes)
        for name in names:
            if edits.get(name):
                google.ok("PATCH", f"contacts/{name.split('/')[1]}", json=edits[name].pop(0))

    connector._read_missing = read_then_user_edits
    runner._connector = connector
    runner.run()
    cycle.refresh_from_db()
    cycle.connector = connector
    return cycle


def google_contacts_by_email(google) -> dict[str, dict]:
    return {c["emailAddresses"][0]["value"]: c for c in google.ok("GET", "contacts")["contacts"]}


def synced_then_retitled(google, run, contacts, count: int, prefix: str, title: str) -> None:
    """`count` Google contacts pulled by a first cycle, then each given a job title in Concord."""
    google.ok("POST", "fill", json={"count": count, "prefix": prefix})
    assert run().status == SyncCycle.Status.SUCCESS
    for record in Record.objects.filter(object_type=contacts):
        update_record(record=record, properties={"jobtitle": title}, source="user")


def test_a_batch_of_200_with_a_stale_etag_and_an_oversized_contact(
    integration, google, contacts, run
):
    google.ok("POST", "fill", json={"count": 200, "prefix": "p"})
    assert run().status == SyncCycle.Status.SUCCESS
    records = {r.properties["email"]: r for r in Record.objects.filter(object_type=contacts)}
    assert len(records) == 200
    for email, record in records.items():
        update_record(record=record, properties={"jobtitle": f"Title of {email}"}, source="user")
    # One contact grows past Google's per-contact limit (lowered to keep the test light).
    google.ok("PATCH", "limits", json={"contact_size_limit_bytes": 2500})
    update_record(
        record=records["p7@example.com"], properties={"jobtitle": "x" * 3000}, source="user"
    )
    stale = RecordLink.objects.get(record=records["p3@example.com"]).remote_id
    cycle = run_with_user_edits(
        integration, google, {stale: [{"biographies": [{"value": "Edited in Google"}]}]}
    )
    assert cycle.status == SyncCycle.Status.SUCCESS, cycle.message
    pushed = stage_of(cycle, "push_updates")
    assert (pushed.updated, pushed.failed) == (199, 1)
    people = google_contacts_by_email(google)
    # The 198 others reached Google although the first batch was refused whole.
    assert people["p0@example.com"]["organizations"][0]["title"] == "Title of p0@example.com"
    assert people["p199@example.com"]["organizations"][0]["title"] == "Title of p199@example.com"
    # The stale one was re-read and retried once: Concord's change and the user's edit both hold.
    assert people["p3@example.com"]["organizations"][0]["title"] == "Title of p3@example.com"
    assert people["p3@example.com"]["biographies"][0]["value"] == "Edited in Google"
    # The oversized one is the storage error with Google's steps, and nothing of it was saved.
    error = SyncError.objects.get(integration=integration, status="open")
    assert (error.code, error.category) == ("CONTACT_SIZE_LIMIT_EXCEEDED", "other")
    assert error.record_id == records["p7@example.com"].pk
    assert "organizations" not in people["p7@example.com"]
    calls = cycle.connector.calls_by_method
    # Two batch updates for the 200 (refused, then the 198), one re-read and one retry.
    assert calls["people.people.batchUpdateContacts"] == 3
    assert calls["people.people.getBatchGet"] == 2


def test_a_contact_stale_again_after_its_retry_fails_with_the_etag_error(
    integration, google, contacts, run
):
    synced_then_retitled(google, run, contacts, 3, "q", "CTO")
    busy = RecordLink.objects.get(record__properties__email="q1@example.com")
    edits = [{"biographies": [{"value": "one"}]}, {"biographies": [{"value": "two"}]}]
    cycle = run_with_user_edits(integration, google, {busy.remote_id: edits})
    pushed = stage_of(cycle, "push_updates")
    assert (pushed.updated, pushed.failed) == (2, 1)
    people = google_contacts_by_email(google)
    assert people["q0@example.com"]["organizations"][0]["title"] == "CTO"
    assert "organizations" not in people["q1@example.com"]
    assert people["q1@example.com"]["biographies"][0]["value"] == "two"


def test_contacts_refused_with_a_retryable_status_are_sent_again_after_a_backoff(
    integration, google, contacts, run
):
    synced_then_retitled(google, run, contacts, 4, "r", "Pilot")
    # Google refuses the batch for three of its contacts with retryable statuses.
    faults = {"next_contact_errors": ["UNAVAILABLE", "ABORTED", "INTERNAL"]}
    google.ok("PATCH", "faults", json=faults)
    cycle = run()
    assert cycle.status == SyncCycle.Status.SUCCESS, cycle.message
    pushed = stage_of(cycle, "push_updates")
    assert (pushed.updated, pushed.failed) == (4, 0)
    titles = {
        e: c["organizations"][0]["title"] for e, c in google_contacts_by_email(google).items()
    }
    assert titles == {f"r{i}@example.com": "Pilot" for i in range(4)}
    assert not SyncError.objects.filter(integration=integration).exists()
    # The refused batch, the fourth contact alone, the three after one backoff pause.
    assert cycle.connector.calls_by_method["people.people.batchUpdateContacts"] == 3
    assert cycle.connector.retries == 1


def test_new_contacts_refused_with_a_retryable_status_are_created_after_a_backoff(
    integration, google, contacts, run
):
    from tests.support.sync import concord_contact

    for i in range(3):
        concord_contact(contacts, firstname=f"N{i}", email=f"n{i}@example.com")
    google.ok("PATCH", "faults", json={"next_contact_errors": ["UNAVAILABLE"]})
    cycle = run()
    pushed = stage_of(cycle, "push_new")
    assert (pushed.new, pushed.failed) == (3, 0)
    assert sorted(google_contacts_by_email(google)) == [f"n{i}@example.com" for i in range(3)]
    assert cycle.connector.calls_by_method["people.people.batchCreateContacts"] == 3
    assert RecordLink.objects.filter(integration=integration, remote_id__isnull=False).count() == 3


def test_a_contact_whose_retries_run_out_stays_dirty_and_goes_next_cycle(
    integration, google, contacts, run
):
    google.ok("POST", "fill", json={"count": 2, "prefix": "t"})
    assert run().status == SyncCycle.Status.SUCCESS
    record = Record.objects.get(object_type=contacts, properties__email="t0@example.com")
    update_record(record=record, properties={"jobtitle": "Captain"}, source="user")
    # Google keeps refusing the contact: six attempts, then the connector gives up.
    google.ok("PATCH", "faults", json={"next_contact_errors": ["UNAVAILABLE"] * 6})
    cycle = run()
    assert cycle.status == SyncCycle.Status.SUCCESS, cycle.message
    pushed = stage_of(cycle, "push_updates")
    assert (pushed.updated, pushed.failed) == (0, 1)
    assert cycle.connector.retries == 5  # a backoff pause before each of attempts 2 to 6
    [error] = SyncError.objects.filter(integration=integration, status="open")
    assert (error.code, error.direction, error.record_id) == ("UNAVAILABLE", "push", record.pk)
    # The failed push kept the dirty mark: the next cycle sends the contact again.
    link = RecordLink.objects.get(record_id=error.record_id)
    assert link.dirty
    again = run()
    assert stage_of(again, "push_updates").updated == 1
    people = google_contacts_by_email(google)
    assert people["t0@example.com"]["organizations"][0]["title"] == "Captain"
    link.refresh_from_db()
    assert not link.dirty
    error.refresh_from_db()
    assert error.status == "resolved"
