import pytest

from backups.errors import BackupError, RestoreInProgress, VerificationFailed
from backups.models import Backup, Restore, RestoreSavedValue
from backups.services import restore_apply, restore_plan
from crm import sources
from crm.models import AuditEvent, Record
from crm.services.records import archive_records
from notifications.models import Notification
from tests.support.backups import add_authenticator, create, current_code, make_backup, update


@pytest.fixture
def bad_import(deals, staff_user):
    """Deals backed up, then mangled by a bad import: changed, filled in, one deleted."""
    ids = create(
        deals,
        {"dealname": "Alpha", "amount": 1000, "dealstage": "closedwon"},
        {"dealname": "Beta", "amount": 2000},
        {"dealname": "Gamma", "amount": 3000, "dealstage": "contractsent"},
        {"dealname": "Delta", "amount": 4000},
    )
    backup = make_backup(staff_user)
    alpha, beta, _gamma, delta = ids
    update(deals, alpha, {"amount": 1, "dealstage": "closedlost"})
    update(deals, beta, {"amount": 2, "dealstage": "qualifiedtobuy"})  # stage was empty
    archive_records(object_type=deals, record_ids=[delta], source=sources.USER)
    (epsilon,) = create(deals, {"dealname": "Epsilon", "amount": 5})  # not in the backup
    return {"backup": backup, "ids": ids, "epsilon": epsilon}


def plan(bad_import, staff_user, properties=("amount", "dealstage")):
    return restore_plan.plan_restore(
        backup=bad_import["backup"],
        object_type_name="deals",
        properties=list(properties),
        actor=staff_user,
        source=sources.USER,
    )


def test_plan_counts_changes_clears_and_missing_records(bad_import, staff_user):
    alpha, beta, _, delta = bad_import["ids"]

    restore = plan(bad_import, staff_user)

    assert restore.status == Restore.Status.PLANNED
    assert restore.plan["properties"] == {
        "amount": {"change": 2, "clear": 0, "invalid": 0},
        "dealstage": {"change": 1, "clear": 1, "invalid": 0},
    }
    assert (restore.plan["records"], restore.plan["changing_records"]) == (4, 2)
    assert (restore.plan["missing"], restore.plan["missing_sample"]) == (1, [delta])
    assert restore.plan["sample"] == [
        {
            "id": alpha,
            "name": "Alpha",
            "changes": {"amount": [1, 1000], "dealstage": ["closedlost", "closedwon"]},
        },
        {
            "id": beta,
            "name": "Beta",
            "changes": {"amount": [2, 2000], "dealstage": ["qualifiedtobuy", None]},
        },
    ]
    assert restore.name == "Data restore - Deal"
    # nothing was written to the records
    assert Record.objects.get(pk=alpha).properties["amount"] == 1


@pytest.mark.parametrize(
    ("object_type", "properties", "field", "message"),
    [
        ("deals", ["amount", "shoe_size"], "properties", "shoe_size"),
        ("deals", [], "properties", "at least one"),
        ("companies", ["name"], "object_type", "holds no companies"),
        ("conversations", ["subject"], "object_type", "cannot be restored"),
        ("unicorns", ["name"], "object_type", "Unknown object type"),
    ],
)
def test_bad_requests_are_refused_and_plan_nothing(
    bad_import, staff_user, object_type, properties, field, message
):
    with pytest.raises(BackupError) as excinfo:
        restore_plan.plan_restore(
            backup=bad_import["backup"],
            object_type_name=object_type,
            properties=properties,
            actor=staff_user,
            source=sources.USER,
        )

    assert excinfo.value.field == field
    assert message in excinfo.value.message
    assert not Restore.objects.exists()


def test_an_expired_backup_cannot_be_restored_from(bad_import, staff_user):
    Backup.objects.filter(pk=bad_import["backup"].pk).update(status=Backup.Status.EXPIRED)
    bad_import["backup"].refresh_from_db()

    with pytest.raises(BackupError, match="expired"):
        plan(bad_import, staff_user)


