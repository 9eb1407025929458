"""factory_boy factories for the rows tests create directly: users, owners, integrations
(Salesforce and Google), object and field mappings, record links, sync cycles, stages and errors.

CRM records go through the services (`crm.services.records`), never a factory: their writes
keep values, audit and sync marks consistent. A factory's defaults are the least a row needs;
tests pass what they are about.
"""

from __future__ import annotations

import datetime as dt
import itertools

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from syncengine.models import (
    FieldMapping,
    Integration,
    ObjectMapping,
    RecordLink,
    SyncCycle,
    SyncError,
    SyncStage,
)


class UserFactory(factory.django.DjangoModelFactory):
    """A user whose password is "password"."""

    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("password")


class OwnerFactory(factory.django.DjangoModelFactory):
    """An active owner with no login (pass `user` to link one), email lower-cased as stored."""

    class Meta:
        model = "crm.Owner"
        django_get_or_create = ("email",)

    name = factory.Sequence(lambda n: f"Owner {n}")
    email = factory.Sequence(lambda n: f"owner{n}@example.com")
    is_active = True


class IntegrationFactory(factory.django.DjangoModelFactory):
    """A Salesforce integration row (not connected: no tokens unless given)."""

    class Meta:
        model = Integration

    kind = Integration.Kind.SALESFORCE
    name = factory.Sequence(lambda n: f"Org {n}")


class GoogleIntegrationFactory(IntegrationFactory):
    """A Google Contacts integration row."""

    kind = Integration.Kind.GOOGLE_CONTACTS
    name = factory.Sequence(lambda n: f"Google {n}")


def _object_type(name: str):
    from crm.models import ObjectType

    return ObjectType.objects.get(name=name)


class ObjectMappingFactory(factory.django.DjangoModelFactory):
    """Contacts ↔ Contact by default (the standard schema must be seeded: `crm_schema`)."""

    class Meta:
        model = ObjectMapping

    integration = factory.SubFactory(IntegrationFactory)
    object_type = factory.LazyFunction(lambda: _object_type("contacts"))
    remote_object = "Contact"


class FieldMappingFactory(factory.django.DjangoModelFactory):
    """email ↔ Email of a contacts mapping by default."""

    class Meta:
        model = FieldMapping

    object_mapping = factory.SubFactory(ObjectMappingFactory)
    property = factory.LazyAttribute(
        lambda fm: fm.object_mapping.object_type.property_definitions.get(name="email")
    )
    remote_field = "Email"


class RecordLinkFactory(factory.django.DjangoModelFactory):
    """A record and its remote twin; give the `record` (made through the services)."""

    class Meta:
        model = RecordLink

    object_mapping = factory.SubFactory(ObjectMappingFactory)
    integration = factory.SelfAttribute("object_mapping.integration")
    remote_object = factory.SelfAttribute("object_mapping.remote_object")


class SyncCycleFactory(factory.django.DjangoModelFactory):
    """A queued cycle of an integration."""

    class Meta:
        model = SyncCycle

    integration = factory.SubFactory(IntegrationFactory)


class SyncStageFactory(factory.django.DjangoModelFactory):
    """A stage of a cycle, started now."""

    class Meta:
        model = SyncStage

    cycle = factory.SubFactory(SyncCycleFactory)
    integration = factory.SelfAttribute("cycle.integration")
    operation = SyncStage.Operation.PULL_UPDATES
    started_at = factory.LazyFunction(timezone.now)


_error_keys = itertools.count()


class SyncErrorFactory(factory.django.DjangoModelFactory):
    """An open property-values error (a missing last name), first and last seen now."""

    class Meta:
        model = SyncError

    integration = factory.SubFactory(IntegrationFactory)
    category = SyncError.Category.PROPERTY_VALUES
    code = "REQUIRED_FIELD_MISSING"
    message = "Required fields are missing: [LastName]"
    key = factory.LazyFunction(lambda: f"k{next(_error_keys)}")
    first_seen_at = factory.LazyFunction(timezone.now)
    last_seen_at = factory.SelfAttribute("first_seen_at")
    object_type = factory.LazyAttribute(lambda e: e.record.object_type if e.record else None)
    record = None


def make_error(integration, *, first_seen: dt.datetime, **fields) -> SyncError:
    """An error of the integration first (and last) seen at `first_seen`."""
    return SyncErrorFactory(integration=integration, first_seen_at=first_seen, **fields)
