"""OwnerId ↔ owner is a default mapping: created with new Salesforce integrations, and added
to existing ones by the migration (which leaves staff-made OwnerId mappings alone)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from syncengine.models import FieldMapping, ObjectMapping
from syncengine.services.mappings import create_default_mappings
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("syncengine.migrations.0016_remote_owners")
OWNED = {"Account", "Contact", "Lead", "Opportunity", "Task"}


def owner_mappings(integration) -> dict[str, str]:
    return dict(
        FieldMapping.objects.filter(
            object_mapping__integration=integration, remote_field="OwnerId"
        ).values_list("object_mapping__remote_object", "property__name")
    )


def test_new_integrations_map_owner_id_on_the_owned_objects(crm_schema):
    integration = IntegrationFactory()
    create_default_mappings(integration=integration)
    assert owner_mappings(integration) == dict.fromkeys(OWNED, "owner")


def test_the_migration_maps_owner_id_for_existing_integrations(crm_schema):
    # Given an integration made before owners (no OwnerId mappings), and one whose staff
    # mapped OwnerId themselves on Account
    before = IntegrationFactory()
    create_default_mappings(integration=before)
    FieldMapping.objects.filter(object_mapping__integration=before, remote_field="OwnerId").delete()
    custom = IntegrationFactory()
    create_default_mappings(integration=custom)
    FieldMapping.objects.filter(object_mapping__integration=custom, remote_field="OwnerId").update(
        is_default=False
    )
    # When the migration runs (twice: it is safe to)
    migration.map_owner_id(apps, None)
    migration.map_owner_id(apps, None)
    # Then every owned object maps OwnerId to its owner property, once
    assert owner_mappings(before) == dict.fromkeys(OWNED, "owner")
    assert FieldMapping.objects.filter(
        object_mapping__integration=before, remote_field="OwnerId", is_default=True
    ).count() == len(OWNED)
    assert not FieldMapping.objects.filter(
        object_mapping__integration=custom, remote_field="OwnerId", is_default=True
    ).exists()
    # And reversing it removes only the default ones
    migration.unmap_owner_id(apps, None)
    assert owner_mappings(before) == {}
    assert owner_mappings(custom) == dict.fromkeys(OWNED, "owner")
    assert ObjectMapping.objects.filter(integration=before).count() == 5
