"""Sync-property test helpers: companies and contacts written through the services, associated
by label, and a sync property copying a company value onto its contacts."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from crm import sources
from crm.models import AssociationDefinition, ObjectType, Property, Record
from crm.services.associations import associate_records
from crm.services.records import RecordInput, create_record, write_records
from crm.services.schema import create_property


def definition(from_type: str, to_type: str, label: str = "") -> AssociationDefinition:
    """The association definition between two object types, with a label."""
    return AssociationDefinition.objects.get(
        from_object_type__name=from_type, to_object_type__name=to_type, label=label
    )


def company(name: str, **extra) -> Record:
    """A company created through the services."""
    companies = ObjectType.objects.get(name="companies")
    return create_record(
        object_type=companies, properties={"name": name, **extra}, source=sources.API
    )


def contact(email: str) -> Record:
    """A contact created through the services."""
    contacts = ObjectType.objects.get(name="contacts")
    return create_record(object_type=contacts, properties={"email": email}, source=sources.API)


def link(contact_record: Record, company_record: Record, label: str = "") -> None:
    """Associate a contact with a company (with a label)."""
    associate_records(
        definition=definition("contacts", "companies", label),
        pairs=[(contact_record.pk, company_record.pk)],
        source=sources.API,
    )


def deal(dealname: str, linked_to: Record) -> Record:
    """A deal created through the services, associated with a record (deals → its type)."""
    deals = ObjectType.objects.get(name="deals")
    record = create_record(object_type=deals, properties={"dealname": dealname}, source="api")
    associate_records(
        definition=definition("deals", linked_to.object_type.name),
        pairs=[(record.pk, linked_to.pk)],
        source="api",
    )
    return record


def contacts_at(companies: list[Record], count: int) -> list[int]:
    """`count` contacts (c<i>@example.com) written in one call, contact i associated with
    companies[i % len(companies)]; returns their ids."""
    ids = write_records(
        object_type=ObjectType.objects.get(name="contacts"),
        inputs=[RecordInput(properties={"email": f"c{i}@example.com"}) for i in range(count)],
        mode="create",
        source=sources.API,
    ).ids
    associate_records(
        definition=definition("contacts", "companies"),
        pairs=[(pk, companies[i % len(companies)].pk) for i, pk in enumerate(ids)],
        source=sources.API,
    )
    return ids


def value(record: Record, name: str = "company_name"):
    """A property's value as stored now."""
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
    """A sync property on `target` copying `source_property` of associated `source_type` records."""
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
    """Backdate a record's creation."""
    Record.objects.filter(pk=record.pk).update(
        created_at=timezone.now() - dt.timedelta(days=days_ago)
    )
