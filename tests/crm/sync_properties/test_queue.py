"""Sync properties (SPEC P): configuration and refusals, each criterion and label choice, each
trigger, read-only enforcement, backfill, "Used in", and a real worker on Redis.

Tasks run inline (task_always_eager) once the writing transaction's on-commit callbacks run,
which `commit()` makes happen inside the test's transaction.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from crm import sources
from crm.errors import PropertyInUseError, SchemaError
from crm.models import (
    Association,
    AssociationDefinition,
    AuditEvent,
    ObjectType,
    Property,
    Record,
    SyncPropertyConfig,
    SyncPropertyPending,
)
from crm.services.associations import associate_records, dissociate
from crm.services.records import (
    RecordInput,
    archive_records,
    create_record,
    restore_records,
    update_record,
    write_records,
)
from crm.services.schema import create_property, delete_property, update_property
from crm.sync_properties import services as sync_services
from crm.tasks import backfill_sync_property_task, process_sync_property_queue_task
from crm.usage import list_property_usages
from tests.support.schema import ensure_standard_schema
from tests.support.waiting import wait_until


@pytest.fixture
def eager(settings):
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def commit(django_capture_on_commit_callbacks, eager):
    """Run the block, then its on-commit callbacks (and theirs): what a real commit does."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def definition(from_type: str, to_type: str, label: str = "") -> AssociationDefinition:
    return AssociationDefinition.objects.get(
        from_object_type__name=from_type, to_object_type__name=to_type, label=label
    )


def company(name: str, **extra) -> Record:
    companies = ObjectType.objects.get(name="companies")
    return create_record(
        object_type=companies, properties={"name": name, **extra}, source=sources.API
    )


def contact(email: str) -> Record:
    contacts = ObjectType.objects.get(name="contacts")
    return create_record(object_type=contacts, properties={"email": email}, source=sources.API)


def link(contact_record: Record, company_record: Record, label: str = "") -> None:
    associate_records(
        definition=definition("contacts", "companies", label),
        pairs=[(contact_record.pk, company_record.pk)],
        source=sources.API,
    )


def value(record: Record, name: str = "company_name"):
    record.refresh_from_db()
    return record.properties.get(name)


def make_sync(
    target: str = "contacts",
    name: str = "company_name",
    *,
    source_type: str = "companies",
    source_property: str = "name",
    labels="all",
    criterion: str = "first_created",
) -> Property:
    return create_property(
        object_type=ObjectType.objects.get(name=target),
        name=name,
        label=name.replace("_", " ").capitalize() + " (sync)",
        type=Property.Type.PROPERTY_SYNC,
        sync={
            "source_object_type": source_type,
            "source_property": source_property,
            "association_labels": labels,
            "criterion": criterion,
        },
        source=sources.USER,
    )


def set_created(record: Record, days_ago: int) -> None:
    Record.objects.filter(pk=record.pk).update(
        created_at=timezone.now() - dt.timedelta(days=days_ago)
    )


# --- configuration and refusals ---------------------------------------------------------------


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


# --- criteria and labels ------------------------------------------------------------------------


def test_first_created_copies_from_the_oldest_associated_record(crm_schema, commit):
    with commit():
        ada = contact("ada@example.com")
        old, new = company("Old Co"), company("New Co")
        set_created(old, days_ago=10)
        set_created(new, days_ago=1)
        link(ada, new)
        link(ada, old)
        make_sync(criterion="first_created")

    assert value(ada) == "Old Co"


def test_last_created_copies_from_the_newest_associated_record(crm_schema, commit):
    with commit():
        ada = contact("ada@example.com")
        old, new = company("Old Co"), company("New Co")
        set_created(old, days_ago=10)
        set_created(new, days_ago=1)
        link(ada, old)
        link(ada, new)
        make_sync(criterion="last_created")

    assert value(ada) == "New Co"


def test_records_created_together_are_ordered_by_id(crm_schema, commit):
    companies = ObjectType.objects.get(name="companies")
    with commit():
        ada = contact("ada@example.com")
        # One statement: both companies have the same created_at.
        first, second = write_records(
            object_type=companies,
            inputs=[RecordInput(properties={"name": "A"}), RecordInput(properties={"name": "B"})],
            mode="create",
            source=sources.API,
        ).ids
        associate_records(
            definition=definition("contacts", "companies"),
            pairs=[(ada.pk, second), (ada.pk, first)],
            source=sources.API,
        )
        make_sync(name="first_name_copy", criterion="first_created")
        make_sync(name="last_name_copy", criterion="last_created")

    assert value(ada, "first_name_copy") == "A"
    assert value(ada, "last_name_copy") == "B"


