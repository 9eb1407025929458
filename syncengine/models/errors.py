"""Sync errors, the records they affect, and the counts the health page reads."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from syncengine.models.integrations import Integration


class SyncError(models.Model):
    """A permanent sync failure, classified; repeats update it instead of adding rows."""

    class Category(models.TextChoices):
        ASSOCIATIONS = "associations", "Associations"
        CUSTOM_CODE = "custom_code", "Custom code"
        DUPLICATES = "duplicates", "Duplicates"
        PERMISSIONS = "permissions", "Permissions"
        PICKLISTS = "picklists", "Picklists"
        PROPERTY_MAPPINGS = "property_mappings", "Property mappings"
        PROPERTY_VALUES = "property_values", "Property values"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESYNCING = "resyncing", "Resyncing"
        RESOLVED = "resolved", "Resolved"

    class Direction(models.TextChoices):
        PUSH = "push", "Concord → remote"
        PULL = "pull", "Remote → Concord"
        SCHEMA = "schema", "Schema"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="errors")
    category = models.CharField(max_length=30, choices=Category.choices, db_index=True)
    code = models.CharField(max_length=100)
    message = models.TextField()
    direction = models.CharField(max_length=10, choices=Direction.choices, default="push")
    object_type = models.ForeignKey(
        "crm.ObjectType", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    record = models.ForeignKey(
        "crm.Record", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    remote_object = models.CharField(max_length=100, blank=True)
    remote_id = models.CharField(max_length=100, blank=True)
    remote_field = models.CharField(max_length=100, blank=True)
    property_name = models.CharField(max_length=100, blank=True)
    details = models.JSONField(default=dict, blank=True)
    # The natural key: a repeat of the same failure finds and updates this row.
    key = models.CharField(max_length=64, editable=False)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)
    occurrences = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # When staff last asked for a resync: a cycle that started later settles the error.
    resync_requested_at = models.DateTimeField(null=True, blank=True)
    affected_records = models.ManyToManyField(
        "crm.Record", blank=True, related_name="+", through="SyncErrorAffectedRecord"
    )

    class Meta:
        ordering = ["-last_seen_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "key"], name="syncengine_error_key")
        ]
        indexes = [
            models.Index(fields=["integration", "status", "category"], name="syncengine_err_idx"),
            # The health lists: current errors of one card, newest first (keyset pages).
            models.Index(
                "integration",
                "category",
                models.F("last_seen_at").desc(),
                models.F("id").desc(),
                condition=Q(status__in=["open", "resyncing"]),
                name="syncengine_err_current_idx",
            ),
            # The admin error list filtered by status or direction, in its order (newest
            # first, keyset pages): a rare value is an index range, not a scan of the table.
            models.Index(
                "status",
                models.F("last_seen_at").desc(),
                models.F("id").desc(),
                name="syncengine_err_status_idx",
            ),
            models.Index(
                "direction",
                models.F("last_seen_at").desc(),
                models.F("id").desc(),
                name="syncengine_err_direction_idx",
            ),
            # "New since the user's last visit" (the bell, the admin index's panel): current
            # errors of an integration first seen after a time, counted from the index alone.
            models.Index(
                # category last as a key, not INCLUDE: SQLite (the demo) knows no INCLUDE.
                fields=["integration", "first_seen_at", "category"],
                condition=Q(status__in=["open", "resyncing"]),
                name="syncengine_err_new_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()}: {self.code}"


class SyncErrorAffectedRecord(models.Model):
    """A record that did not sync because of an error on another record (or its own)."""

    error = models.ForeignKey(SyncError, on_delete=models.CASCADE)
    record = models.ForeignKey("crm.Record", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["error", "record"], name="syncengine_affected_unique")
        ]

    def __str__(self) -> str:
        return f"error {self.error_id} affects record {self.record_id}"


class SyncErrorCount(models.Model):
    """A health card's counts, kept by the error service in the writing transaction."""

    # Indexed by the unique constraint (integration first); a separate index would be unused.
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="error_counts", db_index=False
    )
    category = models.CharField(max_length=30, choices=SyncError.Category.choices)
    errors = models.PositiveIntegerField(default=0)  # current (open or resyncing) errors
    affected_records = models.PositiveIntegerField(default=0)  # distinct records they affect

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "category"], name="syncengine_errcount_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.integration_id} {self.category}: {self.errors} / {self.affected_records}"


class SyncErrorRecordCount(models.Model):
    """How many current errors of one type affect a record: the card counts it while > 0."""

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    category = models.CharField(max_length=30, choices=SyncError.Category.choices)
    record = models.ForeignKey("crm.Record", on_delete=models.CASCADE, related_name="+")
    errors = models.PositiveIntegerField(default=0)  # always > 0: a row at 0 is deleted

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "category", "record"], name="syncengine_errrecord_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.integration_id} {self.category} record {self.record_id}: {self.errors}"
