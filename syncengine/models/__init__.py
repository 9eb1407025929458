"""The sync engine's models, one module per concern; Django finds them through this package."""

from __future__ import annotations

from syncengine.models.cycles import SyncCycle, SyncStage
from syncengine.models.errors import (
    SyncError,
    SyncErrorAffectedRecord,
    SyncErrorCount,
    SyncErrorRecordCount,
)
from syncengine.models.integrations import ApiCallBucket, Integration
from syncengine.models.links import HeldDelete, RecordLink
from syncengine.models.mappings import FieldMapping, ObjectMapping, ReferenceMapping, SyncRule
from syncengine.models.owners import RemoteOwner
from syncengine.models.timeline import SyncTimelineEntry

__all__ = [
    "ApiCallBucket",
    "FieldMapping",
    "HeldDelete",
    "Integration",
    "ObjectMapping",
    "RecordLink",
    "ReferenceMapping",
    "RemoteOwner",
    "SyncCycle",
    "SyncError",
    "SyncErrorAffectedRecord",
    "SyncErrorCount",
    "SyncErrorRecordCount",
    "SyncRule",
    "SyncStage",
    "SyncTimelineEntry",
]