def confirm(restore, user, **kwargs):
    args = {"confirm_irreversible": True, "otp": None, "sso": False, "source": sources.USER}
    return restore_apply.confirm_restore(restore=restore, user=user, **{**args, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"confirm_irreversible": False, "otp": "GOOD"}, BackupError, "confirm_irreversible"),
        ({"otp": ""}, BackupError, "otp"),
        ({"otp": "000000"}, VerificationFailed, "otp"),
        ({"otp": "abc"}, VerificationFailed, "otp"),
    ],
)
def test_confirmation_without_tick_or_right_code_changes_nothing(
    bad_import, staff_user, kwargs, error, field
):
    device = add_authenticator(staff_user)
    restore = plan(bad_import, staff_user)
    if kwargs.get("otp") == "GOOD":
        kwargs["otp"] = current_code(device)
    elif kwargs.get("otp") == "000000" and current_code(device) == "000000":
        kwargs["otp"] = "111111"

    with pytest.raises(error) as excinfo:
        confirm(restore, staff_user, **kwargs)

    assert excinfo.value.field == field
    restore.refresh_from_db()
    assert restore.status == Restore.Status.PLANNED
    assert Record.objects.get(pk=bad_import["ids"][0]).properties["amount"] == 1


def test_a_user_without_an_authenticator_is_told_to_set_one_up(bad_import, staff_user):
    restore = plan(bad_import, staff_user)

    with pytest.raises(BackupError, match="set one up first"):
        confirm(restore, staff_user, otp="123456")


def test_restore_writes_back_and_clears_values_audited_and_notified(bad_import, staff_user):
    alpha, beta, gamma, _ = bad_import["ids"]
    device = add_authenticator(staff_user)
    restore = plan(bad_import, staff_user)

    # when confirmed with a current code (the task runs on commit)
    restore = confirm(restore, staff_user, otp=current_code(device))
    assert (restore.status, restore.verified_by) == (Restore.Status.PENDING, "totp")
    restore_apply.apply_restore(restore_id=restore.pk)

    # then the backup's values are back, empty ones clear today's value
    restore.refresh_from_db()
    assert restore.status == Restore.Status.DONE
    values = {pk: Record.objects.get(pk=pk).properties for pk in (alpha, beta, gamma)}
    assert (values[alpha]["amount"], values[alpha]["dealstage"]) == (1000, "closedwon")
    assert values[beta]["amount"] == 2000 and "dealstage" not in values[beta]
    assert values[gamma]["amount"] == 3000
    assert Record.objects.get(pk=bad_import["epsilon"]).properties["amount"] == 5
    assert (
        restore.updated_count,
        restore.unchanged_count,
        restore.missing_count,
        restore.failed_count,
    ) == (2, 1, 1, 0)
    # and each record change is audited with the restore as source, plus the restore itself
    source = f"restore:{restore.pk}"
    assert set(
        AuditEvent.objects.filter(source=source, verb="update").values_list("target_id", flat=True)
    ) == {alpha, beta}
    done = AuditEvent.objects.get(verb="restore_completed")
    assert (done.source, done.actor, done.detail["counts"]["updated"]) == (source, staff_user, 2)
    assert Record.objects.get(pk=alpha).property_changes["amount"]["source"] == source
    note = Notification.objects.get(user=staff_user, kind="restore_done")
    assert note.title == "Data restore - Deal is done: 2 records updated"
    # and the replaced values are kept for a rollback
    assert {s.record_id: s.values for s in RestoreSavedValue.objects.all()} == {
        alpha: {"amount": 1, "dealstage": "closedlost"},
        beta: {"amount": 2, "dealstage": "qualifiedtobuy"},
    }
    # a second delivery of the task does nothing
    assert restore_apply.apply_restore(restore_id=restore.pk) is None


def test_sso_sign_in_needs_no_code(bad_import, staff_user):
    restore = plan(bad_import, staff_user)

    restore = confirm(restore, staff_user, sso=True)

    assert (restore.status, restore.verified_by) == (Restore.Status.PENDING, "sso")


def test_one_restore_at_a_time(bad_import, staff_user):
    first = confirm(plan(bad_import, staff_user), staff_user, sso=True)
    second = plan(bad_import, staff_user, properties=["dealname"])

    with pytest.raises(RestoreInProgress) as excinfo:
        confirm(second, staff_user, sso=True)

    assert excinfo.value.active == first
    assert f"#{first.pk}" in excinfo.value.message
    second.refresh_from_db()
    assert second.status == Restore.Status.PLANNED
    # once the first is done, the second may run
    restore_apply.apply_restore(restore_id=first.pk)
    assert confirm(second, staff_user, sso=True).status == Restore.Status.PENDING


