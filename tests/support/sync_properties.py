"""Sync-property test helpers: companies and contacts written through the services, associated
by label, and a sync property copying a company value onto its contacts."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from crm import sources
from crm.models import AssociationDefinition, ObjectType, Property, Record
from crm.services.associations import associate_records
from crm.services.records import create_record
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
