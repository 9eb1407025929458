"""Defects found in the review of issue 16's record lifecycle, each pinned by a test."""

from __future__ import annotations

import pytest

from crm.models import Record
from crm.services.records import archive_records, restore_records
from syncengine.connectors.salesforce.client import SalesforceConnector
from syncengine.engine.guard import screen_deletes
from syncengine.models import HeldDelete, RecordLink
from syncengine.services.held_deletes import confirm_held_deletes
from syncengine.services.mappings import set_delete_rules
from tests.factories import IntegrationFactory, ObjectMappingFactory
from tests.support.lifecycle import delete_in_salesforce, link_records, pushed_contacts
from tests.support.sync import stage_of

pytestmark = pytest.mark.django_db


def test_confirmed_pull_deletes_under_the_ignore_rule_archive_nothing(contacts):
    om = ObjectMappingFactory(
        integration=IntegrationFactory(), object_type=contacts, mass_delete_minimum=2
    )
    set_delete_rules(object_mapping=om, pull_delete_rule="ignore")
    links = link_records(om, 10)
    assert screen_deletes(om, direction="pull", links=links[:3]) == []

    confirm_held_deletes(integration=om.integration, object_mapping_id=om.pk, direction="pull")

    # "ignore": a remote delete only marks the link; the Concord records stay active.
    assert not Record.objects.filter(archived_at__isnull=False).exists()
    assert RecordLink.objects.filter(remote_deleted_at__isnull=False).count() == 3
    assert not HeldDelete.objects.filter(status="held").exists()


def test_a_restore_while_its_delete_is_being_sent_brings_the_record_back(
    integration, sandbox, run, contacts, monkeypatch
):
    (record_id,) = pushed_contacts(contacts, run, 1)
    delete_in_salesforce(integration)
    archive_records(object_type=contacts, record_ids=[record_id], source="user")
    send = SalesforceConnector.delete

    def restored_meanwhile(self, ids):
        # A user restores the record while the delete call is on its way.
        restore_records(object_type=contacts, record_ids=[record_id], source="user")
        return send(self, ids)

    monkeypatch.setattr(SalesforceConnector, "delete", restored_meanwhile)
    cycle = run()
    assert stage_of(cycle, "push_deletes", "Contact").deleted == 1
    monkeypatch.setattr(SalesforceConnector, "delete", send)

    # The remote twin is gone, the Concord record is live: the next cycle brings it back.
    link = RecordLink.objects.get(record_id=record_id)
    assert link.pending_op == "restore"
    again = run()
    assert again.status == "success", again.message
    link = RecordLink.objects.get(record_id=record_id)
    assert link.remote_id and link.remote_deleted_at is None
    assert sandbox.count("Contact") == 1
