import datetime as dt

import pytest
from django.utils import timezone

from crm import sources
from crm.models import AuditEvent, Record
from crm.services.records import create_record
from crm.tasks import purge_recycle_bin_task
from tests.support.schema import ensure_standard_schema
from tests.support.waiting import wait_until


def test_purge_task_runs_inline_and_twice_is_a_no_op(contacts):
    old = create_record(
        object_type=contacts, source=sources.API, properties={"email": "old@example.com"}
    )
    Record.objects.filter(pk=old.pk).update(archived_at=timezone.now() - dt.timedelta(days=95))
    assert purge_recycle_bin_task.apply().get() == 1
    assert purge_recycle_bin_task.apply().get() == 0


@pytest.mark.worker
def test_a_real_worker_purges_the_recycle_bin(celery_worker_process):
    ensure_standard_schema()
    from crm.models import ObjectType

    contacts = ObjectType.objects.get(name="contacts")
    old = create_record(
        object_type=contacts, source=sources.API, properties={"email": "old@example.com"}
    )
    recent = create_record(
        object_type=contacts, source=sources.API, properties={"email": "recent@example.com"}
    )
    Record.objects.filter(pk=old.pk).update(archived_at=timezone.now() - dt.timedelta(days=95))
    Record.objects.filter(pk=recent.pk).update(archived_at=timezone.now() - dt.timedelta(days=5))

    purge_recycle_bin_task.delay()
    purge_recycle_bin_task.delay()  # delivered twice: the second finds nothing to do

    wait_until(lambda: not Record.objects.filter(pk=old.pk).exists(), timeout=60)
    wait_until(lambda: AuditEvent.objects.filter(verb="purge").count() == 1, timeout=10)
    assert Record.objects.filter(pk=recent.pk).exists()
