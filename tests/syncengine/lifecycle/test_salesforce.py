"""Delete rules and restores both ways with Salesforce (SPEC L-1, L-2), on the strict sandbox over
HTTPS with simple-salesforce: remote deletes archive (or are ignored), Concord archives delete
remotely in collections of 200 (or are left alone, the default), restores in either recycle bin
come back on the other side without a duplicate."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.models import Record
from crm.services.records import (
    archive_records,
    restore_records,
    update_record,
)
from syncengine.models import RecordLink, SyncError
from syncengine.services.mappings import set_delete_rules
from tests.support.lifecycle import (
    all_contacts,
    contact_mapping,
    delete_in_salesforce,
    pushed_contacts,
)
from tests.support.sync import stage_of

pytestmark = pytest.mark.django_db


def test_a_remote_delete_archives_the_concord_record_by_default(
    integration, sandbox, run, contacts
):
    (record_id,) = pushed_contacts(contacts, run, 1)
    link = RecordLink.objects.get(record_id=record_id)
    assert contact_mapping(integration).pull_delete_rule == "archive"
    delete_in_salesforce(integration)  # the archive it causes is not sent back as a delete

    sandbox.delete("Contact", link.remote_id)
    cycle = run()

    assert Record.objects.get(pk=record_id).archived_at is not None
    assert stage_of(cycle, "pull_deletes", "Contact").deleted == 1
    assert stage_of(cycle, "push_deletes", "Contact").api_calls == 0
    link.refresh_from_db()
    assert link.remote_deleted_at is not None and link.pending_op == ""


def test_a_remote_delete_is_ignored_under_the_ignore_rule(integration, sandbox, run, contacts):
    (record_id,) = pushed_contacts(contacts, run, 1)
    set_delete_rules(object_mapping=contact_mapping(integration), pull_delete_rule="ignore")
    link = RecordLink.objects.get(record_id=record_id)

    sandbox.delete("Contact", link.remote_id)
    cycle = run()

    record = Record.objects.get(pk=record_id)
    assert record.archived_at is None  # kept in Concord
    assert stage_of(cycle, "pull_deletes", "Contact").deleted == 0
    link.refresh_from_db()
    assert link.remote_deleted_at is not None
    # Its twin is gone: a later change is not written onto a deleted record (no error).
    update_record(record=record, properties={"jobtitle": "Kept"}, source="user")
    again = run()
    assert again.status == "success", again.message
    assert stage_of(again, "push_updates", "Contact").api_calls == 0
    assert not SyncError.objects.filter(integration=integration).exists()


def test_a_concord_archive_is_left_alone_remotely_by_default(integration, sandbox, run, contacts):
    ids = pushed_contacts(contacts, run, 3)
    assert contact_mapping(integration).push_delete_rule == "ignore"

    archive_records(object_type=contacts, record_ids=ids, source="user")
    cycle = run()

    assert sandbox.count("Contact") == 3
    assert stage_of(cycle, "push_deletes", "Contact").api_calls == 0
    assert not RecordLink.objects.exclude(pending_op="").exists()


def test_a_concord_archive_deletes_remotely_in_collections_of_200(
    integration, sandbox, run, contacts, client, staff_user
):
    ids = pushed_contacts(contacts, run, 450)
    kept = ids[-1]
    delete_in_salesforce(integration)

    archive_records(object_type=contacts, record_ids=ids[:-1], source="user")
    assert RecordLink.objects.filter(pending_op="delete").count() == 449  # marked with it
    cycle = run()

    assert cycle.status == "success", cycle.message
    stage = stage_of(cycle, "push_deletes", "Contact")
    assert (stage.deleted, stage.failed, stage.api_calls) == (449, 0, 3)  # 200 + 200 + 49
    assert sandbox.count("Contact") == 1
    remote = all_contacts(sandbox)
    assert len(remote) == 450  # no copy made anywhere
    live = [r for r in remote if not r["IsDeleted"]]
    assert [r["Concord_Id__c"] for r in live] == [str(kept)]
    links = RecordLink.objects.filter(record_id__in=ids[:-1])
    assert links.filter(remote_deleted_at__isnull=False, pending_op="").count() == 449
    # The next cycle sees its own deletes come back from Salesforce and does nothing more.
    again = run()
    assert again.status == "success", again.message
    assert stage_of(again, "push_deletes", "Contact").api_calls == 0
    assert stage_of(again, "pull_deletes", "Contact").deleted == 0
    assert Record.objects.filter(object_type=contacts).count() == 450
    # Both delete stages and their counts are on the sync status dashboard.
    client.force_login(staff_user)
    page = client.get(
        reverse("admin:syncengine_syncstage_changelist"), {"operation": "push_deletes"}
    )
    rows = [
        st
        for st in page.context["page"]
        if st.cycle_id == cycle.pk and st.remote_object == "Contact"
    ]
    assert [(st.get_operation_display(), st.deleted) for st in rows] == [("Push deletes", 449)]
    assert b"Push deletes" in page.content
    page = client.get(
        reverse("admin:syncengine_syncstage_changelist"), {"operation": "pull_deletes"}
    )
    assert any(st.get_operation_display() == "Pull deletes" for st in page.context["page"])


def test_a_refused_delete_becomes_a_sync_error_and_keeps_its_mark(
    integration, sandbox, run, contacts
):
    ids = pushed_contacts(contacts, run, 2)
    delete_in_salesforce(integration)
    archive_records(object_type=contacts, record_ids=ids, source="user")
    sandbox.control("PATCH", "faults", json={"unable_to_lock_row_rate": 1.0})

    cycle = run()

    stage = stage_of(cycle, "push_deletes", "Contact")
    assert (stage.deleted, stage.failed) == (0, 2)
    assert sandbox.count("Contact") == 2
    assert RecordLink.objects.filter(record_id__in=ids, pending_op="delete").count() == 2
    errors = SyncError.objects.filter(integration=integration, direction="push", status="open")
    assert sorted(errors.values_list("record_id", flat=True)) == sorted(ids)
    assert {e.code for e in errors} == {"UNABLE_TO_LOCK_ROW"}

    sandbox.control("DELETE", "faults")
    again = run()
    assert stage_of(again, "push_deletes", "Contact").deleted == 2
    assert sandbox.count("Contact") == 0
    assert not errors.filter(status="open").exists()


def test_a_restore_in_concord_recreates_the_deleted_salesforce_record(
    integration, sandbox, run, contacts
):
    (record_id,) = pushed_contacts(contacts, run, 1)
    delete_in_salesforce(integration)
    old_id = RecordLink.objects.get(record_id=record_id).remote_id
    archive_records(object_type=contacts, record_ids=[record_id], source="user")
    run()
    assert sandbox.count("Contact") == 0

    restore_records(object_type=contacts, record_ids=[record_id], source="user")
    assert RecordLink.objects.get(record_id=record_id).pending_op == "restore"
    cycle = run()

    assert cycle.status == "success", cycle.message
    assert stage_of(cycle, "push_restores", "Contact").new == 1
    assert stage_of(cycle, "push_new", "Contact").new == 1
    link = RecordLink.objects.get(record_id=record_id)
    assert link.remote_id and link.remote_id != old_id  # re-created (REST has no undelete)
    assert (link.remote_deleted_at, link.pending_op, link.dirty) == (None, "", False)
    live = [r for r in all_contacts(sandbox) if not r["IsDeleted"]]
    assert [(r["Id"], r["Concord_Id__c"]) for r in live] == [(link.remote_id, str(record_id))]
    assert sandbox.get("Contact", link.remote_id)["Email"] == "c0@x.com"
    # Nothing more happens: no copy either side.
    again = run()
    assert again.status == "success", again.message
    assert sandbox.count("Contact") == 1
    assert Record.objects.filter(object_type=contacts).count() == 1
    assert stage_of(again, "pull_updates", "Contact").new == 0


def test_an_archive_restored_before_its_delete_is_sent_deletes_nothing(
    integration, sandbox, run, contacts
):
    (record_id,) = pushed_contacts(contacts, run, 1)
    delete_in_salesforce(integration)
    archive_records(object_type=contacts, record_ids=[record_id], source="user")
    restore_records(object_type=contacts, record_ids=[record_id], source="user")

    cycle = run()

    assert stage_of(cycle, "push_deletes", "Contact").api_calls == 0
    assert sandbox.count("Contact") == 1
    link = RecordLink.objects.get(record_id=record_id)
    assert (link.pending_op, link.remote_deleted_at) == ("", None)


def test_an_undelete_in_salesforce_restores_the_concord_record(integration, sandbox, run, contacts):
    (record_id,) = pushed_contacts(contacts, run, 1)
    delete_in_salesforce(integration)
    remote_id = RecordLink.objects.get(record_id=record_id).remote_id
    archive_records(object_type=contacts, record_ids=[record_id], source="user")
    run()  # deleted in Salesforce by Concord
    assert sandbox.get("Contact", remote_id)["IsDeleted"] is True

    # A Salesforce user restores it from the recycle bin.
    sandbox.control("POST", f"records/Contact/{remote_id}/undelete")
    cycle = run()

    assert cycle.status == "success", cycle.message
    assert Record.objects.get(pk=record_id).archived_at is None  # back from Concord's bin
    assert Record.objects.filter(object_type=contacts).count() == 1  # not a new record
    link = RecordLink.objects.get(record_id=record_id)
    assert (link.remote_id, link.remote_deleted_at, link.pending_op) == (remote_id, None, "")
    assert stage_of(cycle, "pull_updates", "Contact").new == 0
    assert stage_of(cycle, "push_new", "Contact").new == 0
    assert [r["Id"] for r in all_contacts(sandbox)] == [remote_id]


def test_a_record_deleted_and_undeleted_in_salesforce_comes_back_in_concord(
    integration, sandbox, run, contacts
):
    (record_id,) = pushed_contacts(contacts, run, 1)
    remote_id = RecordLink.objects.get(record_id=record_id).remote_id
    sandbox.delete("Contact", remote_id)
    run()
    assert Record.objects.get(pk=record_id).archived_at is not None

    sandbox.control("POST", f"records/Contact/{remote_id}/undelete")
    run()

    assert Record.objects.get(pk=record_id).archived_at is None
    assert Record.objects.filter(object_type=contacts).count() == 1
    assert sandbox.count("Contact") == 1


def test_a_delete_salesforce_answers_already_deleted_counts_as_done(
    integration, sandbox, run, contacts
):
    first, second = pushed_contacts(contacts, run, 2)
    gone, live = (RecordLink.objects.get(record_id=i).remote_id for i in (first, second))
    sandbox.delete("Contact", gone)
    connector = run().connector  # the cycle's metered simple-salesforce connector

    outcomes = connector.delete([gone, live])

    assert [(o.success, o.remote_id) for o in outcomes] == [(True, gone), (True, live)]
    assert sandbox.count("Contact") == 0