def test_a_restore_can_be_rolled_back(bad_import, staff_user, deals):
    alpha, beta, _, _ = bad_import["ids"]
    restore = confirm(plan(bad_import, staff_user), staff_user, sso=True)
    restore_apply.apply_restore(restore_id=restore.pk)
    restore.refresh_from_db()

    rollback = restore_plan.plan_rollback(restore=restore, actor=staff_user, source=sources.USER)
    assert rollback.name == "Data restore rollback - Deal"
    assert rollback.plan["properties"] == {
        "amount": {"change": 2, "clear": 0, "invalid": 0},
        "dealstage": {"change": 2, "clear": 0, "invalid": 0},
    }
    confirm(rollback, staff_user, sso=True)
    restore_apply.apply_restore(restore_id=rollback.pk)

    assert Record.objects.get(pk=alpha).properties["amount"] == 1
    assert Record.objects.get(pk=beta).properties["dealstage"] == "qualifiedtobuy"
    with pytest.raises(BackupError, match="already rolled back"):
        restore_plan.plan_rollback(restore=restore, actor=staff_user, source=sources.USER)


def test_values_no_longer_valid_are_reported_not_written(bad_import, staff_user, deals):
    from crm.models import PropertyOption

    alpha = bad_import["ids"][0]
    PropertyOption.objects.filter(property__object_type=deals, value="closedwon").delete()
    restore = plan(bad_import, staff_user, properties=["dealstage"])
    assert restore.plan["properties"]["dealstage"]["invalid"] == 1

    restore_apply.apply_restore(restore_id=confirm(restore, staff_user, sso=True).pk)

    restore.refresh_from_db()
    assert restore.failed_count == 1
    assert restore.errors[0]["id"] == alpha
    assert "dealstage" in restore.errors[0]["errors"]
    assert Record.objects.get(pk=alpha).properties["dealstage"] == "closedlost"


def test_a_dead_run_resumes_after_its_last_batch(bad_import, staff_user):
    alpha, beta, _, _ = bad_import["ids"]
    restore = confirm(plan(bad_import, staff_user), staff_user, sso=True)
    # as if a worker applied the batch up to alpha and died ten minutes ago
    import datetime as dt

    from django.utils import timezone

    Restore.objects.filter(pk=restore.pk).update(
        status=Restore.Status.RUNNING,
        last_record_id=alpha,
        heartbeat_at=timezone.now() - dt.timedelta(minutes=11),
    )

    restore_apply.apply_restore(restore_id=restore.pk)

    restore.refresh_from_db()
    assert restore.status == Restore.Status.DONE
    assert Record.objects.get(pk=alpha).properties["amount"] == 1  # before the resume point
    assert Record.objects.get(pk=beta).properties["amount"] == 2000


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_confirmations_at_once_let_exactly_one_run(backup_storage, monkeypatch):
    import threading

    from django.db import connection

    from tests.factories import UserFactory
    from tests.support.schema import ensure_standard_schema

    # given two planned restores, confirmed by two people at the same moment
    ensure_standard_schema()
    from crm.models import ObjectType

    deals = ObjectType.objects.get(name="deals")
    admins = [UserFactory(is_superuser=True, is_staff=True) for _ in range(2)]
    (alpha,) = create(deals, {"dealname": "Alpha", "amount": 1000})
    backup = make_backup(admins[0])
    update(deals, alpha, {"amount": 1})
    restores = [
        restore_plan.plan_restore(
            backup=backup,
            object_type_name="deals",
            properties=["amount"],
            actor=admin,
            source=sources.USER,
        )
        for admin in admins
    ]
    barrier = threading.Barrier(2)
    outcomes = []
    # Held in the queue (not run at once): the first restore must still be active when the
    # second confirmation reaches the database, however the threads are scheduled.
    enqueued = []
    monkeypatch.setattr(restore_apply, "_enqueue_restore", enqueued.append)

    def confirm_in_thread(restore, admin):
        barrier.wait()
        try:
            confirm(restore, admin, sso=True)
            outcomes.append("confirmed")
        except RestoreInProgress:
            outcomes.append("409")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=confirm_in_thread, args=pair)
        for pair in zip(restores, admins, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then the database let exactly one through
    assert sorted(outcomes) == ["409", "confirmed"]
    statuses = sorted(Restore.objects.values_list("status", flat=True))
    assert statuses == ["pending", "planned"]
    (winner,) = enqueued
    restore_apply.apply_restore(restore_id=winner)
    assert Record.objects.get(pk=alpha).properties["amount"] == 1000
