"""The standard CRM schema in tests: the migration seeds it; transactional tests flush it.

A pytest plugin (tests/conftest.py registers it): `crm_schema` and the standard object types.
"""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.db import connection


def ensure_standard_schema() -> None:
    """Re-seed the standard object types if a transactional test flushed them."""
    from crm.models import ObjectType

    if not ObjectType.objects.exists():
        schema_editor = connection.schema_editor()
        seed = importlib.import_module("crm.migrations.0002_standard_object_types").seed
        seed(django_apps, schema_editor)
        # What later migrations add to the standard types: the owner property and its column.
        owners = importlib.import_module("crm.migrations.0010_owners")
        owners.add_owner_property(django_apps, schema_editor)
        columns = importlib.import_module("crm.migrations.0011_owner_in_record_lists")
        columns.add_owner_column(django_apps, schema_editor)


@pytest.fixture
def crm_schema(db):
    """The standard object types, properties and association definitions."""
    ensure_standard_schema()


@pytest.fixture
def contacts(crm_schema):
    """The contacts object type."""
    from crm.models import ObjectType

    return ObjectType.objects.get(name="contacts")


@pytest.fixture
def companies(crm_schema):
    """The companies object type."""
    from crm.models import ObjectType

    return ObjectType.objects.get(name="companies")


@pytest.fixture
def deals(crm_schema):
    """The deals object type."""
    from crm.models import ObjectType

    return ObjectType.objects.get(name="deals")
