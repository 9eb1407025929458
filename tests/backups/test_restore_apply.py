"""A restore is applied set-based through the record write path: the same values, change stamps,
audit events and change-hook announcements as any other write, resumable mid-run."""

import datetime as dt
import gc

import pytest
from django.utils import timezone

from backups.models import Restore, RestoreSavedValue
from backups.services import restore_apply, restore_plan
from crm import hooks, sources
from crm.models import AuditEvent, PropertyOption, Record
from tests.support.backups import create, make_backup, update
from tests.support.collector import collector_states


class WorkerLost(BaseException):
    """Stands for the worker process dying mid-batch (not an error the restore catches)."""


@pytest.fixture
def captured_changes():
    events = []
    listener = hooks.on_records_changed(events.append)
    yield events
    hooks.unsubscribe(listener)


@pytest.fixture
def mangled(deals, staff_user):
    """Five deals backed up, then each changed; the first three also lose their stage."""
    ids = create(
        deals,
        *[
            {"dealname": f"Deal {i}", "amount": 1000 * i, "dealstage": "closedwon"}
            for i in range(1, 6)
        ],
    )
    backup = make_backup(staff_user)
    for i, pk in enumerate(ids, start=1):
        update(deals, pk, {"amount": i, "dealstage": None if i <= 3 else "closedlost"})
    return {"backup": backup, "ids": ids}


def run(mangled, staff_user, properties=("amount", "dealstage")) -> Restore:
    restore = restore_plan.plan_restore(
        backup=mangled["backup"],
        object_type_name="deals",
        properties=list(properties),
        actor=staff_user,
        source=sources.USER,
    )
    restore_apply.confirm_restore(
        restore=restore,
        user=staff_user,
        confirm_irreversible=True,
        otp=None,
        sso=True,
        source=sources.USER,
    )
    # The task runs on commit, which the test's transaction never reaches: run it here.
    restore_apply.apply_restore(restore_id=restore.pk)
    restore.refresh_from_db()
    return restore


def test_values_stamps_audit_and_announcements_are_those_of_a_write(
    mangled, staff_user, captured_changes
):
    ids = mangled["ids"]
    stamps_before = {r.pk: r.property_changes for r in Record.objects.filter(pk__in=ids)}

    restore = run(mangled, staff_user)

    source = f"restore:{restore.pk}"
    assert restore.status == Restore.Status.DONE
    records = {r.pk: r for r in Record.objects.filter(pk__in=ids)}
    for i, pk in enumerate(ids, start=1):
        assert records[pk].properties == {
            "dealname": f"Deal {i}",
            "amount": 1000 * i,
            "dealstage": "closedwon",
        }
        stamps = records[pk].property_changes
        assert {stamps["amount"]["source"], stamps["dealstage"]["source"]} == {source}
        assert stamps["dealname"] == stamps_before[pk]["dealname"]
    audit = {
        e.target_id: (e.detail["changes"], e.actor)
        for e in AuditEvent.objects.filter(verb="update", source=source)
    }
    assert audit == {
        pk: (
            {
                "amount": [i, 1000 * i],
                "dealstage": [None if i <= 3 else "closedlost", "closedwon"],
            },
            staff_user,
        )
        for i, pk in enumerate(ids, start=1)
    }
    announced = [e for e in captured_changes if e.source == source]
    assert [(e.kind, sorted(e.record_ids), e.changed_properties) for e in announced] == [
        ("updated", sorted(ids), frozenset({"amount", "dealstage"}))
    ]
    assert {s.record_id: s.values for s in RestoreSavedValue.objects.all()} == {
        pk: {"amount": i, "dealstage": None if i <= 3 else "closedlost"}
        for i, pk in enumerate(ids, start=1)
    }


