"""Deals ↔ contacts associations sync with OpportunityContactRole records, both ways, in the
"update foreign keys" stage: idempotent, deletes follow, collections of 200."""

from __future__ import annotations

import pytest

from crm.models import Association
from crm.services.associations import associate_records, dissociate
from syncengine.models import RecordLink
from tests.support.contact_roles import OCR, make_contacts, make_deal, remote_id, roles_of
from tests.support.sync import stage_of

pytestmark = pytest.mark.django_db


def test_associations_push_as_contact_roles_once_and_removals_follow(
    integration, sandbox, run, deals, contacts, deal_contacts
):
    deal = make_deal(deals)
    ids = make_contacts(contacts, 3)
    associate_records(
        definition=deal_contacts, pairs=[(deal.pk, ids[0]), (deal.pk, ids[1])], source="user"
    )
    cycle = run()
    assert cycle.status == "success"
    stage = stage_of(cycle, "update_foreign_keys")
    assert (stage.new, stage.failed, stage.api_calls) == (2, 0, 2)  # one query, one create
    assert sandbox.count(OCR) == 2
    roles = roles_of(deal)
    assert set(roles) == {remote_id(ids[0]), remote_id(ids[1])}
    for contact_id, role_id in roles.items():
        role = sandbox.get(OCR, role_id)
        assert (role["OpportunityId"], role["ContactId"]) == (remote_id(deal.pk), contact_id)
    # Again with nothing changed: the query only, no write, no duplicate
    stage = stage_of(run(), "update_foreign_keys")
    assert (stage.new, stage.deleted, stage.api_calls) == (0, 0, 1)
    assert sandbox.count(OCR) == 2
    # A dissociation in Concord deletes its contact role; the other stays
    dissociate(
        associations=list(
            Association.objects.filter(definition=deal_contacts, to_record_id=ids[0])
        ),
        source="user",
    )
    stage = stage_of(run(), "update_foreign_keys")
    assert (stage.deleted, stage.api_calls) == (1, 2)
    assert sandbox.count(OCR) == 1
    assert set(roles_of(deal)) == {remote_id(ids[1])}


def test_contact_roles_pull_as_associations_and_deletes_follow(
    integration, sandbox, run, deals, contacts, deal_contacts
):
    deal = make_deal(deals)
    ids = make_contacts(contacts, 2)
    run()
    role_id = sandbox.create(OCR, OpportunityId=remote_id(deal.pk), ContactId=remote_id(ids[1]))
    stage = stage_of(run(), "update_foreign_keys")
    assert (stage.new, stage.api_calls) == (1, 1)  # the query; the association costs no call
    pairs = Association.objects.filter(definition=deal_contacts).values_list(
        "from_record_id", "to_record_id"
    )
    assert list(pairs) == [(deal.pk, ids[1])]
    assert roles_of(deal) == {remote_id(ids[1]): role_id}
    assert not RecordLink.objects.filter(dirty=True).exists()  # pulled, so no echo
    stage = stage_of(run(), "update_foreign_keys")
    assert (stage.new, stage.deleted, stage.api_calls) == (0, 0, 1)
    assert sandbox.count(OCR) == 1
    # Deleted in Salesforce: the association goes too, and nothing is recreated
    sandbox.delete(OCR, role_id)
    stage = stage_of(run(), "update_foreign_keys")
    assert (stage.deleted, stage.api_calls) == (1, 1)
    assert not Association.objects.filter(definition=deal_contacts).exists()
    assert sandbox.count(OCR) == 0 and roles_of(deal) == {}


def test_existing_contact_role_is_adopted_and_creates_go_in_collections_of_200(
    integration, sandbox, run, deals, contacts, deal_contacts
):
    deal = make_deal(deals)
    ids = make_contacts(contacts, 250)
    run()
    # A role already in Salesforce for a pair Concord has too (e.g. a create whose answer was
    # lost with a killed worker) is adopted, not sent again.
    existing = sandbox.create(OCR, OpportunityId=remote_id(deal.pk), ContactId=remote_id(ids[0]))
    associate_records(definition=deal_contacts, pairs=[(deal.pk, i) for i in ids], source="user")
    stage = stage_of(run(), "update_foreign_keys")
    assert (stage.new, stage.failed, stage.api_calls) == (249, 0, 3)  # query + 200 + 49
    assert sandbox.count(OCR) == 250
    assert roles_of(deal)[remote_id(ids[0])] == existing
    assert len(set(roles_of(deal).values())) == 250


def test_contact_roles_cost_nothing_without_synced_deals(integration, run, contacts):
    make_contacts(contacts, 3)
    assert stage_of(run(), "update_foreign_keys").api_calls == 0
