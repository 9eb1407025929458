"""Whole-second stamps: Salesforce stamps SystemModstamp to the second, so edits in one second
share a stamp. The sandbox's clock is held on one second to make those ties certain; the engine
must tell a re-read row from a changed one by its values, never by the stamp alone."""

from __future__ import annotations

import pytest

from crm.models import Record
from crm.services.records import create_record, update_record
from syncengine.models import RecordLink
from tests.support.salesforce_sandbox import contacts_in_one_second, hold_clock, remote_collection
from tests.support.sync import stage_of

pytestmark = pytest.mark.django_db


def test_second_remote_edit_in_the_same_second_after_a_pull_is_pulled(
    integration, sandbox, run, contacts
):
    # Given a contact in both systems, read back by a pull, with the clock held on one second
    stamp = hold_clock(sandbox)
    record = create_record(
        object_type=contacts, properties={"email": "s@x.com", "lastname": "Same"}, source="user"
    )
    run()  # pushes it
    run()  # reads it back: its stamp is now the link's
    remote_id = RecordLink.objects.get(record=record).remote_id
    # When Salesforce is edited, pulled, and edited again within the same second
    sandbox.update("Contact", remote_id, Title="First")
    run()
    record.refresh_from_db()
    assert record.properties["jobtitle"] == "First"
    sandbox.update("Contact", remote_id, Title="Second")
    assert sandbox.get("Contact", remote_id)["SystemModstamp"] == stamp  # the very same stamp
    cycle = run()
    # Then the second edit arrives although its stamp equals the one already merged
    record.refresh_from_db()
    assert record.properties["jobtitle"] == "Second"
    assert stage_of(cycle, "pull_updates", "Contact").updated == 1
    # And a re-read of the unchanged row costs no write and pushes nothing
    cycle = run()
    assert stage_of(cycle, "pull_updates", "Contact").updated == 0
    assert stage_of(cycle, "push_updates", "Contact").api_calls == 0


def test_remote_and_concord_edits_in_the_same_second_both_survive(
    integration, sandbox, run, contacts
):
    stamp = hold_clock(sandbox)
    record = create_record(
        object_type=contacts,
        properties={"email": "t@x.com", "lastname": "Tie", "firstname": "Tia"},
        source="user",
    )
    run()
    run()
    remote_id = RecordLink.objects.get(record=record).remote_id
    # When a Salesforce user and a Concord user edit different fields in the same second
    sandbox.update("Contact", remote_id, Title="Remote title")
    update_record(record=record, properties={"lastname": "Concord name"}, source="user")
    assert sandbox.get("Contact", remote_id)["SystemModstamp"] == stamp
    run()
    # Then both edits are on both sides
    record.refresh_from_db()
    remote = sandbox.get("Contact", remote_id)
    assert record.properties["jobtitle"] == "Remote title"
    assert remote["LastName"] == "Concord name" and remote["Title"] == "Remote title"
    # And when both edit the same field in that second, the two sides end up agreeing
    sandbox.update("Contact", remote_id, FirstName="Remote first")
    update_record(record=record, properties={"firstname": "Concord first"}, source="user")
    run()
    run()
    record.refresh_from_db()
    remote = sandbox.get("Contact", remote_id)
    assert remote["FirstName"] == record.properties["firstname"]
    assert remote["SystemModstamp"] == stamp
    assert not RecordLink.objects.get(record=record).dirty


def test_5000_records_sharing_one_stamp_are_pulled_without_gap_or_loop(
    integration, sandbox, run, contacts
):
    # Given 5,000 Salesforce contacts written in one second (one SystemModstamp): 3 query
    # pages of 2,000 and 10 pull batches of 500
    stamp = contacts_in_one_second(sandbox, "Shared", 5000)
    # When a cycle runs
    cycle = run()
    # Then every one arrives once, in three query calls
    stage = stage_of(cycle, "pull_updates", "Contact")
    assert (stage.new, stage.failed, stage.api_calls) == (5000, 0, 3)
    assert Record.objects.filter(object_type=contacts).count() == 5000
    links = list(
        RecordLink.objects.filter(remote_object="Contact")
        .order_by("remote_id")
        .values_list("remote_id", "record_id")
    )
    assert len({remote_id for remote_id, _ in links}) == len(links) == 5000
    # When records on both sides of every page and batch boundary are edited in that second
    # (rows come ordered by SystemModstamp, then Id)
    edited = [links[i][0] for i in (0, 499, 500, 1999, 2000, 2001, 3999, 4000, 4999)]
    remote_collection(
        sandbox,
        "PATCH",
        [{"attributes": {"type": "Contact"}, "id": rid, "Title": "After"} for rid in edited],
    )
    assert {sandbox.get("Contact", rid)["SystemModstamp"] for rid in edited} == {stamp}
    cycle = run()
    # Then exactly those are updated, with the same three query calls and no new record
    stage = stage_of(cycle, "pull_updates", "Contact")
    assert (stage.new, stage.updated, stage.api_calls) == (0, len(edited), 3)
    by_remote = dict(links)
    after = Record.objects.filter(properties__jobtitle="After").values_list("pk", flat=True)
    assert set(after) == {by_remote[rid] for rid in edited}
    assert Record.objects.filter(object_type=contacts).count() == 5000
    # And the next cycle finds nothing to do and pushes nothing
    cycle = run()
    assert stage_of(cycle, "pull_updates", "Contact").updated == 0
    assert stage_of(cycle, "push_updates", "Contact").api_calls == 0
    assert stage_of(cycle, "push_new", "Contact").api_calls == 0