def test_a_chosen_label_ignores_records_associated_with_other_labels(crm_schema, commit):
    with commit():
        ada = contact("ada@example.com")
        other, primary = company("Other Co"), company("Primary Co")
        set_created(other, days_ago=10)  # older, so "first created" would pick it among all
        link(ada, other)
        link(ada, primary, "Primary")
        make_sync(name="primary_company", labels=["Primary"])
        make_sync(name="any_company", labels="all")

    assert value(ada, "primary_company") == "Primary Co"
    assert value(ada, "any_company") == "Other Co"


def test_labels_can_be_chosen_by_definition(crm_schema, commit):
    with commit():
        ada = contact("ada@example.com")
        link(ada, company("Unlabelled Co"))
        prop = create_property(
            object_type=ObjectType.objects.get(name="contacts"),
            name="company_name",
            label="Company (sync)",
            type=Property.Type.PROPERTY_SYNC,
            sync={
                "source_object_type": "companies",
                "source_property": "name",
                "definitions": [definition("contacts", "companies", "Primary").pk],
            },
            source=sources.USER,
        )

    assert not prop.sync_config.all_labels
    assert value(ada) is None


def test_it_works_in_the_other_direction_of_a_definition(crm_schema, commit):
    """companies ← deals.dealname: the definition runs deals → companies."""
    deals = ObjectType.objects.get(name="deals")
    with commit():
        acme = company("Acme")
        deal = create_record(
            object_type=deals, properties={"dealname": "Big deal"}, source=sources.API
        )
        associate_records(
            definition=definition("deals", "companies"), pairs=[(deal.pk, acme.pk)], source="api"
        )
        make_sync(
            target="companies",
            name="latest_deal",
            source_type="deals",
            source_property="dealname",
            criterion="last_created",
        )

    assert value(acme, "latest_deal") == "Big deal"


def test_non_text_values_are_copied_as_stored(crm_schema, commit):
    with commit():
        ada = contact("ada@example.com")
        link(ada, company("Acme", annualrevenue="1500000.5", numberofemployees=12))
        make_sync(name="company_revenue", source_property="annualrevenue")
        make_sync(name="company_size", source_property="numberofemployees")

    assert value(ada, "company_revenue") == 1500000.5
    assert value(ada, "company_size") == 12


# --- triggers -----------------------------------------------------------------------------------


@pytest.fixture
def synced(crm_schema, commit):
    """Ada works at Acme (Primary); contacts.company_name copies companies.name."""
    with commit():
        ada = contact("ada@example.com")
        acme = company("Acme")
        link(ada, acme, "Primary")
        prop = make_sync()
    assert value(ada) == "Acme"
    return ada, acme, prop


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
    deals = ObjectType.objects.get(name="deals")
    with commit():
        deal = create_record(object_type=deals, properties={"dealname": "D"}, source="api")
        associate_records(
            definition=definition("deals", "contacts"), pairs=[(deal.pk, ada.pk)], source="api"
        )
        make_sync(
            target="deals",
            name="contact_company",
            source_type="contacts",
            source_property="company_name",
        )
    assert value(deal, "contact_company") == "Acme"

    with commit():
        update_record(record=acme, properties={"name": "Acme 2"}, source=sources.USER)

    assert value(deal, "contact_company") == "Acme 2"


def test_fan_out_to_many_targets(crm_schema, commit):
    contacts = ObjectType.objects.get(name="contacts")
    with commit():
        acme = company("Acme")
        ids = write_records(
            object_type=contacts,
            inputs=[RecordInput(properties={"email": f"c{i}@example.com"}) for i in range(120)],
            mode="create",
            source=sources.API,
        ).ids
        associate_records(
            definition=definition("contacts", "companies"),
            pairs=[(pk, acme.pk) for pk in ids],
            source=sources.API,
        )
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


# --- backfill -----------------------------------------------------------------------------------


def test_backfill_fills_every_existing_target_in_batches(crm_schema, eager):
    contacts = ObjectType.objects.get(name="contacts")
    acme, globex = company("Acme"), company("Globex")
    ids = write_records(
        object_type=contacts,
        inputs=[RecordInput(properties={"email": f"c{i}@example.com"}) for i in range(25)],
        mode="create",
        source=sources.API,
    ).ids
    associate_records(
        definition=definition("contacts", "companies"),
        pairs=[(pk, (acme if i % 2 else globex).pk) for i, pk in enumerate(ids)],
        source=sources.API,
    )
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


# --- read-only ----------------------------------------------------------------------------------


