"""Stage counts mean what the dashboard says (SPEC M-1): a record blocked by an association
is failed, and "skipped" only counts records whose mapped fields did not change."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import AssociationDefinition
from crm.services.associations import associate
from crm.services.records import create_record
from syncengine.models import RecordLink, SyncError
from tests.support.sync import member_of_a_refused_company, stage_of

pytestmark = pytest.mark.django_db


def test_records_waiting_for_an_association_count_as_failed_every_cycle(
    integration, run, contacts, companies
):
    # Given a contact whose company Salesforce refuses (a trigger), so its AccountId waits
    company, contact = member_of_a_refused_company(
        contacts, companies, email="wait@x.com", lastname="Waiting"
    )
    # When a cycle runs
    first = run()
    # Then the company failed, the contact was created without its reference, and the
    # update-foreign-keys stage counts the waiting contact as failed, not skipped
    assert stage_of(first, "push_new", "Account").failed == 1
    assert stage_of(first, "push_new", "Contact").new == 1
    fks = stage_of(first, "update_foreign_keys")
    assert (fks.failed, fks.skipped, fks.updated) == (1, 0, 0)
    assert fks.outcome_label == "Completed with 1 failed"
    # Nothing changes: the next cycle still counts it failed (it still did not sync)
    second = run()
    fks = stage_of(second, "update_foreign_keys")
    assert (fks.failed, fks.skipped) == (1, 0)
    # and its association error was seen by that stage, so the failed count's link lists it
    error = SyncError.objects.get(category="associations", status="open")
    assert error.record_id == company.pk
    assert list(error.affected_records.values_list("pk", flat=True)) == [contact.pk]
    assert fks.started_at <= error.last_seen_at <= fks.ended_at


def test_the_failed_link_of_the_stage_lists_the_association_error(
    integration, run, contacts, companies, staff_user, client
):
    member_of_a_refused_company(contacts, companies, email="l@x.com", lastname="Linked")
    fks = stage_of(run(), "update_foreign_keys")
    client.force_login(staff_user)
    url = reverse("admin:syncengine_integration_health", args=[integration.pk])
    html = client.get(url, {"stage": fks.pk}).content.decode()
    error = SyncError.objects.get(category="associations", status="open")
    assert f'data-id="{error.pk}"' in html
    assert "Contact Linked waits for Company TRIGGER FAIL Co, which has a Custom code error." in (
        html
    )


def test_a_change_only_to_a_blocked_reference_is_failed_not_skipped(
    integration, run, contacts, companies
):
    # Given a contact in Salesforce already
    contact = create_record(
        object_type=contacts, properties={"email": "c@x.com", "lastname": "Moved"}, source="user"
    )
    run()
    assert RecordLink.objects.get(record=contact).remote_id
    # When its only change is an association to a company Salesforce refuses
    company = create_record(
        object_type=companies, properties={"name": "TRIGGER FAIL Later"}, source="user"
    )
    definition = AssociationDefinition.objects.get(
        from_object_type=contacts, to_object_type=companies, label="Primary"
    )
    associate(definition=definition, from_record=contact, to_record=company, source="user")
    cycle = run()
    # Then the contact's push has nothing else to send, yet it did not sync: failed
    pushed = stage_of(cycle, "push_updates", "Contact")
    assert (pushed.failed, pushed.skipped, pushed.updated) == (1, 0, 0)


def test_skipped_counts_only_records_whose_mapped_fields_did_not_change(
    integration, sandbox, run, contacts
):
    # Given a contact pulled from Salesforce
    sandbox.create("Contact", LastName="Same", Email="same@x.com")
    run()
    # When the next cycle re-reads it (the overlap window) with nothing changed
    cycle = run()
    pulled = stage_of(cycle, "pull_updates", "Contact")
    # Then it is skipped, and nothing failed
    assert (pulled.skipped, pulled.failed, pulled.updated) == (1, 0, 0)


def test_records_re_read_unchanged_are_skipped_without_reading_their_properties(
    integration, sandbox, run, contacts
):
    # Given contacts pulled from Salesforce, one of them then edited there
    for i in range(3):
        sandbox.create("Contact", LastName=f"Same {i}", Email=f"same{i}@x.com")
    run()
    edited = RecordLink.objects.get(record__properties__email="same1@x.com")
    sandbox.update("Contact", edited.remote_id, LastName="Edited")
    # When the next cycle re-reads all three (the overlap window)
    with CaptureQueriesContext(connection) as queries:
        cycle = run()
    # Then the two unchanged are skipped and only the edited record's values are read
    pulled = stage_of(cycle, "pull_updates", "Contact")
    assert (pulled.skipped, pulled.updated) == (2, 1)
    edited.record.refresh_from_db()
    assert edited.record.properties["lastname"] == "Edited"
    reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and '"crm_record"."properties"' in q["sql"]
    ]
    assert not any("syncengine_recordlink" in sql for sql in reads), reads
    assert any(str(edited.record_id) in sql for sql in reads), reads


def test_a_remote_edit_to_no_mapped_field_keeps_its_stamp_without_a_merge(
    integration, sandbox, run, contacts
):
    # Given a contact pulled from Salesforce
    remote_id = sandbox.create("Contact", LastName="Same", Email="same@x.com")
    run()
    link = RecordLink.objects.get(remote_id=remote_id)
    # When someone edits a field Concord does not map, a second later, which moves its stamp
    later = link.remote_modstamp + dt.timedelta(seconds=2)
    sandbox.control("POST", "clock", json={"held_at": later.isoformat()})
    sandbox.update("Contact", remote_id, Department="Research")
    sandbox.control("DELETE", "clock")
    with CaptureQueriesContext(connection) as queries:
        cycle = run()
    # Then the record is skipped, its new stamp is kept and nothing was merged or written
    pulled = stage_of(cycle, "pull_updates", "Contact")
    assert (pulled.skipped, pulled.updated, pulled.failed) == (1, 0, 0)
    after = RecordLink.objects.get(pk=link.pk)
    assert after.remote_modstamp > link.remote_modstamp
    assert after.agreed == link.agreed
    assert after.record.properties == link.record.properties
    assert not [q for q in queries.captured_queries if '"crm_record"."properties"' in q["sql"]]
