"""The sync timeline of a record: each pull and push that changed it, and each that failed."""

from __future__ import annotations

from django.db import models

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

    stage = models.ForeignKey(SyncStage, on_delete=models.CASCADE, related_name="timeline")
    # Denormalized from the stage: the card reads a record's rows of every integration.
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey("crm.Record", on_delete=models.CASCADE, related_name="+")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    at = models.DateTimeField()
    # [{"field": remote field, "property": Concord property name or "", "old": …, "new": …}]
    changes = models.JSONField(default=list, blank=True)
    # A failure: the error as it read then (the SyncError may be resolved or gone since).
    error = models.ForeignKey(
        SyncError, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [
            # At most one row per record per stage: a second read in the same stage merges.
            models.UniqueConstraint(fields=["stage", "record"], name="syncengine_timeline_unique")
        ]
        indexes = [
            models.Index(
                "record", models.F("at").desc(), models.F("id").desc(), name="syncengine_tl_rec_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} record {self.record_id} in stage {self.stage_id}"
