"""Objects the permission tests put behind URL parameters: a Google integration with one sync
error on a contact, and a pending backup with a restore."""

from __future__ import annotations

from dataclasses import dataclass

from backups.models import Backup, Restore
from syncengine.models import Integration, ObjectMapping, SyncError
from syncengine.services.errors import record_sync_error
from tests.factories import IntegrationFactory, ObjectMappingFactory


@dataclass(frozen=True)
class GuardedObjects:
    """What the permission tests ask for by id."""

    integration: Integration
    mapping: ObjectMapping
    error: SyncError
    backup: Backup
    restore: Restore


def guarded_objects(contacts, record, *, restore_properties: list[str]) -> GuardedObjects:
    """A Google integration mapping contacts, a sync error on `record`, a pending backup and a
    restore of it."""
    integration = IntegrationFactory(
        name="Google", kind=Integration.Kind.GOOGLE_CONTACTS, instance_url="https://people.test"
    )
    mapping = ObjectMappingFactory(
        integration=integration, object_type=contacts, remote_object="Contact"
    )
    error = record_sync_error(
        integration=integration,
        category="property_values",
        code="REQUIRED_FIELD_MISSING",
        message="Last name is required",
        object_type_id=contacts.pk,
        record_id=record.pk,
        affected_record_ids=[record.pk],
    )
    backup = Backup.objects.create(status=Backup.Status.PENDING)
    restore = Restore.objects.create(
        backup=backup, object_type=contacts, properties=restore_properties
    )
    return GuardedObjects(integration, mapping, error, backup, restore)
