"""A real worker SIGKILLed in the middle of a Push deletes stage of 1,000 records, then a fresh
one: the reclaimed cycle finishes with every record deleted in Salesforce exactly once, none
missed, and no duplicate on either side (the marks are an outbox: cleared only once answered)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from crm.services.records import RecordInput, archive_records, write_records
from syncengine.models import ObjectMapping, RecordLink, SyncCycle, SyncError, SyncStage
from tests.support.schema import ensure_standard_schema
from tests.support.sync import run_cycle_now
from tests.support.waiting import wait_until

pytestmark = pytest.mark.worker

CONTACTS = 1000  # five collections of 200: several seconds with the injected latency


def test_killed_worker_mid_push_deletes_then_restarted(restartable_worker, sandbox):
    ensure_standard_schema()
    from crm.models import ObjectType, Record
    from syncengine.engine.cycles import start_cycle
    from syncengine.services.mappings import set_delete_rules
    from syncengine.tasks import schedule_cycles_task
    from tests.support.salesforce_sandbox import connect_org

    integration = connect_org(sandbox)
    contacts = ObjectType.objects.get(name="contacts")
    ids = write_records(
        object_type=contacts,
        inputs=[
            RecordInput(properties={"email": f"del{i}@x.com", "lastname": "D"})
            for i in range(CONTACTS)
        ],
        mode="create",
        source="api",
    ).ids
    first = run_cycle_now(integration)
    assert first.status == SyncCycle.Status.SUCCESS, first.message
    assert sandbox.count("Contact") == CONTACTS
    set_delete_rules(
        object_mapping=ObjectMapping.objects.get(integration=integration, remote_object="Contact"),
        push_delete_rule="delete",
        confirm_deletes=True,
    )
    archive_records(object_type=contacts, record_ids=ids, source="user")
    links = RecordLink.objects.filter(record_id__in=ids)
    assert links.filter(pending_op="delete").count() == CONTACTS

    restartable_worker.start()
    cycle, _ = start_cycle(integration=integration)  # the real task, on the worker's queue
    # Slow the collection calls down only once deletes are being pushed.
    wait_until(
        lambda: SyncStage.objects.filter(
            cycle=cycle, operation=SyncStage.Operation.PUSH_DELETES, remote_object="Contact"
        ).exists(),
        timeout=120,
        interval=0.05,
    )
    sandbox.control("PATCH", "faults", json={"latency_ms": 1500})
    # A first collection is deleted and recorded; the next one is on its way.
    wait_until(
        lambda: links.filter(remote_deleted_at__isnull=False).exists(),
        timeout=60,
        interval=0.05,
    )
    restartable_worker.kill()
    sandbox.control("DELETE", "faults")
    assert 0 < sandbox.count("Contact") < CONTACTS
    recorded = links.filter(remote_deleted_at__isnull=False).count()
    assert 0 < recorded < CONTACTS
    assert links.filter(pending_op="delete").count() == CONTACTS - recorded  # still marked
    cycle.refresh_from_db()
    assert cycle.status == SyncCycle.Status.RUNNING

    restartable_worker.start()
    wait_until(lambda: SyncCycle.objects.get(pk=cycle.pk).lease_until < timezone.now(), timeout=30)
    schedule_cycles_task.delay()  # what beat sends: it re-queues cycles whose lease ran out
    wait_until(
        lambda: SyncCycle.objects.get(pk=cycle.pk).status not in SyncCycle.ACTIVE, timeout=120
    )

    cycle.refresh_from_db()
    assert cycle.status == SyncCycle.Status.SUCCESS, cycle.message
    # Salesforce: every contact deleted, none live, none created twice.
    assert sandbox.count("Contact") == 0
    remote = sandbox.client().query_all("SELECT Id, IsDeleted FROM Contact", include_deleted=True)[
        "records"
    ]
    assert len(remote) == CONTACTS and all(r["IsDeleted"] for r in remote)
    # Concord: every link answered once and cleared; the records stay archived, none new.
    assert links.filter(remote_deleted_at__isnull=False, pending_op="").count() == CONTACTS
    assert len(set(links.values_list("remote_id", flat=True))) == CONTACTS
    assert Record.objects.filter(object_type=contacts).count() == CONTACTS
    assert not Record.objects.filter(object_type=contacts, archived_at__isnull=True).exists()
    assert not SyncError.objects.filter(integration=integration, status="open").exists()
    stages = list(
        cycle.stages.filter(
            operation=SyncStage.Operation.PUSH_DELETES, remote_object="Contact"
        ).order_by("pk")
    )
    assert len(stages) == 2
    assert stages[0].status == SyncStage.Status.FAILED  # ended with the killed worker
    assert stages[1].status in (SyncStage.Status.SUCCESS, SyncStage.Status.CLEANUP)
    assert stages[1].failed == 0
    # Nothing deleted twice: the resumed stage sent only what no answer had recorded (the
    # deletes of the collection in flight reach Concord through pull deletes, or are answered
    # "already deleted"), never the collections recorded before the kill.
    assert stages[1].deleted <= CONTACTS - recorded
    assert SyncCycle.objects.filter(integration=integration).count() == 2

    # A further cycle has nothing left to send.
    again = run_cycle_now(integration)
    assert again.status == SyncCycle.Status.SUCCESS, again.message
    assert (
        again.stages.get(
            operation=SyncStage.Operation.PUSH_DELETES, remote_object="Contact"
        ).api_calls
        == 0
    )
