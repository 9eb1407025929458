"""Each record's sync timeline: the pulls and pushes that changed it (field by field, in the
stage that did it) and the failures, written with the stages and pruned with them; records
read again unchanged stay counts on their stage."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.utils import timezone

from crm.services.records import (
    archive_records,
    create_record,
    purge_expired_records,
    update_record,
)
from syncengine.engine import timeline
from syncengine.engine.cycles import prune_stages
from syncengine.models import RecordLink, SyncCycle, SyncError, SyncStage, SyncTimelineEntry
from tests.support.sync import stage_of

pytestmark = pytest.mark.django_db


def rows_of(record) -> list[SyncTimelineEntry]:
    return list(SyncTimelineEntry.objects.filter(record=record).select_related("stage"))


def change_of(entry: SyncTimelineEntry, field: str) -> dict:
    return next(c for c in entry.changes if c["field"] == field)


def test_a_pushed_change_is_one_row_of_its_stage_with_old_and_new(integration, run, contacts):
    # Given a contact pushed once
    contact = create_record(
        object_type=contacts,
        properties={"email": "ada@x.com", "lastname": "Lovelace", "jobtitle": "Analyst"},
        source="user",
    )
    first = run()
    (created,) = rows_of(contact)
    assert (created.direction, created.outcome) == ("push", "created")
    assert created.stage == stage_of(first, "push_new", "Contact")
    assert change_of(created, "Title") == {
        "field": "Title", "property": "jobtitle", "old": None, "new": "Analyst"
    }  # fmt: skip
    # When its job title changes in Concord and a cycle runs
    update_record(record=contact, properties={"jobtitle": "Countess"}, source="user")
    second = run()
    # Then the push of the update is a row of that push stage: Title Analyst → Countess only
    latest = rows_of(contact)[0]
    assert (latest.direction, latest.outcome) == ("push", "updated")
    assert latest.stage == stage_of(second, "push_updates", "Contact")
    assert latest.changes == [
        {"field": "Title", "property": "jobtitle", "old": "Analyst", "new": "Countess"}
    ]


def test_a_pulled_change_is_a_row_of_the_pull_stage(integration, sandbox, run, contacts):
    contact = create_record(
        object_type=contacts,
        properties={"email": "bo@x.com", "lastname": "Bo", "jobtitle": "Clerk"},
        source="user",
    )
    run()
    remote_id = RecordLink.objects.get(record=contact).remote_id
    # When a sales user changes the title in Salesforce
    sandbox.update("Contact", remote_id, Title="Manager")
    cycle = run()
    # Then the pull that changed the contact is on its timeline, old → new
    pulled = [r for r in rows_of(contact) if r.direction == "pull"]
    assert len(pulled) == 1
    assert pulled[0].outcome == "updated"
    assert pulled[0].stage == stage_of(cycle, "pull_updates", "Contact")
    assert change_of(pulled[0], "Title") == {
        "field": "Title", "property": "jobtitle", "old": "Clerk", "new": "Manager"
    }  # fmt: skip


def test_a_record_created_by_a_pull_is_a_created_row(integration, sandbox, run, contacts):
    sandbox.create("Contact", LastName="Remote", Email="remote@x.com")
    cycle = run()
    link = RecordLink.objects.get(remote_object="Contact")
    (row,) = SyncTimelineEntry.objects.filter(record_id=link.record_id)
    assert (row.direction, row.outcome) == ("pull", "created")
    assert row.stage == stage_of(cycle, "pull_updates", "Contact")
    assert change_of(row, "LastName") == {
        "field": "LastName", "property": "lastname", "old": None, "new": "Remote"
    }  # fmt: skip


def test_a_failed_push_is_a_row_with_its_error(integration, run, contacts):
    # A contact without the last name Salesforce requires
    contact = create_record(object_type=contacts, properties={"email": "n@x.com"}, source="user")
    cycle = run()
    (row,) = rows_of(contact)
    error = SyncError.objects.get(record=contact, status="open")
    assert (row.direction, row.outcome, row.error) == ("push", "failed", error)
    assert row.stage == stage_of(cycle, "push_new", "Contact")
    assert row.error_message == error.message and row.changes == []


def test_records_read_again_unchanged_get_no_row(integration, sandbox, run, contacts):
    # Given contacts created remotely and pulled
    for i in range(3):
        sandbox.create("Contact", LastName=f"Same {i}", Email=f"same{i}@x.com")
    run()
    before = SyncTimelineEntry.objects.count()
    # When the next cycle re-reads them in the overlap window with nothing changed
    cycle = run()
    # Then no row is added: they stay counts on the stage
    assert SyncTimelineEntry.objects.count() == before == 3
    assert stage_of(cycle, "pull_updates", "Contact").skipped == 3


def test_the_timeline_can_be_switched_off(integration, run, contacts, settings):
    settings.CONCORD_SYNC_TIMELINE = False
    create_record(
        object_type=contacts, properties={"email": "o@x.com", "lastname": "Off"}, source="user"
    )
    cycle = run()
    assert stage_of(cycle, "push_new", "Contact").new == 1
    assert not SyncTimelineEntry.objects.exists()


def _stage(integration, *, started_at) -> SyncStage:
    cycle = SyncCycle.objects.create(integration=integration, status="success")
    SyncCycle.objects.filter(pk=cycle.pk).update(created_at=started_at)
    return SyncStage.objects.create(
        cycle=cycle, integration=integration, operation="push_updates", started_at=started_at
    )


def _runner(integration):
    """What timeline.write reads of a cycle's runner."""
    return SimpleNamespace(integration=integration, timeline=True, timeline_written={})


