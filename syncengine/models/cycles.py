"""Sync cycles and the stages each one runs."""

from __future__ import annotations

from django.conf import settings as django_settings
from django.db import models
from django.db.models import Q

from syncengine.models.integrations import Integration


class SyncCycle(models.Model):
    """One run of every stage for an integration; at most one runs at a time."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "In progress"
        SUCCESS = "success", "Success"
        INCOMPLETE = "incomplete", "Incomplete"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="cycles")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=20, default="schedule")  # schedule | manual | api
    requested_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # A worker renews its lease while it runs; an expired lease means the worker died.
    lease_until = models.DateTimeField(null=True, blank=True)
    api_calls = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration"],
                condition=Q(status__in=["queued", "running"]),
                name="syncengine_one_active_cycle",
            )
        ]

    def __str__(self) -> str:
        return f"cycle {self.pk} of {self.integration} ({self.status})"


class SyncStage(models.Model):
    """One stage of a cycle for one object: what it did and how it ended (the dashboard rows)."""

    class Operation(models.TextChoices):
        SYNC_SCHEMA = "sync_schema", "Sync schema"
        PULL_USERS = "pull_users", "Pull users"
        PULL_UPDATES = "pull_updates", "Pull updates"
        PULL_MERGES = "pull_merges", "Pull merges"
        PULL_DELETES = "pull_deletes", "Pull deletes"
        PULL_CONVERSIONS = "pull_conversions", "Pull conversions"
        RECONCILE = "reconcile", "Reconcile"
        PUSH_NEW = "push_new", "Push new"
        PUSH_UPDATES = "push_updates", "Push updates"
        PUSH_RESTORES = "push_restores", "Push restores"
        PUSH_DELETES = "push_deletes", "Push deletes"
        UPDATE_FOREIGN_KEYS = "update_foreign_keys", "Update foreign keys"

    class Status(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILED = "failed", "Failed"
        INCOMPLETE = "incomplete", "Incomplete"
        IN_PROGRESS = "in_progress", "In progress"
        CLEANUP = "cleanup", "Cleanup"

    cycle = models.ForeignKey(SyncCycle, on_delete=models.CASCADE, related_name="stages")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="stages")
    object_type = models.ForeignKey(
        "crm.ObjectType", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    remote_object = models.CharField(max_length=100, blank=True)
    operation = models.CharField(max_length=30, choices=Operation.choices)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.IN_PROGRESS, db_index=True
    )
    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True, db_index=True)
    new = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["integration", "-started_at"], name="syncengine_stage_idx")]

    def __str__(self) -> str:
        return f"{self.get_operation_display()} {self.remote_object} ({self.status})"

    @property
    def outcome_label(self) -> str:
        """The status as the dashboard says it: a stage that ended with failed records never
        reads just "Success" ("Completed with 36 failed")."""
        if self.failed and self.status in (self.Status.SUCCESS, self.Status.CLEANUP):
            done = "Cleanup completed" if self.status == self.Status.CLEANUP else "Completed"
            return f"{done} with {self.failed:,} failed"
        return self.get_status_display()
