"""Reconciliation against the Salesforce sandbox (SPEC L-3): records purged from the recycle bin,
which queryAll no longer shows, are found through getDeleted or, when its window was missed, by
comparing the linked ids with a Bulk API 2.0 id query; nothing is archived when nothing was
deleted, and the id query runs only once the interval has passed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import Record
from crm.services.records import RecordInput, write_records
from syncengine.models import ObjectMapping, RecordLink
from tests.support.sync import stage_of

pytestmark = pytest.mark.django_db


def linked_contacts(run, contacts, count: int) -> list[RecordLink]:
    """`count` Concord contacts pushed to Salesforce and linked (the reconcile clocks started)."""
    ids = write_records(
        object_type=contacts,
        inputs=[
            RecordInput(properties={"email": f"r{i}@x.com", "lastname": f"R{i}"})
            for i in range(count)
        ],
        mode="create",
        source="api",
    ).ids
    run()
    return list(RecordLink.objects.filter(record_id__in=ids).order_by("record_id"))


def contact_mapping(integration) -> ObjectMapping:
    return ObjectMapping.objects.get(integration=integration, remote_object="Contact")


def time_passes(integration, *, delete_log: bool = False, interval: bool = False) -> None:
    """The delete log was last read an hour ago / the last id comparison is a day old."""
    an_hour_ago, a_day_ago = timezone.now() - dt.timedelta(hours=1), timezone.now()
    a_day_ago -= dt.timedelta(hours=25)
    mapping = ObjectMapping.objects.filter(pk=contact_mapping(integration).pk)
    if delete_log:
        mapping.update(delete_log_until=an_hour_ago)
    if interval:
        mapping.update(reconciled_at=a_day_ago)


def purge(sandbox, remote_id: str, *, delete_log: bool) -> None:
    """A user deletes the contact and empties the recycle bin (and Salesforce purges its log)."""
    sandbox.delete("Contact", remote_id)
    assert sandbox.control("POST", "recycle-bin/empty", json={"ids": [remote_id]}).json() == {
        "purged": [remote_id]
    }
    if delete_log:
        sandbox.control("POST", "delete-log/purge")


def test_a_record_purged_past_the_delete_log_is_found_by_comparing_ids(
    integration, sandbox, run, contacts
):
    links = linked_contacts(run, contacts, 3)
    assert contact_mapping(integration).reconciled_at is not None
    # The contact is deleted, purged from the recycle bin, and the delete log purged too:
    # neither queryAll nor getDeleted can tell any more.
    purge(sandbox, links[0].remote_id, delete_log=True)
    time_passes(integration, delete_log=True)
    cycle = run()
    assert cycle.status == "success", cycle.message
    assert stage_of(cycle, "pull_deletes", "Contact").deleted == 0
    stage = stage_of(cycle, "reconcile", "Contact")
    assert stage.deleted == 1
    assert "1 deleted remotely found" in stage.message
    assert "1 missing from 2 remote ids (delete log incomplete)" in stage.message
    # getDeleted (refused: purged inside the window), then the id query job.
    assert stage.api_calls >= 4
    assert Record.objects.get(pk=links[0].record_id).archived_at is not None
    assert RecordLink.objects.get(pk=links[0].pk).remote_deleted_at is not None
    assert not Record.objects.filter(
        pk__in=[link.record_id for link in links[1:]], archived_at__isnull=False
    ).exists()


def test_the_dashboard_shows_what_reconcile_found(
    integration, sandbox, run, contacts, client, staff_user
):
    links = linked_contacts(run, contacts, 2)
    purge(sandbox, links[0].remote_id, delete_log=True)
    time_passes(integration, delete_log=True)
    stage = stage_of(run(), "reconcile", "Contact")
    client.force_login(staff_user)
    response = client.get(reverse("admin:syncengine_syncstage_changelist"))
    assert stage in list(response.context["page"])
    html = response.content.decode()
    assert "Reconcile" in html and "1 deleted remotely found" in html


def test_a_record_purged_from_the_recycle_bin_is_found_in_the_delete_log(
    integration, sandbox, run, contacts
):
    links = linked_contacts(run, contacts, 2)
    purge(sandbox, links[1].remote_id, delete_log=False)
    time_passes(integration, delete_log=True)
    cycle = run()
    stage = stage_of(cycle, "reconcile", "Contact")
    # One getDeleted call finds it; no id query is needed.
    assert (stage.deleted, stage.api_calls) == (1, 1)
    assert stage.message.startswith("1 deleted remotely found: 1 in the delete log;")
    assert Record.objects.get(pk=links[1].record_id).archived_at is not None
    assert Record.objects.get(pk=links[0].record_id).archived_at is None
    assert contact_mapping(integration).delete_log_until > timezone.now() - dt.timedelta(minutes=2)


def test_nothing_is_archived_when_nothing_was_deleted(integration, sandbox, run, contacts):
    links = linked_contacts(run, contacts, 5)
    time_passes(integration, delete_log=True, interval=True)
    cycle = run()
    stage = stage_of(cycle, "reconcile", "Contact")
    assert (stage.deleted, stage.failed) == (0, 0)
    assert "0 missing from 5 remote ids (due)" in stage.message
    assert not Record.objects.filter(
        pk__in=[link.record_id for link in links], archived_at__isnull=False
    ).exists()
    assert not RecordLink.objects.filter(remote_deleted_at__isnull=False).exists()


def test_the_id_query_runs_only_once_the_interval_has_passed(integration, sandbox, run, contacts):
    links = linked_contacts(run, contacts, 2)
    time_passes(integration, interval=True)
    due = stage_of(run(), "reconcile", "Contact")
    assert "0 missing from 2 remote ids (due)" in due.message and due.api_calls >= 3
    # A contact purged now is not looked for on every cycle: the next ones cost no call.
    purge(sandbox, links[0].remote_id, delete_log=True)
    for _ in range(2):
        idle = stage_of(run(), "reconcile", "Contact")
        assert (idle.api_calls, idle.deleted) == (0, 0)
        assert "missing from" not in idle.message
    # Once the interval has passed again, the comparison finds it.
    time_passes(integration, interval=True)
    found = stage_of(run(), "reconcile", "Contact")
    assert found.deleted == 1
    assert Record.objects.get(pk=links[0].record_id).archived_at is not None


def test_an_empty_remote_listing_archives_nothing(integration, sandbox, run, contacts):
    # Every contact gone past the delete log looks exactly like a lost read access: Concord
    # keeps its records and says why, rather than archive everything on that alone.
    links = linked_contacts(run, contacts, 3)
    for link in links:
        purge(sandbox, link.remote_id, delete_log=True)
    time_passes(integration, delete_log=True, interval=True)

    cycle = run()

    stage = stage_of(cycle, "reconcile", "Contact")
    assert stage.deleted == 0
    assert "The remote listed no records at all" in stage.message
    assert not Record.objects.filter(
        pk__in=[link.record_id for link in links], archived_at__isnull=False
    ).exists()