def test_one_row_per_record_per_stage_the_later_read_wins(integration, contacts):
    contact = create_record(object_type=contacts, properties={"lastname": "Twice"}, source="user")
    stage = _stage(integration, started_at=timezone.now())
    run = _runner(integration)
    first = timeline.change("Title", "jobtitle", "A", "B")
    second = timeline.change("Title", "jobtitle", "B", "C")
    # Twice in one batch, then again in a later batch of the same stage
    timeline.write(
        run,
        [
            timeline.changed(run, stage, "push", contact.pk, [first]),
            timeline.changed(run, stage, "push", contact.pk, [second]),
            timeline.changed(run, stage, "push", contact.pk, []),  # nothing changed: no row
        ],
    )
    timeline.write(run, [timeline.changed(run, stage, "push", contact.pk, [second])])
    (row,) = SyncTimelineEntry.objects.filter(record=contact)
    assert row.changes == [second]


def test_rows_are_pruned_with_their_stages(integration, contacts):
    contact = create_record(object_type=contacts, properties={"lastname": "Old"}, source="user")
    now = timezone.now()
    old = _stage(integration, started_at=now - dt.timedelta(days=40))
    recent = _stage(integration, started_at=now - dt.timedelta(days=1))
    run = _runner(integration)
    for stage in (old, recent):
        change = timeline.change("LastName", "lastname", None, "Old")
        timeline.write(run, [timeline.changed(run, stage, "pull", contact.pk, [change])])
    # When stages older than 30 days are pruned
    prune_stages(days=30, now=now)
    # Then the old stage's row went with it; the recent one stays
    assert list(SyncTimelineEntry.objects.values_list("stage_id", flat=True)) == [recent.pk]
    assert not SyncStage.objects.filter(pk=old.pk).exists()


def test_a_purged_record_takes_its_rows_along(integration, contacts, settings):
    # The database does not check the reference: the ORM's cascade removes the rows.
    gone = create_record(object_type=contacts, properties={"lastname": "Gone"}, source="user")
    kept = create_record(object_type=contacts, properties={"lastname": "Kept"}, source="user")
    stage = _stage(integration, started_at=timezone.now())
    run = _runner(integration)
    change = timeline.change("LastName", "lastname", None, "x")
    timeline.write(
        run, [timeline.changed(run, stage, "pull", r.pk, [change]) for r in (gone, kept)]
    )
    archive_records(object_type=contacts, record_ids=[gone.pk], source="user")
    settings.CONCORD_RECYCLE_BIN_DAYS = 0

    assert purge_expired_records(now=timezone.now() + dt.timedelta(seconds=1)) == 1

    assert list(SyncTimelineEntry.objects.values_list("record_id", flat=True)) == [kept.pk]
