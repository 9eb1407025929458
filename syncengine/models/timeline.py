"""The sync timeline of a record: each pull and push that changed it, and each that failed."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from syncengine.models.cycles import SyncStage
from syncengine.models.errors import SyncError
from syncengine.models.integrations import Integration


class SyncTimelineEntry(models.Model):
    """What one stage did to one record: the fields it changed (old → new) or why it failed.

    Written set-based with the stage (one insert per batch) and pruned with it; a record that a
    stage read again unchanged gets no row, only the stage's skipped count.
    """

    class Direction(models.TextChoices):
        PULL = "pull", "Remote → Concord"
        PUSH = "push", "Concord → remote"

    class Outcome(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        FAILED = "failed", "Failed"

    # Few indexes and checks, as rows are written by the 100,000 in a first sync: the unique
    # constraint serves the stage (pruning), the record index the record. The database checks
    # none of the references row by row: the stage and its integration are the writer's own, the
    # record was written in the same transaction, and all three are deleted only through the
    # ORM, which cascades. (The record's check cost a first sync of 100,000 contacts half a
    # second at commit, and took a share lock on every record it wrote.)
    stage = models.ForeignKey(
        SyncStage,
        on_delete=models.CASCADE,
        related_name="timeline",
        db_index=False,
        db_constraint=False,
    )
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    record = models.ForeignKey(
        "crm.Record",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    direction = models.CharField(max_length=10, choices=Direction.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    at = models.DateTimeField()
    # [{"field": remote field, "property": Concord property name or "", "old": …, "new": …}]
    changes = models.JSONField(default=list, blank=True)
    # A failure: the error as it read then (the SyncError may be resolved or gone since).
    error = models.ForeignKey(
        SyncError, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )  # fmt: skip
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        # Read only through the record's sync card (gated like the record and its errors);
        # nobody adds, changes or deletes timeline rows, so no role holds permissions on them.
        default_permissions = ()
        constraints = [
            # At most one row per record per stage: a second read in the same stage merges.
            models.UniqueConstraint(fields=["stage", "record"], name="syncengine_timeline_unique")
        ]
        indexes = [
            models.Index(
                "record", models.F("at").desc(), models.F("id").desc(), name="syncengine_tl_rec_idx"
            ),
            # Failures only: a deleted error's rows are found to be unlinked.
            models.Index(
                fields=["error"], condition=Q(error__isnull=False), name="syncengine_tl_error_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} record {self.record_id} in stage {self.stage_id}"
