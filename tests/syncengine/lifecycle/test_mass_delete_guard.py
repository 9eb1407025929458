"""The mass-delete guard in real cycles (SPEC L-5), on the strict Salesforce sandbox over HTTPS:
1,000 deletes of 1,200 linked contacts, in either direction, wait for an admin's decision on
the sync health page instead of being applied; confirmed, they are applied exactly once;
discarded, both sides keep their records. Nothing is lost either way."""

from __future__ import annotations

import pytest

from crm.models import Record
from crm.services.records import archive_records
from syncengine.models import HeldDelete, RecordLink
from syncengine.services.held_deletes import confirm_held_deletes, discard_held_deletes
from tests.support.lifecycle import (
    all_contacts,
    contact_mapping,
    delete_in_salesforce,
    delete_remotely,
    pushed_contacts,
)
from tests.support.sync import stage_of

pytestmark = pytest.mark.django_db

LINKED = 1_200
DELETED = 1_000  # above max(10 % of 1,200, 500): held


def active(ids: list[int]) -> int:
    return Record.objects.filter(pk__in=ids, archived_at__isnull=True).count()


def live_in_salesforce(sandbox) -> int:
    return sum(1 for r in all_contacts(sandbox) if not r["IsDeleted"])


def holds(om, direction: str, status: str = "held") -> int:
    return HeldDelete.objects.filter(object_mapping=om, direction=direction, status=status).count()


def deleted_in_salesforce(integration, sandbox, run, contacts) -> list[int]:
    """LINKED contacts synced, then DELETED of them deleted in Salesforce; the Concord ids."""
    ids = pushed_contacts(contacts, run, LINKED, prefix="guard")
    remote_ids = list(
        RecordLink.objects.filter(record_id__in=ids[:DELETED]).values_list("remote_id", flat=True)
    )
    delete_remotely(sandbox, remote_ids)
    return ids


def test_1000_remote_deletes_are_held_then_archived_once_confirmed(
    integration, sandbox, run, contacts
):
    ids = deleted_in_salesforce(integration, sandbox, run, contacts)
    om = contact_mapping(integration)

    cycle = run()

    stage = stage_of(cycle, "pull_deletes", "Contact")
    assert stage.deleted == 0
    assert f"{DELETED} deletes held" in stage.message
    assert active(ids) == LINKED  # nothing archived yet
    assert holds(om, "pull") == DELETED
    # The next cycle sees the same deletes again (the overlap) and holds nothing twice.
    assert run().status == "success"
    assert HeldDelete.objects.filter(object_mapping=om).count() == DELETED
    assert active(ids) == LINKED

    confirm_held_deletes(integration=integration, object_mapping_id=om.pk, direction="pull")

    assert active(ids[:DELETED]) == 0
    assert active(ids[DELETED:]) == LINKED - DELETED
    cycle = run()
    assert cycle.status == "success", cycle.message
    assert stage_of(cycle, "pull_deletes", "Contact").deleted == 0  # applied once, not again
    assert holds(om, "pull", "applied") == DELETED


def test_1000_held_remote_deletes_discarded_keep_every_concord_record(
    integration, sandbox, run, contacts
):
    ids = deleted_in_salesforce(integration, sandbox, run, contacts)
    om = contact_mapping(integration)
    run()

    discard_held_deletes(integration=integration, object_mapping_id=om.pk, direction="pull")
    cycle = run()

    # Kept in Concord, and (the mapping pushes) created again in Salesforce: nothing lost.
    assert cycle.status == "success", cycle.message
    assert active(ids) == LINKED
    assert stage_of(cycle, "push_new", "Contact").new == DELETED
    assert live_in_salesforce(sandbox) == LINKED


def test_1000_concord_archives_are_held_then_deleted_remotely_once_confirmed(
    integration, sandbox, run, contacts
):
    ids = pushed_contacts(contacts, run, LINKED, prefix="guard")
    om = delete_in_salesforce(integration)
    archive_records(object_type=contacts, record_ids=ids[:DELETED], source="user")

    cycle = run()

    stage = stage_of(cycle, "push_deletes", "Contact")
    assert (stage.deleted, stage.api_calls) == (0, 0)
    assert f"{DELETED} deletes held" in stage.message
    assert live_in_salesforce(sandbox) == LINKED
    assert holds(om, "push") == DELETED

    confirm_held_deletes(integration=integration, object_mapping_id=om.pk, direction="push")
    cycle = run()

    stage = stage_of(cycle, "push_deletes", "Contact")
    assert stage.deleted == DELETED
    assert stage.api_calls == DELETED // 200  # collections of 200
    assert live_in_salesforce(sandbox) == LINKED - DELETED
    assert not RecordLink.objects.filter(pending_op="delete").exists()
    assert stage_of(run(), "push_deletes", "Contact").deleted == 0  # nothing deleted twice


def test_remote_deletes_under_the_ignore_rule_are_not_held(integration, sandbox, run, contacts):
    from syncengine.services.mappings import set_delete_rules

    ids = pushed_contacts(contacts, run, LINKED, prefix="guard")
    om = set_delete_rules(object_mapping=contact_mapping(integration), pull_delete_rule="ignore")
    remote_ids = list(
        RecordLink.objects.filter(record_id__in=ids[:DELETED]).values_list("remote_id", flat=True)
    )
    delete_remotely(sandbox, remote_ids)

    cycle = run()

    # Nothing in Concord changes under "ignore", so there is nothing for an admin to confirm.
    assert cycle.status == "success", cycle.message
    assert not HeldDelete.objects.filter(object_mapping=om).exists()
    assert active(ids) == LINKED
    assert RecordLink.objects.filter(
        record_id__in=ids, remote_deleted_at__isnull=False
    ).count() == (DELETED)
