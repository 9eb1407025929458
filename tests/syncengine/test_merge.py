"""Two-way merge per field against the last agreed values, under each sync rule."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from crm.models import Record
from crm.services.records import create_record, update_record
from syncengine.models import FieldMapping, RecordLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(integration, sandbox, run, contacts):
    """A contact synced once, with a title both sides agree on."""
    record = create_record(
        object_type=contacts,
        properties={"email": "m@x.com", "lastname": "Merge", "jobtitle": "Agreed"},
        source="user",
    )
    run()
    return record, RecordLink.objects.get(record=record).remote_id


def set_rule(integration, rule: str) -> None:
    FieldMapping.objects.filter(
        object_mapping__integration=integration,
        remote_field="Title",
        object_mapping__remote_object="Contact",
    ).update(rule=rule)


def both_change(record, sandbox, remote_id, *, local_newer: bool) -> None:
    if local_newer:
        sandbox.update("Contact", remote_id, Title="Remote")
        update_record(record=record, properties={"jobtitle": "Local"}, source="user")
    else:
        update_record(record=record, properties={"jobtitle": "Local"}, source="user")
        # The local change is older than the remote one
        changes = record.property_changes
        changes["jobtitle"]["at"] = (timezone.now() - dt.timedelta(minutes=10)).isoformat()
        Record.objects.filter(pk=record.pk).update(property_changes=changes)
        sandbox.update("Contact", remote_id, Title="Remote")


@pytest.mark.parametrize(
    ("rule", "local_newer", "expected"),
    [
        ("two_way", True, "Local"),
        ("two_way", False, "Remote"),
        ("prefer_remote_unless_blank", True, "Remote"),
        ("always_remote", True, "Remote"),
        ("always_concord", False, "Local"),
    ],
)
def test_conflict_when_both_sides_changed(
    integration, sandbox, run, synced, rule, local_newer, expected
):
    record, remote_id = synced
    set_rule(integration, rule)
    both_change(record, sandbox, remote_id, local_newer=local_newer)
    run()
    record.refresh_from_db()
    assert record.properties["jobtitle"] == expected
    assert sandbox.get("Contact", remote_id)["Title"] == expected
    link = RecordLink.objects.get(record=record)
    assert link.agreed["Title"] == expected and not link.dirty


def test_only_one_side_changed_takes_that_side(integration, sandbox, run, synced):
    record, remote_id = synced
    sandbox.update("Contact", remote_id, Department="Sales")  # unmapped: no effect
    update_record(record=record, properties={"city": "Oslo"}, source="user")
    sandbox.update("Contact", remote_id, Title="Remote only")
    run()
    record.refresh_from_db()
    remote = sandbox.get("Contact", remote_id)
    assert record.properties["jobtitle"] == "Remote only" and remote["MailingCity"] == "Oslo"


def test_prefer_remote_unless_blank_fills_a_blank_salesforce_field(
    integration, sandbox, run, synced
):
    record, remote_id = synced
    set_rule(integration, "prefer_remote_unless_blank")
    sandbox.update("Contact", remote_id, Title=None)
    run()
    # Salesforce blank: Concord's value is used and sent back
    record.refresh_from_db()
    assert record.properties["jobtitle"] == "Agreed"
    assert sandbox.get("Contact", remote_id)["Title"] == "Agreed"


def test_dont_sync_leaves_both_sides_alone(integration, sandbox, run, synced):
    record, remote_id = synced
    set_rule(integration, "dont_sync")
    sandbox.update("Contact", remote_id, Title="Remote")
    update_record(record=record, properties={"jobtitle": "Local"}, source="user")
    run()
    record.refresh_from_db()
    assert record.properties["jobtitle"] == "Local"
    assert sandbox.get("Contact", remote_id)["Title"] == "Remote"
