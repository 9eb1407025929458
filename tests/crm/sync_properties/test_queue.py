"""Sync properties (SPEC P), the queue: each trigger (a source value, an association, archive
and restore, chains, fan-out) queues a recompute in the writing transaction; the queue task
run twice is a no-op; and a real worker on Redis.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from crm import sources
from crm.models import (
    Association,
    AuditEvent,
    Record,
    SyncPropertyConfig,
    SyncPropertyPending,
)
from crm.services.associations import dissociate
from crm.services.records import (
    archive_records,
    restore_records,
    update_record,
)
from crm.sync_properties import services as sync_services
from crm.tasks import process_sync_property_queue_task
from tests.support.schema import ensure_standard_schema
from tests.support.sync_properties import (
    company,
    contact,
    contacts_at,
    deal,
    link,
    make_sync,
    set_created,
    value,
)
from tests.support.waiting import wait_until

# --- triggers --------------------------------------------------------------------------------


def test_a_changed_source_value_propagates_with_its_source_and_audit(synced, commit):
    ada, acme, prop = synced

    with commit():
        update_record(record=acme, properties={"name": "Acme Corp"}, source=sources.USER)

    assert value(ada) == "Acme Corp"
    assert ada.property_changes["company_name"]["source"] == f"sync_property:{prop.pk}"
    event = AuditEvent.objects.filter(target_id=ada.pk, verb="update").latest("pk")
    assert event.source == f"sync_property:{prop.pk}"
    assert event.detail["changes"] == {"company_name": ["Acme", "Acme Corp"]}


def test_a_cleared_source_value_clears_the_copy(synced, commit):
    ada, acme, _ = synced

    with commit():
        update_record(record=acme, properties={"name": None}, source=sources.USER)

    assert value(ada) is None
    assert "company_name" not in ada.properties


def test_a_source_value_set_later_is_copied(crm_schema, commit):
    with commit():
        ada = contact("ada@example.com")
        blank = company("")
        link(ada, blank)
        make_sync(name="company_domain", source_property="domain")
    assert value(ada, "company_domain") is None

    with commit():
        update_record(record=blank, properties={"domain": "acme.test"}, source=sources.API)

    assert value(ada, "company_domain") == "acme.test"


def test_an_unrelated_source_change_queues_nothing(synced, django_capture_on_commit_callbacks):
    _, acme, _ = synced

    with django_capture_on_commit_callbacks() as callbacks:
        update_record(record=acme, properties={"domain": "acme.test"}, source=sources.USER)

    assert callbacks == [] and not SyncPropertyPending.objects.exists()


def test_a_new_association_fills_the_copy(synced, commit):
    _, acme, _ = synced
    with commit():
        grace = contact("grace@example.com")
    assert value(grace) is None

    with commit():
        link(grace, acme)

    assert value(grace) == "Acme"


def test_a_target_created_and_associated_in_one_transaction_gets_its_value(synced, commit):
    _, acme, _ = synced

    with commit(), transaction.atomic():
        grace = contact("grace@example.com")
        link(grace, acme)

    assert value(grace) == "Acme"


def test_a_removed_association_clears_or_falls_back(synced, commit):
    ada, _, _ = synced
    with commit():
        other = company("Other Co")
        set_created(other, days_ago=30)
        link(ada, other)
    assert value(ada) == "Other Co"  # the oldest of all labels

    with commit():
        dissociate(
            associations=list(Association.objects.filter(from_record=ada, to_record=other)),
            source=sources.API,
        )
    assert value(ada) == "Acme"

    with commit():
        dissociate(
            associations=list(Association.objects.filter(from_record=ada)),
            source=sources.API,
        )
    assert value(ada) is None


def test_a_relabelled_association_is_followed(crm_schema, commit):
    with commit():
        ada = contact("ada@example.com")
        acme = company("Acme")
        link(ada, acme)
        make_sync(labels=["Primary"])
    assert value(ada) is None

    # Relabel: the unlabelled association is replaced by a Primary one.
    with commit(), transaction.atomic():
        dissociate(
            associations=list(Association.objects.filter(from_record=ada)), source=sources.API
        )
        link(ada, acme, "Primary")
    assert value(ada) == "Acme"

    with commit(), transaction.atomic():
        dissociate(
            associations=list(Association.objects.filter(from_record=ada)), source=sources.API
        )
        link(ada, acme)
    assert value(ada) is None


def test_an_archived_source_stops_counting_and_a_restored_one_counts_again(synced, commit):
    ada, acme, _ = synced
    companies = acme.object_type

    with commit():
        archive_records(object_type=companies, record_ids=[acme.pk], source=sources.USER)
    assert value(ada) is None

    with commit():
        restore_records(object_type=companies, record_ids=[acme.pk], source=sources.USER)
    assert value(ada) == "Acme"


def test_a_restored_target_catches_up(synced, commit):
    ada, acme, _ = synced
    contacts = ada.object_type
    with commit():
        archive_records(object_type=contacts, record_ids=[ada.pk], source=sources.USER)
        update_record(record=acme, properties={"name": "Renamed"}, source=sources.USER)
    assert value(ada) == "Acme"  # archived targets are left alone

    with commit():
        restore_records(object_type=contacts, record_ids=[ada.pk], source=sources.USER)

    assert value(ada) == "Renamed"


def test_a_copy_overwritten_by_a_restore_is_corrected(synced, commit):
    ada, _, _ = synced

    with commit():
        update_record(record=ada, properties={"company_name": "Stale"}, source="restore:1")

    assert value(ada) == "Acme"


def test_chained_sync_properties_propagate(synced, commit):
    ada, acme, _ = synced
    with commit():
        a_deal = deal("D", linked_to=ada)
        make_sync(
            target="deals",
            name="contact_company",
            source_type="contacts",
            source_property="company_name",
        )
    assert value(a_deal, "contact_company") == "Acme"

    with commit():
        update_record(record=acme, properties={"name": "Acme 2"}, source=sources.USER)

    assert value(a_deal, "contact_company") == "Acme 2"


def test_fan_out_to_many_targets(crm_schema, commit):
    with commit():
        acme = company("Acme")
        ids = contacts_at([acme], 120)
        make_sync()

    with commit():
        update_record(record=acme, properties={"name": "Acme Corp"}, source=sources.USER)

    values = Record.objects.filter(pk__in=ids).values_list("properties__company_name", flat=True)
    assert set(values) == {"Acme Corp"}


def test_the_queue_task_twice_changes_nothing_the_second_time(synced, eager):
    ada, acme, _ = synced
    # Written without running on-commit callbacks: the work waits in the queue.
    update_record(record=acme, properties={"name": "Queued"}, source=sources.USER)
    assert SyncPropertyPending.objects.count() == 1
    audits = AuditEvent.objects.count()

    assert process_sync_property_queue_task.apply().get() == 1
    assert value(ada) == "Queued"
    after_first = AuditEvent.objects.count()
    assert after_first == audits + 1
    assert process_sync_property_queue_task.apply().get() == 0
    # Even a full recompute of a target that is current writes nothing.
    route = sync_services.engine.load_route(
        ada.object_type.property_definitions.get(name="company_name").sync_config
    )
    assert sync_services.recompute_targets(route=route, target_ids=[ada.pk]) == 0
    assert AuditEvent.objects.count() == after_first


# --- a real worker ---------------------------------------------------------------------------


@pytest.mark.worker
def test_a_real_worker_propagates_changes(celery_worker_process):
    ensure_standard_schema()
    ada = contact("ada@example.com")
    acme = company("Acme")
    link(ada, acme, "Primary")
    prop = make_sync(labels=["Primary"])  # backfilled by the worker
    wait_until(lambda: value(ada) == "Acme", timeout=60)
    wait_until(
        lambda: SyncPropertyConfig.objects.get(property=prop).backfill_status == "done",
        timeout=10,
    )

    update_record(record=acme, properties={"name": "Acme Corp"}, source=sources.USER)

    wait_until(lambda: value(ada) == "Acme Corp", timeout=30)
    assert ada.property_changes["company_name"]["source"] == f"sync_property:{prop.pk}"
    wait_until(lambda: not SyncPropertyPending.objects.exists(), timeout=10)
