"""Cycle control: one active cycle per integration (enforced by the database), a cycle run
twice is a no-op, a crashed worker's cycle is reclaimed and finishes without duplicates,
injected faults converge, the beat fan-out, change capture, and a real worker."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.services.records import RecordInput, create_record, update_record, write_records
from syncengine.engine import cycles, runner
from syncengine.models import RecordLink, SyncCycle
from syncengine.services.integrations import build_connector
from tests.factories import SyncCycleFactory
from tests.support.schema import ensure_standard_schema
from tests.support.sync import no_sleep
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db


def test_one_active_cycle_per_integration(integration):
    first, created = cycles.start_cycle(integration=integration)
    again, created_again = cycles.start_cycle(integration=integration)
    assert created and not created_again and again.pk == first.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        SyncCycleFactory(integration=integration, status="running")


def test_running_a_cycle_twice_does_it_once(integration, sandbox, contacts, monkeypatch):
    monkeypatch.setattr(
        runner, "build_connector", lambda **kw: build_connector(**kw, sleep=no_sleep)
    )
    create_record(
        object_type=contacts, properties={"email": "t@x.com", "lastname": "T"}, source="user"
    )
    cycle, _ = cycles.start_cycle(integration=integration)
    assert cycles.run_cycle(cycle_id=cycle.pk).status == "success"
    stages = cycle.stages.count()
    assert cycles.run_cycle(cycle_id=cycle.pk) is None  # a second delivery of the task
    assert cycle.stages.count() == stages
    assert sandbox.count("Contact") == 1


class Crash(BaseException):
    """Stands for SIGKILL: nothing in the engine catches it."""


def test_crashed_cycle_is_reclaimed_and_finishes_without_duplicates(
    integration, sandbox, contacts, monkeypatch
):
    ids = write_records(
        object_type=contacts,
        inputs=[
            RecordInput(properties={"email": f"k{i}@x.com", "lastname": "K"}) for i in range(450)
        ],
        mode="create",
        source="api",
    ).ids
    real = build_connector(integration=integration, sleep=no_sleep)
    calls = {"n": 0}
    original = real.upsert

    def upsert_then_die(*args, **kwargs):
        result = original(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 2:
            raise Crash  # the second batch reached Salesforce; its answers are lost
        return result

    monkeypatch.setattr(real, "upsert", upsert_then_die)
    cycle, _ = cycles.start_cycle(integration=integration)
    with pytest.raises(Crash):
        cycles.run_cycle(cycle_id=cycle.pk, connector=real)
    cycle.refresh_from_db()
    assert cycle.status == "running"
    # While the lease holds, nobody else takes the cycle; once it runs out, a worker does
    assert cycles.claim_cycle(cycle_id=cycle.pk) is None
    SyncCycle.objects.filter(pk=cycle.pk).update(lease_until=timezone.now() - dt.timedelta(1))
    update_record(
        record=contacts.records.get(pk=ids[0]), properties={"jobtitle": "Late"}, source="user"
    )
    monkeypatch.setattr(
        runner, "build_connector", lambda **kw: build_connector(**kw, sleep=no_sleep)
    )
    finished = cycles.run_cycle(cycle_id=cycle.pk)
    assert finished.status == "success"
    assert sandbox.count("Contact") == 450  # no duplicate in Salesforce
    assert not RecordLink.objects.filter(dirty=True).exists()
    remote = sandbox.get("Contact", RecordLink.objects.get(record_id=ids[0]).remote_id)
    assert remote["Title"] == "Late"  # no lost change


def test_injected_503s_and_row_locks_converge(integration, sandbox, run, contacts):
    write_records(
        object_type=contacts,
        inputs=[
            RecordInput(properties={"email": f"f{i}@x.com", "lastname": "F"}) for i in range(600)
        ],
        mode="create",
        source="api",
    )
    sandbox.control(
        "PATCH", "faults", json={"server_unavailable_rate": 0.1, "unable_to_lock_row_rate": 0.1}
    )
    statuses = []
    for _ in range(4):
        statuses.append(run().status)
        if statuses[-1] == "success" and not RecordLink.objects.filter(dirty=True).exists():
            break
    sandbox.control("DELETE", "faults")
    assert statuses[-1] == "success"
    assert sandbox.count("Contact") == 600
    assert RecordLink.objects.filter(remote_id__isnull=False).count() == 600


def test_schedule_starts_due_cycles_once(integration, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        started = cycles.schedule_due_cycles()
    assert len(started) == 1 and len(callbacks) == 1
    assert cycles.schedule_due_cycles() == []  # queued already, and not due yet
    SyncCycle.objects.update(status="success", created_at=timezone.now() - dt.timedelta(minutes=6))
    assert len(cycles.schedule_due_cycles()) == 1


def test_sync_now_after_a_crash_picks_the_cycle_up_when_its_lease_ends(
    integration, django_capture_on_commit_callbacks, monkeypatch
):
    from syncengine import tasks

    sent: list[tuple[dict, object]] = []
    monkeypatch.setattr(
        tasks.run_cycle_task, "apply_async", lambda kwargs, eta=None: sent.append((kwargs, eta))
    )
    monkeypatch.setattr(tasks.run_cycle_task, "delay", lambda **kwargs: sent.append((kwargs, None)))
    # A worker claimed the cycle and died: the cycle stays "running" until its lease ends
    cycle, _ = cycles.start_cycle(integration=integration)
    assert cycles.claim_cycle(cycle_id=cycle.pk) is not None
    cycle.refresh_from_db()
    sent.clear()
    # "Sync now" answers with the running cycle and has it taken up the moment the lease ends
    with django_capture_on_commit_callbacks(execute=True):
        again, created = cycles.start_cycle(integration=integration)
    assert again.pk == cycle.pk and not created
    assert sent == [({"cycle_id": cycle.pk}, cycle.lease_until + dt.timedelta(seconds=1))]
    # Once the lease has run out, "Sync now" sends it straight away, and a worker claims it
    SyncCycle.objects.filter(pk=cycle.pk).update(lease_until=timezone.now() - dt.timedelta(1))
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        cycles.start_cycle(integration=integration)
    assert sent == [({"cycle_id": cycle.pk}, None)]
    assert cycles.claim_cycle(cycle_id=cycle.pk) is not None


def test_bulk_job_left_open_by_a_dead_worker_is_aborted_by_the_resumed_cycle(
    integration, sandbox, contacts, monkeypatch
):
    monkeypatch.setattr(
        runner, "build_connector", lambda **kw: build_connector(**kw, sleep=no_sleep)
    )
    connector = build_connector(integration=integration, sleep=no_sleep)
    job = connector.sf.restful(
        "jobs/ingest",
        method="POST",
        json={"object": "Contact", "operation": "upsert", "externalIdFieldName": "Concord_Id__c"},
    )
    done = connector.sf.restful(
        "jobs/ingest", method="POST", json={"object": "Contact", "operation": "insert"}
    )
    connector.sf.restful(f"jobs/ingest/{done['id']}", method="PATCH", json={"state": "Aborted"})
    # A worker died pushing through Bulk API 2.0: its job is still open, its stage in progress
    cycle, _ = cycles.start_cycle(integration=integration)
    cycles.claim_cycle(cycle_id=cycle.pk)
    cycle.stages.create(
        integration=integration, operation="push_new", remote_object="Contact",
        started_at=timezone.now(),
    )  # fmt: skip
    SyncCycle.objects.filter(pk=cycle.pk).update(lease_until=timezone.now() - dt.timedelta(1))
    finished = cycles.run_cycle(cycle_id=cycle.pk)
    assert finished.status == "success"
    assert connector.sf.restful(f"jobs/ingest/{job['id']}")["state"] == "Aborted"
    # The first push stage did it (one listing call and one abort)
    first_push = finished.stages.filter(operation="push_new", status="success").order_by("pk")[0]
    assert first_push.message == "Aborted 1 Bulk API job(s) a stopped worker left open."
    assert first_push.api_calls == 2
    # A cycle after a clean one looks for none (no call spent on it)
    again, _ = cycles.start_cycle(integration=integration)
    again = cycles.run_cycle(cycle_id=again.pk)
    assert sum(s.api_calls for s in again.stages.filter(operation="push_new")) == 0


def test_changes_mark_links_dirty_except_the_integrations_own(integration, run, contacts):
    record = create_record(
        object_type=contacts, properties={"email": "h@x.com", "lastname": "H"}, source="user"
    )
    assert RecordLink.objects.get(record=record).dirty
    run()
    update_record(
        record=record, properties={"jobtitle": "Pulled"}, source=f"integration:{integration.pk}"
    )
    assert not RecordLink.objects.get(record=record).dirty
    update_record(record=record, properties={"lifecyclestage": "lead"}, source="user")
    assert not RecordLink.objects.get(record=record).dirty  # not a mapped property
    update_record(record=record, properties={"jobtitle": "Typed"}, source="api")
    assert RecordLink.objects.get(record=record).dirty


@pytest.mark.worker
def test_api_starts_a_cycle_that_a_real_worker_runs(celery_worker_process, sandbox):
    ensure_standard_schema()
    from rest_framework.test import APIClient

    from crm.models import ObjectType
    from tests.factories import UserFactory
    from tests.support.salesforce_sandbox import connect_org

    integration = connect_org(sandbox)
    contacts = ObjectType.objects.get(name="contacts")
    create_record(
        object_type=contacts, properties={"email": "w@x.com", "lastname": "W"}, source="user"
    )
    client = APIClient()
    client.force_authenticate(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(f"/api/v1/integrations/{integration.pk}/sync/")
    assert response.status_code == 202
    cycle_id = response.json()["cycle"]
    wait_until(
        lambda: SyncCycle.objects.get(pk=cycle_id).status not in ("queued", "running"),
        timeout=60,
    )
    assert SyncCycle.objects.get(pk=cycle_id).status == "success"
    assert sandbox.count("Contact") == 1


def test_the_lease_is_renewed_once_a_tenth_of_it_has_passed(integration, settings, monkeypatch):
    settings.CONCORD_SYNC_LEASE_SECONDS = 100
    cycle, _ = cycles.start_cycle(integration=integration)
    claimed = cycles.claim_cycle(cycle_id=cycle.pk)
    clock = {"now": 1000.0}
    monkeypatch.setattr(runner.time, "monotonic", lambda: clock["now"])
    run = runner.CycleRunner(claimed)
    claimed_until = SyncCycle.objects.get(pk=cycle.pk).lease_until
    # Stages and batches a few seconds after the claim leave the lease as the claim wrote it
    clock["now"] += 9
    run.renew_lease()
    assert SyncCycle.objects.get(pk=cycle.pk).lease_until == claimed_until
    # Once a tenth of the lease has passed, the next renewal writes it
    clock["now"] += 1
    run.renew_lease()
    renewed = SyncCycle.objects.get(pk=cycle.pk).lease_until
    assert renewed > claimed_until
    assert renewed >= timezone.now() + dt.timedelta(seconds=99)
