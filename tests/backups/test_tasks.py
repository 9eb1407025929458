import datetime as dt

import pytest
from django.utils import timezone

from backups.models import Backup, Restore
from backups.services import backups as backup_services
from backups.tasks import (
    apply_restore_task,
    expire_backups_task,
    run_backup_task,
    run_scheduled_backups_task,
)
from crm import sources
from crm.models import ObjectType, Record
from notifications.models import Notification
from tests.support.backups import confirmed_restore, create, read_zip, update
from tests.support.schema import ensure_standard_schema
from tests.support.waiting import wait_until


def test_tasks_run_inline_and_twice_is_a_no_op(contacts, staff_user):
    create(contacts, {"email": "ada@example.com"})
    backup = backup_services.create_backup(requested_by=staff_user, source=sources.USER)

    run_backup_task.apply(kwargs={"backup_id": backup.pk}).get()
    run_backup_task.apply(kwargs={"backup_id": backup.pk}).get()

    backup.refresh_from_db()
    assert backup.status == Backup.Status.READY
    assert Notification.objects.filter(kind="backup_ready").count() == 1
    assert run_scheduled_backups_task.apply().get() is None  # schedule off
    Backup.objects.filter(pk=backup.pk).update(expires_at=timezone.now() - dt.timedelta(hours=1))
    assert expire_backups_task.apply().get() == 1
    assert expire_backups_task.apply().get() == 0


@pytest.mark.django_db(transaction=True)
def test_confirming_enqueues_the_restore_on_commit(staff_user, backup_storage):
    # (tasks run eagerly here, as soon as the confirming transaction commits)
    ensure_standard_schema()
    deals = ObjectType.objects.get(name="deals")
    (alpha,) = create(deals, {"dealname": "Alpha", "amount": 1000})
    backup = backup_services.create_backup(requested_by=staff_user, source=sources.USER)
    backup.refresh_from_db()
    assert backup.status == Backup.Status.READY  # written on commit
    update(deals, alpha, {"amount": 1})
    restore = confirmed_restore(backup, staff_user, object_type_name="deals", properties=["amount"])

    restore.refresh_from_db()
    assert restore.status == Restore.Status.DONE
    assert Record.objects.get(pk=alpha).properties["amount"] == 1000
    assert apply_restore_task.apply(kwargs={"restore_id": restore.pk}).get() is None


@pytest.fixture
def shared_var_dir(monkeypatch, backup_storage):
    """The worker process writes backups where this test reads them."""
    monkeypatch.setenv("CONCORD_VAR_DIR", str(backup_storage.parent))


@pytest.mark.worker
def test_a_real_worker_writes_the_backup(shared_var_dir, celery_worker_process):
    ensure_standard_schema()
    from tests.factories import UserFactory

    admin = UserFactory(is_superuser=True, is_staff=True)
    contacts = ObjectType.objects.get(name="contacts")
    ids = create(contacts, *({"email": f"p{i}@example.com"} for i in range(50)))

    backup = backup_services.create_backup(requested_by=admin, source=sources.USER)
    run_backup_task.delay(backup_id=backup.pk)  # delivered twice: the second finds it claimed

    wait_until(
        lambda: Backup.objects.filter(pk=backup.pk, status=Backup.Status.READY).exists(),
        timeout=60,
    )
    backup.refresh_from_db()
    rows = read_zip(backup)["contacts.csv"]
    assert [int(r["id"]) for r in rows] == ids
    assert backup.counts == {"contacts": 50}
    wait_until(lambda: Notification.objects.filter(user=admin, kind="backup_ready").exists())
    assert Notification.objects.filter(user=admin).count() == 1
