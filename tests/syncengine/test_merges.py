"""Remote merges reach Concord as merges: a Salesforce merge of three contacts, and a Lead
converted into a Contact that Concord links already (strict sandbox, HTTPS, simple-salesforce)."""

from __future__ import annotations

import pytest

from crm.models import Association, AssociationDefinition, AuditEvent, Record
from crm.services.associations import associate_records
from crm.services.records import create_record
from syncengine.models import ObjectMapping, RecordLink
from tests.support.sync import stage_of

pytestmark = pytest.mark.django_db


def link_of(record) -> RecordLink:
    return RecordLink.objects.get(record=record)


def _contact(contacts, **properties):
    return create_record(object_type=contacts, properties=properties, source="user")


def test_a_salesforce_merge_of_three_contacts_reaches_concord_as_one_merge(
    integration, sandbox, run, contacts, companies
):
    # Given three linked contacts, one of them with a company and a Concord-only value
    master = _contact(contacts, email="ada@x.com", lastname="Lovelace")
    first = _contact(contacts, email="ada2@x.com", lastname="Lovelace", lifecyclestage="lead")
    second = _contact(contacts, email="ada3@x.com", lastname="King", jobtitle="Countess")
    acme = create_record(object_type=companies, properties={"name": "Acme"}, source="user")
    plain = AssociationDefinition.objects.get(
        from_object_type=contacts, to_object_type=companies, label=""
    )
    associate_records(definition=plain, pairs=[(first.pk, acme.pk)], source="user")
    run()
    ids = {r.pk: link_of(r).remote_id for r in (master, first, second)}
    # When a Salesforce user merges them, keeping the master's values
    result = sandbox.control(
        "POST",
        "merge/Contact",
        json={
            "masterRecord": {"Id": ids[master.pk]},
            "recordToMergeIds": [ids[first.pk], ids[second.pk]],
        },
    ).json()
    assert result["success"] is True
    cycle = run()
    # Then Concord merged the losers into the master's record instead of archiving them alone
    stage = stage_of(cycle, "pull_merges", "Contact")
    assert (stage.updated, stage.deleted, stage.failed) == (1, 2, 0)
    assert stage_of(cycle, "pull_deletes", "Contact").deleted == 0
    for loser in (first, second):
        loser.refresh_from_db()
        assert loser.archived_at is not None and loser.merged_into_id == master.pk
        assert link_of(loser).remote_deleted_at is not None
    master.refresh_from_db()
    assert master.archived_at is None
    # Salesforce decided the mapped values (the master's); Concord-only ones were filled
    assert master.properties.get("jobtitle") in (None, "")
    assert master.properties["lifecyclestage"] == "lead"
    assert Association.objects.filter(from_record=master, to_record=acme).exists()
    event = AuditEvent.objects.get(verb="merge", target_id=master.pk)
    assert event.source == f"integration:{integration.pk}"
    assert Record.objects.filter(object_type=contacts, archived_at__isnull=True).count() == 1
    # And the next cycle neither re-creates the losers nor merges again
    again = run()
    assert sandbox.count("Contact") == 1
    assert stage_of(again, "pull_merges", "Contact").deleted == 0
    assert AuditEvent.objects.filter(verb="merge", target_id=master.pk).count() == 1


def test_a_lead_converted_into_a_linked_contact_merges_the_records(
    integration, sandbox, run, contacts
):
    # Given a contact linked to a Salesforce Contact, then a Lead from another Concord record
    contact = _contact(contacts, email="buyer@x.com", lastname="Buyer")
    run()
    contact_id = link_of(contact).remote_id
    ObjectMapping.objects.filter(integration=integration, remote_object="Lead").update(enabled=True)
    lead = _contact(contacts, email="lead@x.com", lastname="Buyer", company="Leeds", city="Leeds")
    run()
    lead_id = link_of(lead).remote_id
    assert lead_id.startswith("00Q")
    # When the Lead is converted into the existing Contact
    sandbox.control("POST", f"leads/{lead_id}/convert", json={"contactId": contact_id})
    cycle = run()
    # Then the Lead's Concord record is merged into the contact's: one active record remains
    assert stage_of(cycle, "pull_conversions", "Lead").updated == 1
    lead.refresh_from_db()
    assert lead.archived_at is not None and lead.merged_into_id == contact.pk
    assert not RecordLink.objects.filter(record=lead).exists()
    contact.refresh_from_db()
    assert contact.archived_at is None and link_of(contact).remote_id == contact_id
    assert contact.properties["company"] == "Leeds"  # a blank of the winner, filled
    assert Record.objects.filter(object_type=contacts, archived_at__isnull=True).count() == 1
    assert AuditEvent.objects.filter(verb="merge", target_id=contact.pk).exists()