def test_a_run_interrupted_mid_batch_resumes_without_repeating_a_write(
    mangled, staff_user, monkeypatch
):
    ids = mangled["ids"]
    monkeypatch.setattr(restore_apply, "APPLY_BATCH_SIZE", 2)
    real_insert = restore_apply.insert_rows
    calls = []

    def dies_in_the_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            # the second batch's records are written; its saved values are not
            raise WorkerLost
        return real_insert(*args, **kwargs)

    monkeypatch.setattr(restore_apply, "insert_rows", dies_in_the_second_batch)
    with pytest.raises(WorkerLost):
        run(mangled, staff_user)

    # then the first batch is kept, the interrupted one is rolled back whole
    restore = Restore.objects.get()
    assert (restore.status, restore.last_record_id, restore.updated_count) == (
        Restore.Status.RUNNING,
        ids[1],
        2,
    )
    amounts = dict(Record.objects.filter(pk__in=ids).values_list("pk", "properties__amount"))
    assert [amounts[pk] for pk in ids] == [1000, 2000, 3, 4, 5]
    assert AuditEvent.objects.filter(verb="update", source=f"restore:{restore.pk}").count() == 2

    # when the worker is seen dead and the task runs again
    monkeypatch.setattr(restore_apply, "insert_rows", real_insert)
    Restore.objects.filter(pk=restore.pk).update(
        heartbeat_at=timezone.now() - dt.timedelta(minutes=11)
    )
    restore_apply.apply_restore(restore_id=restore.pk)

    # then it finishes where it stopped, each record written and audited once
    restore.refresh_from_db()
    assert (restore.status, restore.updated_count, restore.unchanged_count) == (
        Restore.Status.DONE,
        5,
        0,
    )
    amounts = dict(Record.objects.filter(pk__in=ids).values_list("pk", "properties__amount"))
    assert [amounts[pk] for pk in ids] == [1000, 2000, 3000, 4000, 5000]
    audited = AuditEvent.objects.filter(verb="update", source=f"restore:{restore.pk}")
    assert sorted(audited.values_list("target_id", flat=True)) == sorted(ids)
    assert sorted(RestoreSavedValue.objects.values_list("record_id", flat=True)) == sorted(ids)


def test_in_one_batch_records_with_a_value_no_longer_valid_are_refused_and_the_others_written(
    deals, staff_user
):
    # Given deals backed up with alternating stages, then all changed, and one of the backed-up
    # stages no longer an option
    stages = ["closedwon", "appointmentscheduled"] * 2
    ids = create(
        deals,
        *[
            {"dealname": f"Deal {i}", "amount": 100 * i, "dealstage": stage}
            for i, stage in enumerate(stages, start=1)
        ],
    )
    backup = make_backup(staff_user)
    for pk in ids:
        update(deals, pk, {"amount": 7, "dealstage": "closedlost"})
    PropertyOption.objects.filter(property__object_type=deals, value="closedwon").delete()

    # When the amounts and stages are restored
    restore = run({"backup": backup, "ids": ids}, staff_user)

    # Then the records whose backed-up values are all valid today get them back, and the others
    # are refused whole, in id order, naming the invalid value
    assert (restore.updated_count, restore.failed_count) == (2, 2)
    assert [e["id"] for e in restore.errors] == [ids[0], ids[2]]
    assert all(list(e["errors"]) == ["dealstage"] for e in restore.errors)
    now = {r.pk: r.properties for r in Record.objects.filter(pk__in=ids)}
    assert [(now[pk]["amount"], now[pk]["dealstage"]) for pk in ids] == [
        (7, "closedlost"),
        (200, "appointmentscheduled"),
        (7, "closedlost"),
        (400, "appointmentscheduled"),
    ]
    assert sorted(RestoreSavedValue.objects.values_list("record_id", flat=True)) == [
        ids[1],
        ids[3],
    ]


def test_a_value_no_longer_valid_is_refused_clearly_and_its_record_left_alone(
    mangled, staff_user, deals, captured_changes
):
    ids = mangled["ids"]
    # "closedwon" is no longer an option: every backed-up stage is invalid today
    PropertyOption.objects.filter(property__object_type=deals, value="closedwon").delete()
    before = {r.pk: (r.properties, r.property_changes) for r in Record.objects.filter(pk__in=ids)}

    restore = run(mangled, staff_user, properties=["dealstage"])

    assert (restore.status, restore.updated_count, restore.failed_count) == (
        Restore.Status.DONE,
        0,
        5,
    )
    assert [e["id"] for e in restore.errors] == ids
    assert all("dealstage" in e["errors"] for e in restore.errors)
    assert "closedwon" in restore.errors[0]["errors"]["dealstage"][0]
    after = {r.pk: (r.properties, r.property_changes) for r in Record.objects.filter(pk__in=ids)}
    assert after == before
    source = f"restore:{restore.pk}"
    assert not AuditEvent.objects.filter(verb="update", source=source).exists()
    assert not [e for e in captured_changes if e.source == source]
    assert not RestoreSavedValue.objects.exists()


def test_a_batch_is_read_compared_and_written_with_the_garbage_collector_paused(
    mangled, staff_user, monkeypatch
):
    collecting = collector_states(monkeypatch, restore_apply, "diff_records")
    restore = run(mangled, staff_user)
    assert restore.status == Restore.Status.DONE and restore.updated_count == 5
    assert collecting == [False] and gc.isenabled()
