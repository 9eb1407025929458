"""Contact roles are read incrementally from the strict Salesforce sandbox: after the first read,
a cycle reads only the roles changed or deleted since the junction watermark (one queryAll), so
a quiet cycle reads no role rows; changed, deleted and older roles of newly linked deals still
come out exactly as a full read would make them."""

from __future__ import annotations

import datetime as dt

import pytest

from crm.models import Association, Record
from syncengine.connectors.salesforce.client import SalesforceConnector
from syncengine.models import ReferenceMapping
from tests.support.contact_roles import OCR, make_contacts, make_deal, remote_id, roles_of
from tests.support.sync import stage_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def role_rows(monkeypatch) -> list[int]:
    """The role rows each junction read returns (the real connector, counted)."""
    counts: list[int] = []
    real = SalesforceConnector.read_junctions

    def counted(self, junction, **kwargs):
        counts.append(0)
        for row in real(self, junction, **kwargs):
            counts[-1] += 1
            yield row

    monkeypatch.setattr(SalesforceConnector, "read_junctions", counted)
    return counts


def in_the_past(sandbox, minutes: int = 10) -> None:
    """Hold the org's clock some minutes back: what is written now is stamped then."""
    held = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)
    sandbox.control("POST", "clock", json={"held_at": held.isoformat()})


def associated(deal_contacts, deal) -> set[int]:
    return set(
        Association.objects.filter(definition=deal_contacts, from_record_id=deal.pk).values_list(
            "to_record_id", flat=True
        )
    )


def test_a_quiet_cycle_reads_no_role_rows_and_changes_and_deletes_still_follow(
    integration,
    sandbox,
    run,
    deals,
    contacts,
    deal_contacts,
    role_rows,
):
    # A deal with two roles, made in Salesforce before the integration's first cycle.
    in_the_past(sandbox)
    deal_id = sandbox.create(
        "Opportunity", Name="Big deal", StageName="Closed Won", CloseDate="2030-01-01"
    )
    people = [sandbox.create("Contact", LastName="C", Email=f"c{i}@x.com") for i in range(3)]
    first = sandbox.create(OCR, OpportunityId=deal_id, ContactId=people[0])
    second = sandbox.create(OCR, OpportunityId=deal_id, ContactId=people[1])
    sandbox.control("DELETE", "clock")
    # Without a watermark: every role is read once (as before), and associated.
    stage = stage_of(run(), "update_foreign_keys")
    assert (stage.new, stage.api_calls, role_rows) == (2, 1, [2])
    deal = Record.objects.get(object_type=deals, properties__dealname="Big deal")
    ids = [
        Record.objects.get(object_type=contacts, properties__email=f"c{i}@x.com").pk
        for i in range(3)
    ]
    assert associated(deal_contacts, deal) == {ids[0], ids[1]}
    ref = ReferenceMapping.objects.get(remote_field=OCR)
    assert ref.junction_watermark is not None
    # Nothing changed: one call that reads no role row (a full read would read both again).
    role_rows.clear()
    stage = stage_of(run(), "update_foreign_keys")
    assert (stage.new, stage.deleted, stage.api_calls, role_rows) == (0, 0, 1, [0])
    # A role changed in Salesforce (another contact) is picked up: only that row is read.
    sandbox.update(OCR, second, ContactId=remote_id(ids[2]))
    role_rows.clear()
    stage = stage_of(run(), "update_foreign_keys")
    assert (stage.new, stage.deleted, stage.api_calls, role_rows) == (1, 1, 1, [1])
    assert associated(deal_contacts, deal) == {ids[0], ids[2]}
    assert roles_of(deal) == {remote_id(ids[0]): first, remote_id(ids[2]): second}
    # A role deleted in Salesforce comes with the same read (queryAll) and removes the
    # association; nothing is recreated.
    sandbox.delete(OCR, first)
    role_rows.clear()
    stage = stage_of(run(), "update_foreign_keys")
    assert (stage.new, stage.deleted, stage.api_calls) == (0, 1, 1)
    assert role_rows[-1] >= 1  # the deleted role (and the changed one, inside the overlap)
    assert associated(deal_contacts, deal) == {ids[2]}
    assert roles_of(deal) == {remote_id(ids[2]): second}
    assert sandbox.count(OCR) == 1
    # Settled: a cycle after the overlap window again costs one call and no write.
    stage = stage_of(run(), "update_foreign_keys")
    assert (stage.new, stage.deleted, stage.api_calls) == (0, 0, 1)


def test_older_roles_of_a_deal_linked_later_are_read_once_by_deal(
    integration,
    sandbox,
    run,
    deals,
    contacts,
    deal_contacts,
    role_rows,
):
    make_deal(deals)
    ids = make_contacts(contacts, 2)
    run()
    run()  # the pushed deal's echo sets the deals' pull watermark
    # A deal made in Salesforce long ago with a role as old: older than both watermarks.
    in_the_past(sandbox)
    old_deal = sandbox.create(
        "Opportunity", Name="Older deal", StageName="Closed Won", CloseDate="2030-01-01"
    )
    old_role = sandbox.create(OCR, OpportunityId=old_deal, ContactId=remote_id(ids[1]))
    sandbox.control("DELETE", "clock")
    role_rows.clear()
    run()
    assert role_rows == [0]  # neither the deal nor its role changed since the watermarks
    assert not Record.objects.filter(properties__dealname="Older deal").exists()
    # The deal is edited today: pulled and linked. Its role, older than the junction
    # watermark, is read once by deal id, and the association follows.
    sandbox.update("Opportunity", old_deal, Description="Touched")
    role_rows.clear()
    stage = stage_of(run(), "update_foreign_keys")
    linked = Record.objects.get(object_type=deals, properties__dealname="Older deal")
    assert associated(deal_contacts, linked) == {ids[1]}
    assert roles_of(linked) == {remote_id(ids[1]): old_role}
    assert (stage.new, stage.api_calls, role_rows) == (1, 2, [1, 0])
    # Once read, the deal's roles come only through the incremental read.
    role_rows.clear()
    stage = stage_of(run(), "update_foreign_keys")
    assert (stage.new, stage.api_calls, role_rows) == (0, 1, [0])
