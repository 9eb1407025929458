"""Reconciliation against the People API sandbox (SPEC L-3): contacts deleted while the sync
token was expired leave no tombstone; the full re-list compares the ids and finds them."""

from __future__ import annotations

import pytest

from crm.models import Record
from syncengine.models import ObjectMapping, RecordLink, SyncCycle
from tests.support.google_sandbox import cid, next_scheduled_cycle, person
from tests.support.sync import person_stage_of as stage_of

pytestmark = pytest.mark.django_db


def test_a_contact_deleted_while_the_sync_token_was_expired_is_found(
    integration, google, contacts, run
):
    created = [
        google.ok("POST", "contacts", json=person(f"P{i}", "Tester", f"p{i}@x.io"))
        for i in range(3)
    ]
    next_scheduled_cycle(google, integration)
    first = run()
    assert stage_of(first, "pull_updates").new == 3
    assert ObjectMapping.objects.get(integration=integration).reconciled_at is not None
    # An expired token with nothing deleted: the re-list compares the ids, archives nothing.
    google.ok("POST", "sync-tokens/expire")
    next_scheduled_cycle(google, integration)
    quiet = run()
    assert quiet.status == SyncCycle.Status.SUCCESS, quiet.message
    stage = stage_of(quiet, "reconcile")
    assert stage.deleted == 0 and "0 missing from 3 remote ids (delete log incomplete)" in (
        stage.message
    )
    assert not Record.objects.filter(object_type=contacts, archived_at__isnull=False).exists()
    # A contact deleted while the token was expired: the full listing shows no tombstone.
    google.ok("POST", "sync-tokens/expire")
    google.ok("DELETE", f"contacts/{cid(created[1])}")
    next_scheduled_cycle(google, integration)
    cycle = run()
    assert cycle.status == SyncCycle.Status.SUCCESS, cycle.message
    assert stage_of(cycle, "pull_deletes").deleted == 0
    found = stage_of(cycle, "reconcile")
    assert found.deleted == 1 and found.message.startswith("1 deleted remotely found")
    gone = Record.objects.get(properties__email="p1@x.io")
    assert gone.archived_at is not None
    assert RecordLink.objects.get(record=gone).remote_deleted_at is not None
    assert Record.objects.filter(object_type=contacts, archived_at__isnull=True).count() == 2
    # With a valid token again, the next cycle compares nothing and costs no call.
    calm = stage_of(run(), "reconcile")
    assert (calm.api_calls, calm.deleted) == (0, 0)
