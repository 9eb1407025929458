"""Sync properties (SPEC P), the services: configuration and its refusals, backfill (batched,
resumed after a lost worker, never claimed twice), a changed configuration, "Used in" and
delete.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from crm import sources
from crm.errors import PropertyInUseError, SchemaError
from crm.models import AuditEvent, ObjectType, Property, Record, SyncPropertyConfig
from crm.services.schema import delete_property, update_property
from crm.sync_properties import services as sync_services
from crm.tasks import backfill_sync_property_task
from crm.usage import list_property_usages
from tests.support.sync_properties import (
    company,
    contact,
    contacts_at,
    definition,
    link,
    make_sync,
    value,
)

# --- configuration and refusals --------------------------------------------------------------


def test_a_sync_property_is_created_read_only_with_its_configuration(crm_schema, commit):
    with commit():
        prop = make_sync(labels=["Primary"], criterion="last_created")

    config = SyncPropertyConfig.objects.get(property=prop)
    assert prop.type == "property_sync" and prop.read_only and not prop.unique
    assert config.source_property.name == "name"
    assert config.source_object_type.name == "companies"
    assert not config.all_labels
    assert list(config.definitions.all()) == [definition("contacts", "companies", "Primary")]
    assert config.criterion == "last_created"
    assert config.backfill_status == "done"


def test_a_restricted_source_property_is_refused(crm_schema):
    companies = ObjectType.objects.get(name="companies")
    Property.objects.filter(object_type=companies, name="annualrevenue").update(restricted=True)

    with pytest.raises(SchemaError) as refused:
        make_sync(name="company_revenue", source_property="annualrevenue")

    assert refused.value.field == "sync.source_property"
    assert "restricted" in refused.value.message
    assert not Property.objects.filter(name="company_revenue").exists()


def test_a_source_type_without_association_is_refused(crm_schema):
    with pytest.raises(SchemaError) as refused:
        make_sync(target="products", name="company_name", source_type="companies")

    assert refused.value.field == "sync.source_object_type"
    assert "no association" in refused.value.message


def test_an_unknown_label_or_source_property_is_refused(crm_schema):
    with pytest.raises(SchemaError) as unknown_label:
        make_sync(labels=["Billing"])
    with pytest.raises(SchemaError) as unknown_property:
        make_sync(source_property="nope")

    assert unknown_label.value.field == "sync.association_labels"
    assert "'Primary'" in unknown_label.value.message  # it lists the labels there are
    assert unknown_property.value.field == "sync.source_property"


def test_a_loop_of_sync_properties_is_refused(crm_schema, commit):
    with commit():
        on_contacts = make_sync(name="company_name")  # contacts ← companies.name
        on_companies = make_sync(  # companies ← contacts.company_name
            target="companies",
            name="contact_company_name",
            source_type="contacts",
            source_property="company_name",
        )

    # contacts.company_name ← companies.contact_company_name ← contacts.company_name: a loop.
    with pytest.raises(SchemaError) as refused:
        update_property(
            prop=on_contacts,
            changes={},
            sync={
                "source_object_type": "companies",
                "source_property": on_companies.name,
            },
            source=sources.USER,
        )

    assert refused.value.field == "sync.source_property"
    assert "loop" in refused.value.message
    on_contacts.sync_config.refresh_from_db()
    assert on_contacts.sync_config.source_property.name == "name"


def test_a_sync_property_cannot_be_made_writable(crm_schema, commit):
    with commit():
        prop = make_sync()

    with pytest.raises(SchemaError) as refused:
        update_property(prop=prop, changes={"read_only": False}, source=sources.USER)

    assert refused.value.field == "read_only"


def test_a_source_property_cannot_become_restricted(crm_schema, commit):
    with commit():
        make_sync()
    name = Property.objects.get(object_type__name="companies", name="name")

    with pytest.raises(SchemaError) as refused:
        update_property(prop=name, changes={"restricted": True}, source=sources.USER)

    assert refused.value.field == "restricted" and "contacts.company_name" in refused.value.message


def test_a_sensitive_source_makes_a_sensitive_copy(crm_schema, commit):
    companies = ObjectType.objects.get(name="companies")
    Property.objects.filter(object_type=companies, name="phone").update(sensitive=True)
    with commit():
        prop = make_sync(name="company_phone", source_property="phone")

    assert prop.sensitive


# --- backfill --------------------------------------------------------------------------------


def test_backfill_fills_every_existing_target_in_batches(crm_schema, eager):
    contacts = ObjectType.objects.get(name="contacts")
    acme, globex = company("Acme"), company("Globex")
    ids = contacts_at([globex, acme], 25)  # the odd ones at Acme, the even ones at Globex
    prop = make_sync()  # its backfill is queued on commit, which has not happened yet
    config = prop.sync_config
    assert (config.backfill_status, config.backfill_total, config.backfill_done) == (
        "pending",
        Record.objects.filter(object_type=contacts, archived_at__isnull=True).count(),
        0,
    )

    assert sync_services.run_backfill(config_id=config.pk, batch_size=10) == 25

    config.refresh_from_db()
    assert config.backfill_status == "done"
    assert config.backfill_done == config.backfill_total == 25
    assert config.backfill_finished_at is not None
    values = dict(Record.objects.filter(pk__in=ids).values_list("pk", "properties__company_name"))
    assert values == {pk: "Acme" if i % 2 else "Globex" for i, pk in enumerate(ids)}
    # A second delivery of the task finds the backfill done and does nothing.
    assert backfill_sync_property_task.apply(kwargs={"config_id": config.pk}).get() == 0


def test_a_backfill_interrupted_by_a_lost_worker_resumes(crm_schema, eager):
    acme = company("Acme")
    people = [contact(f"c{i}@example.com") for i in range(3)]
    for person in people:
        link(person, acme)
    config = make_sync().sync_config
    # A worker claimed it, did the first record and died five minutes ago.
    SyncPropertyConfig.objects.filter(pk=config.pk).update(
        backfill_status="running",
        backfill_cursor=people[0].pk,
        backfill_done=1,
        backfill_updated_at=timezone.now() - dt.timedelta(minutes=6),
    )

    assert sync_services.run_backfill(config_id=config.pk) == 2

    config.refresh_from_db()
    assert config.backfill_status == "done" and config.backfill_done == 3
    assert value(people[0]) is None  # skipped: the lost worker's batch counts as done
    assert [value(p) for p in people[1:]] == ["Acme", "Acme"]


def test_a_running_backfill_is_not_claimed_twice(crm_schema, eager):
    config = make_sync().sync_config
    SyncPropertyConfig.objects.filter(pk=config.pk).update(
        backfill_status="running", backfill_updated_at=timezone.now()
    )

    assert sync_services.run_backfill(config_id=config.pk) == 0
    config.refresh_from_db()
    assert config.backfill_status == "running"


def test_changing_the_configuration_recomputes_every_target(synced, commit):
    ada, _, prop = synced
    with commit():
        domain_only = company("Domain Co", domain="domain.test")
        link(ada, domain_only)

    with commit():
        update_property(
            prop=prop,
            changes={},
            sync={
                "source_object_type": "companies",
                "source_property": "domain",
                "association_labels": "all",
                "criterion": "last_created",
            },
            source=sources.USER,
        )

    assert value(ada) == "domain.test"
    assert AuditEvent.objects.filter(verb="update_sync_property", target_id=prop.pk).exists()


# --- "Used in" and delete --------------------------------------------------------------------


def test_used_in_lists_the_sync_properties_reading_a_property(synced):
    name = Property.objects.get(object_type__name="companies", name="name")

    usages = list_property_usages(name)

    assert [(u.kind, u.label) for u in usages] == [
        ("sync_property", "Sync property contacts.company_name (Company name (sync))")
    ]
    assert usages[0].url.endswith(f"/crm/property/{synced[2].pk}/change/")


def test_deleting_a_used_property_is_refused_with_the_list(synced):
    name = Property.objects.get(object_type__name="companies", name="name")
    Property.objects.filter(pk=name.pk).update(is_builtin=False)
    name.refresh_from_db()

    with pytest.raises(PropertyInUseError) as refused:
        delete_property(prop=name, source=sources.USER)

    assert "contacts.company_name" in refused.value.message
    assert Property.objects.filter(pk=name.pk).exists()


def test_deleting_the_sync_property_frees_its_source(synced):
    _, _, prop = synced
    domain = Property.objects.get(object_type__name="companies", name="name")

    delete_property(prop=prop, source=sources.USER)

    assert list_property_usages(domain) == []
    assert not SyncPropertyConfig.objects.exists()
