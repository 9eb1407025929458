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


def archived_contacts_to_delete(sandbox):
    """An org with CONTACTS contacts pushed from Concord, then archived in Concord under the
    push delete rule: every link marked for a remote delete. The integration and record ids."""
    from crm.models import ObjectType
    from syncengine.services.held_deletes import set_mass_delete_threshold
    from syncengine.services.mappings import set_delete_rules
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
    mapping = ObjectMapping.objects.get(integration=integration, remote_object="Contact")
    set_delete_rules(object_mapping=mapping, push_delete_rule="delete", confirm_deletes=True)
    # Every record goes: the mass-delete guard is told to let them through (share 100 %).
    set_mass_delete_threshold(object_mapping=mapping, share=1)
    archive_records(object_type=contacts, record_ids=ids, source="user")
    assert RecordLink.objects.filter(record_id__in=ids, pending_op="delete").count() == CONTACTS
    return integration, ids


def kill_during_push_deletes(worker, sandbox, integration, links) -> SyncCycle:
    """Start a cycle on the real worker and SIGKILL it once a first collection of deletes is
    recorded and the next one is on its way (the sandbox slowed down for it)."""
    from syncengine.engine.cycles import start_cycle

    worker.start()
    cycle, _ = start_cycle(integration=integration)  # the real task, on the worker's queue
    wait_until(
        lambda: SyncStage.objects.filter(
            cycle=cycle, operation=SyncStage.Operation.PUSH_DELETES, remote_object="Contact"
        ).exists(),
        timeout=120,
        interval=0.05,
    )
    sandbox.control("PATCH", "faults", json={"latency_ms": 1500})
    wait_until(
        lambda: links.filter(remote_deleted_at__isnull=False).exists(),
        timeout=60,
        interval=0.05,
    )
    worker.kill()
    sandbox.control("DELETE", "faults")
    return cycle


def resume_after_the_lease(worker, cycle: SyncCycle) -> SyncCycle:
    """Restart the worker and send what beat sends once the dead worker's lease ran out."""
    from syncengine.tasks import schedule_cycles_task

    worker.start()
    wait_until(lambda: SyncCycle.objects.get(pk=cycle.pk).lease_until < timezone.now(), timeout=30)
    schedule_cycles_task.delay()  # it re-queues cycles whose lease ran out
    wait_until(
        lambda: SyncCycle.objects.get(pk=cycle.pk).status not in SyncCycle.ACTIVE, timeout=120
    )
    cycle.refresh_from_db()
    return cycle


def push_delete_stages(cycle: SyncCycle) -> list[SyncStage]:
    return list(
        cycle.stages.filter(
            operation=SyncStage.Operation.PUSH_DELETES, remote_object="Contact"
        ).order_by("pk")
    )


def test_killed_worker_mid_push_deletes_then_restarted(restartable_worker, sandbox):
    ensure_standard_schema()
    from crm.models import Record

    integration, ids = archived_contacts_to_delete(sandbox)
    links = RecordLink.objects.filter(record_id__in=ids)

    cycle = kill_during_push_deletes(restartable_worker, sandbox, integration, links)

    assert 0 < sandbox.count("Contact") < CONTACTS
    recorded = links.filter(remote_deleted_at__isnull=False).count()
    assert 0 < recorded < CONTACTS
    assert links.filter(pending_op="delete").count() == CONTACTS - recorded  # still marked
    cycle.refresh_from_db()
    assert cycle.status == SyncCycle.Status.RUNNING

    cycle = resume_after_the_lease(restartable_worker, cycle)

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
    contacts = Record.objects.filter(pk__in=ids).first().object_type
    assert Record.objects.filter(object_type=contacts).count() == CONTACTS
    assert not Record.objects.filter(object_type=contacts, archived_at__isnull=True).exists()
    assert not SyncError.objects.filter(integration=integration, status="open").exists()
    stages = push_delete_stages(cycle)
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
    assert push_delete_stages(again)[0].api_calls == 0
