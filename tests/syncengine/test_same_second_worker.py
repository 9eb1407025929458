"""Whole-second stamps on a real worker and PostgreSQL: 5,000 Salesforce contacts written in one
second (one SystemModstamp) are pulled once each, and edits made in that same second afterwards
still arrive, at page and batch boundaries, with the same bounded number of query calls."""

from __future__ import annotations

import pytest

from crm.models import Record
from syncengine.models import RecordLink, SyncCycle, SyncStage
from tests.support.salesforce_sandbox import contacts_in_one_second, remote_collection
from tests.support.schema import ensure_standard_schema
from tests.support.waiting import wait_until

pytestmark = pytest.mark.worker

CONTACTS = 5000


def run_on_worker(integration) -> SyncCycle:
    from syncengine.engine.cycles import start_cycle

    cycle, _ = start_cycle(integration=integration)  # the real task, on the worker's queue
    wait_until(
        lambda: SyncCycle.objects.get(pk=cycle.pk).status not in SyncCycle.ACTIVE, timeout=600
    )
    cycle.refresh_from_db()
    assert cycle.status == SyncCycle.Status.SUCCESS, cycle.message
    return cycle


def pull_stage(cycle: SyncCycle) -> SyncStage:
    return cycle.stages.get(operation=SyncStage.Operation.PULL_UPDATES, remote_object="Contact")


def test_shared_stamp_pull_on_a_real_worker(restartable_worker, sandbox):
    ensure_standard_schema()
    from crm.models import ObjectType
    from tests.support.salesforce_sandbox import connect_org

    integration = connect_org(sandbox)
    contacts = ObjectType.objects.get(name="contacts")
    stamp = contacts_in_one_second(sandbox, "Worker", CONTACTS)
    restartable_worker.start()
    stage = pull_stage(run_on_worker(integration))
    assert (stage.new, stage.failed, stage.api_calls) == (CONTACTS, 0, 3)
    links = list(
        RecordLink.objects.filter(remote_object="Contact")
        .order_by("remote_id")
        .values_list("remote_id", "record_id")
    )
    assert len({remote_id for remote_id, _ in links}) == len(links) == CONTACTS
    # Edited in that same second, on both sides of the page (2,000) and batch (500) boundaries
    edited = [links[i][0] for i in (0, 499, 500, 1999, 2000, 3999, 4000, 4999)]
    remote_collection(
        sandbox,
        "PATCH",
        [{"attributes": {"type": "Contact"}, "id": rid, "Title": "After"} for rid in edited],
    )
    assert {sandbox.get("Contact", rid)["SystemModstamp"] for rid in edited} == {stamp}
    stage = pull_stage(run_on_worker(integration))
    assert (stage.new, stage.updated, stage.api_calls) == (0, len(edited), 3)
    by_remote = dict(links)
    after = Record.objects.filter(object_type=contacts, properties__jobtitle="After")
    assert set(after.values_list("pk", flat=True)) == {by_remote[rid] for rid in edited}
    assert Record.objects.filter(object_type=contacts).count() == CONTACTS
