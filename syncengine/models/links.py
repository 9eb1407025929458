"""Records and their remote twins: the links, with their outbox marks, and held mass deletes."""

from __future__ import annotations

from django.conf import settings as django_settings
from django.db import models
from django.db.models import Q

from syncengine.models.integrations import Integration
from syncengine.models.mappings import ObjectMapping


class RecordLink(models.Model):
    """A Concord record and its remote twin: the values both last agreed on, and a dirty flag."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="links")
    object_mapping = models.ForeignKey(ObjectMapping, on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey("crm.Record", on_delete=models.CASCADE, related_name="+")
    remote_object = models.CharField(max_length=100)
    # A Salesforce id (18) or a Google resource name (people/c + 19 digits).
    remote_id = models.CharField(max_length=100, null=True, blank=True)
    # {remote field: value} as the remote holds it, as far as Concord last knew.
    agreed = models.JSONField(default=dict, blank=True)
    dirty = models.BooleanField(default=True)
    dirty_at = models.DateTimeField(null=True, blank=True)
    # Bumped by every change; a push clears `dirty` only if the number is still what it read.
    change_seq = models.PositiveIntegerField(default=0)
    # Reference fields that could not be set yet (the target record is not synced).
    pending_references = models.BooleanField(default=False)
    remote_modstamp = models.DateTimeField(null=True, blank=True)
    remote_deleted_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    # The remote record left the remote-side filter (Google's SPEC G-3): nothing syncs either
    # way, and nothing is archived or deleted, until it comes back into the filter.
    dormant = models.BooleanField(default=False)

    class PendingOp(models.TextChoices):
        NONE = "", "None"
        DELETE = "delete", "Delete"
        RESTORE = "restore", "Restore"

    # The outbox mark of a lifecycle change to push, set in the transaction that archived or
    # restored the record; cleared only once the remote answered.
    pending_op = models.CharField(
        max_length=10, blank=True, default=PendingOp.NONE, choices=PendingOp.choices
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "record"], name="syncengine_link_unique_record"
            ),
            models.UniqueConstraint(
                fields=["integration", "remote_object", "remote_id"],
                condition=Q(remote_id__isnull=False),
                name="syncengine_link_unique_remote",
            ),
        ]
        indexes = [
            models.Index(
                fields=["object_mapping", "record"],
                condition=Q(dirty=True),
                name="syncengine_link_dirty_idx",
            ),
            models.Index(
                fields=["object_mapping", "pending_op"],
                condition=~Q(pending_op=""),
                name="syncengine_link_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.record_id} ↔ {self.remote_object} {self.remote_id or '(not yet created)'}"


class HeldDelete(models.Model):
    """One delete the mass-delete guard withheld until an admin confirms or discards it."""

    class Direction(models.TextChoices):
        PULL = "pull", "Remote → Concord"
        PUSH = "push", "Concord → remote"

    class Status(models.TextChoices):
        HELD = "held", "Held"
        CONFIRMED = "confirmed", "Confirmed"  # the next delete stage may apply it
        APPLIED = "applied", "Applied"
        DISCARDED = "discarded", "Discarded"

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="held_deletes"
    )
    object_mapping = models.ForeignKey(ObjectMapping, on_delete=models.CASCADE, related_name="+")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    link = models.ForeignKey(
        RecordLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    record = models.ForeignKey(
        "crm.Record", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The record's name when held: the health card's sample shows names without joining.
    label = models.CharField(max_length=300, blank=True)
    remote_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.HELD)
    held_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["pk"]
        constraints = [
            # A link is held (or awaits its confirmed delete) at most once per direction.
            models.UniqueConstraint(
                fields=["object_mapping", "direction", "link"],
                condition=Q(status__in=["held", "confirmed"], link__isnull=False),
                name="syncengine_helddelete_open_unique",
            )
        ]
        indexes = [
            models.Index(
                fields=["integration", "object_mapping", "direction"],
                condition=Q(status="held"),
                name="syncengine_helddelete_held_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.direction} delete of {self.label or self.remote_id} ({self.status})"