def test_the_api_refuses_writes_naming_the_property(synced, api_client):
    ada, _, _ = synced

    response = api_client.patch(
        f"/api/v1/objects/contacts/records/{ada.pk}/",
        {"properties": {"company_name": "Mine"}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"]["properties"] == {"company_name": ["is read-only"]}
    assert value(ada) == "Acme"


def test_the_admin_record_form_shows_it_disabled(synced, client, staff_user):
    ada, _, _ = synced
    client.force_login(staff_user)

    page = client.get(reverse("admin:crm_record_change", args=[ada.pk]))
    field = page.context["adminform"].form.fields["company_name"]
    assert field.disabled
    assert page.context["adminform"].form.initial["company_name"] == "Acme"

    # A forged POST cannot change it: disabled fields keep their initial value.
    form_data = {"email": "ada@example.com", "company_name": "Forged", "_save": "Save"}
    client.post(reverse("admin:crm_record_change", args=[ada.pk]), form_data)
    assert value(ada) == "Acme"


# --- "Used in" and delete ------------------------------------------------------------------------


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


# --- a real worker ------------------------------------------------------------------------------


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


# --- API ----------------------------------------------------------------------------------------


def test_staff_create_a_sync_property_through_the_api(crm_schema, staff_api_client, commit):
    with commit():
        ada = contact("ada@example.com")
        link(ada, company("Acme"), "Primary")

    with commit():
        response = staff_api_client.post(
            "/api/v1/object-types/contacts/properties/",
            {
                "name": "company_name",
                "label": "Company name (sync)",
                "type": "property_sync",
                "sync": {
                    "source_object_type": "companies",
                    "source_property": "name",
                    "association_labels": ["Primary"],
                    "criterion": "last_created",
                },
            },
            format="json",
        )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["read_only"] is True
    assert body["sync"]["source_object_type"] == "companies"
    assert body["sync"]["association_labels"] == ["Primary"]
    assert body["sync"]["criterion"] == "last_created"
    assert body["sync"]["backfill"]["status"] == "pending"  # the worker runs after the response
    assert value(ada) == "Acme"
    shown = staff_api_client.get("/api/v1/object-types/contacts/properties/company_name/").json()
    assert shown["sync"]["backfill"] | {"started_at": None, "finished_at": None} == {
        "status": "done",
        "total": 1,
        "done": 1,
        "started_at": None,
        "finished_at": None,
        "error": "",
    }
    assert (
        staff_api_client.get("/api/v1/object-types/contacts/properties/email/").json()["sync"]
        is None
    )


def test_the_api_refuses_a_bad_sync_configuration_naming_the_field(crm_schema, staff_api_client):
    companies = ObjectType.objects.get(name="companies")
    Property.objects.filter(object_type=companies, name="domain").update(restricted=True)

    response = staff_api_client.post(
        "/api/v1/object-types/contacts/properties/",
        {
            "name": "company_domain",
            "label": "Company domain (sync)",
            "type": "property_sync",
            "sync": {"source_object_type": "companies", "source_property": "domain"},
        },
        format="json",
    )
    missing = staff_api_client.post(
        "/api/v1/object-types/contacts/properties/",
        {"name": "company_x", "label": "X", "type": "property_sync"},
        format="json",
    )

    assert response.status_code == 400
    assert "restricted" in response.json()["errors"]["sync.source_property"][0]
    assert missing.status_code == 400 and "sync" in missing.json()["errors"]
    assert not Property.objects.filter(name__in=["company_domain", "company_x"]).exists()


def test_the_api_changes_the_configuration_and_recomputes(synced, staff_api_client, commit):
    ada, acme, _ = synced
    with commit():
        update_record(record=acme, properties={"domain": "acme.test"}, source=sources.API)

    with commit():
        response = staff_api_client.patch(
            "/api/v1/object-types/contacts/properties/company_name/",
            {"sync": {"source_object_type": "companies", "source_property": "domain"}},
            format="json",
        )

    assert response.status_code == 200, response.json()
    assert response.json()["sync"]["source_property"] == "domain"
    assert value(ada) == "acme.test"


def test_the_usage_endpoint_lists_where_a_property_is_used(synced, staff_api_client):
    # Usage names integrations and admin pages: staff only (the permission matrix pins who).
    api_client = staff_api_client
    response = api_client.get("/api/v1/object-types/companies/properties/name/usage/")

    assert response.status_code == 200
    assert response.json()["property"] == "companies.name"
    [usage] = response.json()["used_in"]
    assert usage["kind"] == "sync_property"
    assert usage["label"] == "Sync property contacts.company_name (Company name (sync))"
    unused = api_client.get("/api/v1/object-types/companies/properties/domain/usage/").json()
    assert unused["used_in"] == []


def test_the_api_refuses_to_delete_a_used_property_with_the_list(
    crm_schema, staff_api_client, commit
):
    companies = ObjectType.objects.get(name="companies")
    with commit():
        create_property(object_type=companies, name="tier", label="Tier", source=sources.API)
        make_sync(name="company_tier", source_property="tier")

    response = staff_api_client.delete("/api/v1/object-types/companies/properties/tier/")

    assert response.status_code == 400
    assert "is used" in response.json()["detail"]
    assert [u["label"] for u in response.json()["used_in"]] == [
        "Sync property contacts.company_tier (Company tier (sync))"
    ]
    assert Property.objects.filter(object_type=companies, name="tier").exists()


def test_the_property_list_does_not_query_per_sync_property(
    crm_schema, api_client, commit, django_assert_max_num_queries
):
    with commit():
        for name in ("a_copy", "b_copy", "c_copy"):
            make_sync(name=name, labels=["Primary"])

    with django_assert_max_num_queries(6):
        response = api_client.get("/api/v1/object-types/contacts/properties/")

    assert response.status_code == 200
    assert sum(1 for p in response.json() if p["sync"]) == 3


# --- admin --------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def admin_add_form(contacts: ObjectType, **sync) -> dict:
    return {
        "object_type": contacts.pk,
        "name": "company_name",
        "label": "Company name (sync)",
        "type": "property_sync",
        "group": "information",
        "display_order": 0,
        "options-TOTAL_FORMS": 0,
        "options-INITIAL_FORMS": 0,
        **sync,
    }


def test_staff_create_a_sync_property_in_the_admin(staff_client, contacts, commit):
    companies = ObjectType.objects.get(name="companies")
    with commit():
        ada = contact("ada@example.com")
        link(ada, company("Acme"), "Primary")
    primary = definition("contacts", "companies", "Primary")
    name = Property.objects.get(object_type=companies, name="name")

    page = staff_client.get("/admin/crm/property/add/").content.decode()
    assert "Source property" in page and "When several records qualify" in page
    with commit():
        response = staff_client.post(
            "/admin/crm/property/add/",
            admin_add_form(
                contacts,
                sync_source_object_type=companies.pk,
                sync_source_property=name.pk,
                sync_definitions=[primary.pk],
                sync_criterion="last_created",
            ),
        )

    assert response.status_code == 302, response.content.decode()[:3000]
    prop = Property.objects.get(object_type=contacts, name="company_name")
    assert prop.read_only and prop.is_sync
    assert list(prop.sync_config.definitions.all()) == [primary]
    assert prop.sync_config.criterion == "last_created"
    assert value(ada) == "Acme"


def test_the_admin_shows_a_refused_source_on_its_field(staff_client, contacts):
    companies = ObjectType.objects.get(name="companies")
    domain = Property.objects.get(object_type=companies, name="domain")
    Property.objects.filter(pk=domain.pk).update(restricted=True)

    response = staff_client.post(
        "/admin/crm/property/add/",
        admin_add_form(
            contacts, sync_source_object_type=companies.pk, sync_source_property=domain.pk
        ),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "restricted" in errors["sync_source_property"][0]
    assert not Property.objects.filter(name="company_name").exists()


def test_the_property_page_shows_backfill_progress_and_used_in(synced, staff_client):
    _, _, prop = synced
    name = Property.objects.get(object_type__name="companies", name="name")

    sync_page = staff_client.get(f"/admin/crm/property/{prop.pk}/change/").content.decode()
    source_page = staff_client.get(f"/admin/crm/property/{name.pk}/change/").content.decode()

    assert "Done: 1 of 1 records (100%)" in sync_page
    assert "Used in" in source_page
    assert f'href="/admin/crm/property/{prop.pk}/change/"' in source_page
    assert "Sync property contacts.company_name" in source_page


def test_the_admin_refuses_to_delete_a_used_property(synced, staff_client, commit):
    companies = ObjectType.objects.get(name="companies")
    domain = Property.objects.get(object_type=companies, name="domain")
    Property.objects.filter(pk=domain.pk).update(is_builtin=False)
    with commit():
        make_sync(name="company_domain", source_property="domain")

    response = staff_client.post(f"/admin/crm/property/{domain.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert response.url == f"/admin/crm/property/{domain.pk}/change/"
    followed = staff_client.get(response.url).content.decode()
    assert "is used, so it cannot be deleted" in followed
    assert Property.objects.filter(pk=domain.pk).exists()


def test_the_admin_action_recomputes_a_sync_property(synced, staff_client, commit):
    ada, _, prop = synced
    Record.objects.filter(pk=ada.pk).update(properties={"email": "ada@example.com"})

    with commit():
        response = staff_client.post(
            "/admin/crm/property/",
            {"action": "recompute_sync_properties", "_selected_action": [prop.pk]},
        )

    assert response.status_code == 302
    assert value(ada) == "Acme"
    assert AuditEvent.objects.filter(verb="recompute_sync_property", target_id=prop.pk).exists()
