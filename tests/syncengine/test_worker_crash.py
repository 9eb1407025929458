"""A real worker SIGKILLed in the middle of a push, then a fresh one: the beat's reclaim brings
the cycle back and it finishes with no duplicate in Salesforce and no lost change."""

from __future__ import annotations

import pytest
from django.utils import timezone

from crm.services.records import update_record
from syncengine.models import RecordLink, SyncCycle, SyncStage
from tests.support.schema import ensure_standard_schema
from tests.support.sync import api_contacts
from tests.support.waiting import wait_until

pytestmark = pytest.mark.worker

CONTACTS = 1000  # five collections of 200: several seconds with the injected latency


def test_killed_worker_mid_push_then_restarted(restartable_worker, sandbox):
    ensure_standard_schema()
    from syncengine.engine.cycles import start_cycle
    from syncengine.tasks import schedule_cycles_task
    from tests.support.salesforce_sandbox import connect_org

    integration = connect_org(sandbox)
    ids = api_contacts({"email": f"kill{i}@x.com", "lastname": "K"} for i in range(CONTACTS))
    restartable_worker.start()
    cycle, _ = start_cycle(integration=integration)  # the real task, on the worker's queue

    # Slow the collection calls down only once contacts are being pushed.
    wait_until(
        lambda: SyncStage.objects.filter(
            cycle=cycle, operation=SyncStage.Operation.PUSH_NEW, remote_object="Contact"
        ).exists(),
        timeout=120,
        interval=0.05,
    )
    sandbox.control("PATCH", "faults", json={"latency_ms": 1500})
    # A first batch is pushed and recorded; the next one is on its way.
    wait_until(
        lambda: (
            RecordLink.objects.filter(record_id__in=ids, remote_id__isnull=False).exists()
            and sandbox.count("Contact") < CONTACTS
        ),
        timeout=60,
        interval=0.05,
    )
    restartable_worker.kill()
    sandbox.control("DELETE", "faults")
    assert 0 < sandbox.count("Contact") < CONTACTS
    cycle.refresh_from_db()
    assert cycle.status == SyncCycle.Status.RUNNING

    # A concurrent CRM change to a contact the dead worker had already pushed.
    pushed = RecordLink.objects.filter(record_id__in=ids, remote_id__isnull=False).first()
    assert pushed is not None
    update_record(record=pushed.record, properties={"jobtitle": "Late"}, source="user")

    restartable_worker.start()
    wait_until(lambda: SyncCycle.objects.get(pk=cycle.pk).lease_until < timezone.now(), timeout=30)
    schedule_cycles_task.delay()  # what beat sends: it re-queues cycles whose lease ran out
    wait_until(
        lambda: SyncCycle.objects.get(pk=cycle.pk).status not in SyncCycle.ACTIVE, timeout=120
    )

    cycle.refresh_from_db()
    assert cycle.status == SyncCycle.Status.SUCCESS, cycle.message
    assert sandbox.count("Contact") == CONTACTS  # every contact there, none twice
    links = RecordLink.objects.filter(record_id__in=ids)
    assert links.filter(remote_id__isnull=False).count() == CONTACTS
    assert len(set(links.values_list("remote_id", flat=True))) == CONTACTS
    assert not links.filter(dirty=True).exists()
    assert sandbox.get("Contact", pushed.remote_id)["Title"] == "Late"  # no lost change
    stages = cycle.stages.all()
    assert not stages.filter(status=SyncStage.Status.IN_PROGRESS).exists()
    pushes = list(
        stages.filter(operation=SyncStage.Operation.PUSH_NEW, remote_object="Contact").order_by(
            "pk"
        )
    )
    assert len(pushes) == 2
    assert pushes[0].status == SyncStage.Status.FAILED  # ended with the killed worker
    assert pushes[1].status in (SyncStage.Status.SUCCESS, SyncStage.Status.CLEANUP)
    assert pushes[1].failed == 0
    assert SyncCycle.objects.filter(integration=integration).count() == 1
