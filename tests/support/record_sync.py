"""A record's sync history written directly (no remote): integrations linking it, timeline
rows in their stages, open errors, and records blocked by it; for the sync card's tests."""

from __future__ import annotations

from django.utils import timezone

from crm.models import Record
from syncengine.codes import SyncErrorCode
from syncengine.models import (
    Integration,
    RecordLink,
    SyncCycle,
    SyncError,
    SyncStage,
    SyncTimelineEntry,
)
from syncengine.services.errors import record_sync_error
from tests.factories import IntegrationFactory, ObjectMappingFactory


def linked_integration(record: Record, *, name: str, remote_id: str) -> Integration:
    """A Salesforce integration mapping the record's object type, linking the record."""
    integration = IntegrationFactory(name=name, instance_url="https://acme.my.salesforce.com")
    mapping = ObjectMappingFactory(
        integration=integration, object_type=record.object_type, remote_object="Contact"
    )
    RecordLink.objects.create(
        integration=integration,
        object_mapping=mapping,
        record=record,
        remote_object="Contact",
        remote_id=remote_id,
        dirty=False,
        synced_at=timezone.now(),
    )
    return integration


def timeline_rows(record: Record, integration: Integration, count: int) -> list[SyncStage]:
    """`count` stages of one cycle, each of which changed the record's job title (a pull, then
    a push, alternately): "Title 0" → "Title 1" → …"""
    cycle = SyncCycle.objects.create(integration=integration, status="success")
    stages = []
    for i in range(count):
        pull = i % 2 == 0
        stage = SyncStage.objects.create(
            cycle=cycle,
            integration=integration,
            object_type=record.object_type,
            remote_object="Contact",
            operation="pull_updates" if pull else "push_updates",
            status="success",
            started_at=timezone.now(),
        )
        SyncTimelineEntry.objects.create(
            stage=stage,
            integration=integration,
            record=record,
            direction="pull" if pull else "push",
            outcome="updated",
            at=timezone.now(),
            changes=[
                {"field": "Title", "property": "jobtitle", "old": f"Title {i}",
                 "new": f"Title {i + 1}"}
            ],
        )  # fmt: skip
        stages.append(stage)
    return stages


def open_error(record: Record, integration: Integration, *, code: str, message: str) -> SyncError:
    """An open push error of the record."""
    return record_sync_error(
        integration=integration,
        category="property_values",
        code=code,
        message=message,
        direction="push",
        object_type_id=record.object_type_id,
        record_id=record.pk,
        affected_record_ids=[record.pk],
    )


def blocked_by(blocker: Record, waiting: list[Record], integration: Integration) -> SyncError:
    """The error a push records when records' association points to `blocker`, which is not
    in the remote yet (as engine/errors.blocked_by_association)."""
    return record_sync_error(
        integration=integration,
        category=SyncError.Category.ASSOCIATIONS,
        code=SyncErrorCode.ASSOCIATED_RECORD_NOT_SYNCED,
        message=f"{blocker} is not in Salesforce yet.",
        direction=SyncError.Direction.PUSH,
        object_type_id=blocker.object_type_id,
        record_id=blocker.pk,
        remote_field="Contact.AccountId",
        affected_record_ids=[r.pk for r in waiting],
    )
