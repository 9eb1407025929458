"""Repair migrations: they fix what an earlier mistake left in some databases and not others."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.db import connection

from crm import sources
from crm.models import ObjectType, Property
from crm.services.schema import create_object_type

stale_gin = importlib.import_module("crm.migrations.0007_drop_stale_gin_index")


def _has_index(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [name])
        return cursor.fetchone() is not None


@pytest.mark.postgres
def test_the_stale_gin_index_is_dropped_where_a_database_still_has_it(db):
    # Given a database migrated before 0004_postgresql_gin_index was deleted
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX {stale_gin.STALE_INDEX} ON crm_record "
            "USING gin (properties jsonb_path_ops)"
        )
    assert _has_index(stale_gin.STALE_INDEX)

    # When the repair migration runs
    with connection.schema_editor() as editor:
        stale_gin.drop_stale_index(None, editor)

    # Then the index is gone
    assert not _has_index(stale_gin.STALE_INDEX)


def test_the_repair_does_nothing_where_the_index_never_was(transactional_db):
    # transactional: SQLite's schema editor cannot open inside a test's transaction
    with connection.schema_editor() as editor:
        stale_gin.drop_stale_index(None, editor)  # no error: nothing to drop

    if connection.vendor == "postgresql":
        assert not _has_index(stale_gin.STALE_INDEX)


owners_migration = importlib.import_module("crm.migrations.0010_owners")
owner_columns = importlib.import_module("crm.migrations.0011_owner_in_record_lists")


@pytest.fixture
def text_owner(crm_schema):
    """A custom type whose `owner` property is text: one staff made before owners existed."""
    projects = create_object_type(
        name="projects", label_singular="Project", label_plural="Projects", source=sources.API
    )
    Property.objects.filter(object_type=projects, name="owner").update(type=Property.Type.TEXT)
    ObjectType.objects.filter(pk=projects.pk).update(list_properties=["name"])
    return projects


def test_0010_keeps_an_owner_property_of_another_type_both_ways(text_owner):
    owners_migration.add_owner_property(django_apps, None)
    assert list(text_owner.property_definitions.filter(name="owner").values_list("type")) == [
        ("text",)
    ]
    owners_migration.remove_owner_property(django_apps, None)
    assert text_owner.property_definitions.filter(name="owner", type="text").exists()
    assert not Property.objects.filter(type=Property.Type.OWNER).exists()


def test_0011_adds_the_owner_column_only_where_owner_is_an_owner(contacts, text_owner):
    ObjectType.objects.filter(pk=contacts.pk).update(list_properties=["email"])

    owner_columns.add_owner_column(django_apps, None)

    contacts.refresh_from_db()
    text_owner.refresh_from_db()
    assert contacts.list_properties == ["email", "owner"]
    assert text_owner.list_properties == ["name"]


def test_0011_reverse_keeps_an_owner_column_staff_chose(contacts, text_owner):
    # A text `owner` column shown before the migration (the forward leaves it alone)
    ObjectType.objects.filter(pk=text_owner.pk).update(list_properties=["name", "owner"])

    owner_columns.add_owner_column(django_apps, None)
    owner_columns.keep_columns(django_apps, None)

    text_owner.refresh_from_db()
    assert text_owner.list_properties == ["name", "owner"]
