"""The health cards' counts, kept by the error service as it writes, always equal a recount
(rebuild_error_counts, the oracle) and a plain count of the current errors and their records."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

import pytest
from django.core.management import call_command
from django.utils import timezone

from crm.models import Record
from crm.services.records import create_record, purge_expired_records, update_record
from syncengine.health.selectors import list_cards
from syncengine.health.services import resync_errors, run_resync
from syncengine.models import (
    Integration,
    SyncError,
    SyncErrorAffectedRecord,
    SyncErrorCount,
    SyncErrorRecordCount,
)
from syncengine.services.errors import (
    rebuild_error_counts,
    record_sync_error,
    resolve_errors,
    resolve_record_errors,
    resolve_schema_errors,
)
from tests.factories import IntegrationFactory, ObjectMappingFactory, SyncErrorFactory

pytestmark = pytest.mark.django_db

CURRENT = ("open", "resyncing")


@pytest.fixture
def org(crm_schema, contacts):
    integration = IntegrationFactory(name="Org", instance_url="https://example.my.salesforce.com")
    ObjectMappingFactory(integration=integration, object_type=contacts, remote_object="Contact")
    return integration


@pytest.fixture
def make_records(contacts):
    def make(n: int) -> list[Record]:
        now = timezone.now()
        return [
            Record.objects.create(
                object_type=contacts, properties={}, created_at=now, updated_at=now
            )
            for _ in range(n)
        ]

    return make


def error(integration, record, category="property_values", affected=None, code="BAD", **kw):
    """An error on `record` affecting `affected` (default: the record itself)."""
    return record_sync_error(
        integration=integration,
        category=category,
        code=code,
        message="Salesforce said no",
        record_id=record.pk,
        remote_object="Contact",
        affected_record_ids=[r.pk for r in (affected if affected is not None else [record])],
        **kw,
    )


def schema_error(integration, field, category="permissions"):
    return record_sync_error(
        integration=integration,
        category=category,
        code="FIELD_NOT_ACCESSIBLE",
        message=f"Contact.{field} is hidden",
        direction="schema",
        remote_object="Contact",
        remote_field=field,
    )


def maintained(integration) -> tuple[dict, set]:
    cards = {
        c.category: (c.errors, c.affected_records)
        for c in SyncErrorCount.objects.filter(integration=integration)
        if c.errors or c.affected_records
    }
    refs = set(
        SyncErrorRecordCount.objects.filter(integration=integration).values_list(
            "category", "record_id", "errors"
        )
    )
    return cards, refs


def counted_from_scratch(integration) -> dict:
    """What the cards mean, counted in Python: current errors, distinct affected records."""
    errors = defaultdict(int)
    records = defaultdict(set)
    for category in SyncError.objects.filter(
        integration=integration, status__in=CURRENT
    ).values_list("category", flat=True):
        errors[category] += 1
    for category, record_id in SyncErrorAffectedRecord.objects.filter(
        error__integration=integration, error__status__in=CURRENT
    ).values_list("error__category", "record_id"):
        records[category].add(record_id)
    return {c: (errors[c], len(records[c])) for c in errors}


def assert_exact(integration) -> dict:
    """The kept counts equal a plain count, and the rebuild (the oracle) changes nothing."""
    before = maintained(integration)
    assert before[0] == counted_from_scratch(integration)
    rebuild_error_counts(integration=integration)
    assert maintained(integration) == before
    return {c["type"]: (c["errors"], c["affected_records"]) for c in list_cards(
        integration=integration)}  # fmt: skip


def test_a_new_error_counts_once_and_a_repeat_does_not_count_again(org, make_records):
    [a, b] = make_records(2)
    error(org, a)
    error(org, b, category="picklists")
    assert assert_exact(org)["property_values"] == (1, 1)
    error(org, a)
    cards = assert_exact(org)
    assert cards["property_values"] == (1, 1) and cards["picklists"] == (1, 1)
    assert cards["duplicates"] == (0, 0)


def test_reopened_error_counts_its_records_again(org, make_records):
    [a] = make_records(1)
    e = error(org, a)
    resolve_record_errors(integration=org, record_ids=[a.pk])
    assert assert_exact(org)["property_values"] == (0, 0)
    error(org, a)
    assert assert_exact(org)["property_values"] == (1, 1)
    assert SyncError.objects.get(pk=e.pk).occurrences == 2


def test_new_affected_record_on_an_existing_error(org, make_records):
    [blocking, a, b] = make_records(3)
    error(org, blocking, category="associations", affected=[a])
    error(org, blocking, category="associations", affected=[a, b])
    assert assert_exact(org)["associations"] == (1, 2)
    # Re-opening with a new record counts the old records and the new one
    resolve_record_errors(integration=org, record_ids=[blocking.pk])
    [c] = make_records(1)
    error(org, blocking, category="associations", affected=[c])
    assert assert_exact(org)["associations"] == (1, 3)


def test_records_shared_by_errors_of_one_type_count_once(org, make_records):
    [x, y, a, b, c] = make_records(5)
    error(org, x, category="associations", affected=[a, b])
    error(org, y, category="associations", affected=[b, c])
    error(org, x, category="picklists", affected=[a])
    assert assert_exact(org)["associations"] == (2, 3)
    resolve_record_errors(integration=org, record_ids=[x.pk])
    cards = assert_exact(org)
    assert cards["associations"] == (1, 2) and cards["picklists"] == (0, 0)
    resolve_record_errors(integration=org, record_ids=[y.pk])
    assert assert_exact(org)["associations"] == (0, 0)
    assert not SyncErrorRecordCount.objects.exists()


def test_resolve_by_record_only_in_one_direction(org, make_records):
    [a] = make_records(1)
    error(org, a, direction="push")
    error(org, a, direction="pull")
    assert resolve_record_errors(integration=org, record_ids=[a.pk], direction="pull") == 1
    assert assert_exact(org)["property_values"] == (1, 1)
    assert resolve_record_errors(integration=org, record_ids=[a.pk], direction="pull") == 0


def test_resolve_by_key(org, make_records):
    [a, b] = make_records(2)
    e = error(org, a)
    error(org, b)
    assert resolve_errors(integration=org, keys=[e.key, "no-such-key"]) == 1
    assert assert_exact(org)["property_values"] == (1, 1)


def test_schema_errors_of_fields_that_are_fine_now_resolve(org):
    schema_error(org, "Phone")
    schema_error(org, "Email")
    schema_error(org, "Title", category="property_mappings")
    assert assert_exact(org)["permissions"] == (2, 0)
    assert resolve_schema_errors(integration=org, remote_object="Contact", failing_fields={"Email"})
    cards = assert_exact(org)
    assert cards["permissions"] == (1, 0) and cards["property_mappings"] == (0, 0)
    assert SyncError.objects.get(status="open").remote_field == "Email"


def test_resync_and_its_settling_keep_errors_current(org, make_records, monkeypatch):
    # Given two errors; when one is resynced, it is still current (resyncing)
    [a, b] = make_records(2)
    e = error(org, a, category="associations", affected=[b])
    error(org, b)
    resync_errors(integration=org, error_ids=[e.pk])
    assert SyncError.objects.get(pk=e.pk).status == "resyncing"
    assert assert_exact(org)["associations"] == (1, 1)
    # Then a paused integration sends it back to open: still counted once
    Integration.objects.filter(pk=org.pk).update(status="paused")
    assert run_resync(integration_id=org.pk)
    assert SyncError.objects.get(pk=e.pk).status == "open"
    assert assert_exact(org)["associations"] == (1, 1)


def test_resync_settled_by_a_cycle_keeps_counts(org, make_records, monkeypatch):
    [a] = make_records(1)
    e = error(org, a)
    resync_errors(integration=org, error_ids=[e.pk])

    def fake_run_cycle(*, cycle_id, connector=None):
        from syncengine.models import SyncCycle

        # The cycle pushes nothing but re-records the error (it failed again)
        error(org, a)
        SyncCycle.objects.filter(pk=cycle_id).update(
            status="success", started_at=timezone.now(), ended_at=timezone.now()
        )

    monkeypatch.setattr("syncengine.engine.cycles.run_cycle", fake_run_cycle)
    monkeypatch.setattr("syncengine.tasks.run_cycle_task.delay", lambda **kw: None)
    assert run_resync(integration_id=org.pk)
    assert assert_exact(org)["property_values"] == (1, 1)


def test_purged_records_take_their_errors_off_the_cards(org, make_records):
    # Given errors on records, and errors affecting them, in two integrations
    other = IntegrationFactory(name="Other org")
    [gone, kept, also_gone] = make_records(3)
    error(org, gone, category="associations", affected=[kept, also_gone])
    error(org, kept, category="associations", affected=[gone, kept])
    error(org, kept, category="picklists", affected=[also_gone])
    error(other, kept, affected=[gone])
    error(other, gone)
    resolve_errors(integration=other, keys=[SyncError.objects.get(integration=other,
                                                                  record=gone).key])  # fmt: skip
    # When two of the records are purged from the recycle bin
    Record.objects.filter(pk__in=[gone.pk, also_gone.pk]).update(
        archived_at=timezone.now() - dt.timedelta(days=365)
    )
    assert purge_expired_records() == 2
    # Then their own errors are gone and the others no longer count them
    assert not SyncError.objects.filter(record_id__in=[gone.pk, also_gone.pk]).exists()
    cards = assert_exact(org)
    assert cards["associations"] == (1, 1) and cards["picklists"] == (1, 0)
    assert assert_exact(other)["property_values"] == (1, 0)


def test_rebuild_repairs_counts_written_around_the_service(org, make_records):
    [a, b] = make_records(2)
    error(org, a)
    SyncErrorAffectedRecord.objects.create(error=SyncError.objects.get(), record=b)
    SyncErrorFactory(
        integration=org,
        category="other",
        code="X",
        message="raw",
        key="raw",
        first_seen_at=timezone.now(),
        last_seen_at=timezone.now(),
    )
    call_command("rebuild_sync_error_counts", stdout=open("/dev/null", "w"))  # noqa: SIM115
    cards = assert_exact(org)
    assert cards["property_values"] == (1, 2) and cards["other"] == (1, 0)


def test_counts_follow_the_engine_through_a_cycle(integration, sandbox, run, contacts):
    # Given records the org refuses, one cycle run
    broken = create_record(object_type=contacts, properties={"email": "n@x.com"}, source="user")
    run()
    assert assert_exact(integration)["property_values"] == (1, 1)
    # When it is fixed and syncs, its error leaves the card
    update_record(record=broken, properties={"lastname": "Fixed"}, source="user")
    run()
    assert assert_exact(integration)["property_values"] == (0, 0)


def test_a_random_sequence_of_writes_matches_the_oracle(org, make_records, monkeypatch):
    monkeypatch.setattr("syncengine.tasks.resync_errors_task.delay", lambda **kw: None)
    rng = random.Random(5)
    pool = make_records(12)
    categories = ["associations", "picklists", "property_values"]
    for step in range(250):
        op = rng.choice(
            ["record"] * 5 + ["by_record", "by_key", "schema", "resync", "settle", "purge"]
        )
        if op == "record":
            record = rng.choice(pool)
            affected = rng.sample(pool, rng.randint(0, 3))
            error(org, record, category=rng.choice(categories), affected=affected,
                  code=rng.choice(["A", "B"]))  # fmt: skip
        elif op == "by_record":
            ids = [r.pk for r in rng.sample(pool, 2)]
            resolve_record_errors(integration=org, record_ids=ids)
        elif op == "by_key":
            keys = list(SyncError.objects.filter(integration=org).values_list("key", flat=True))
            resolve_errors(integration=org, keys=rng.sample(keys, min(len(keys), 2)))
        elif op == "schema":
            schema_error(org, rng.choice(["Phone", "Email"]), category=rng.choice(categories))
            resolve_schema_errors(
                integration=org, remote_object="Contact", failing_fields={rng.choice(["Phone"])}
            )
        elif op == "resync":
            ids = list(
                SyncError.objects.filter(integration=org, status="open").values_list(
                    "pk", flat=True
                )[:3]
            )
            if ids:
                Integration.objects.filter(pk=org.pk).update(status="active")
                org.refresh_from_db()
                resync_errors(integration=org, error_ids=ids)
        elif op == "settle":
            Integration.objects.filter(pk=org.pk).update(status="paused")
            run_resync(integration_id=org.pk)
        elif op == "purge":
            victim = rng.choice(pool)
            Record.objects.filter(pk=victim.pk).update(
                archived_at=timezone.now() - dt.timedelta(days=365)
            )
            purge_expired_records()
            pool = [r for r in pool if r.pk != victim.pk] + make_records(1)
        if step % 10 == 0:
            assert_exact(org)
    assert_exact(org)
    assert SyncError.objects.filter(integration=org, status__in=CURRENT).exists()
