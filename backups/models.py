"""Backups (a ZIP of one CSV per object type), their schedule, and restores of property values."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q, Value
from django.utils import timezone

from crm.models import ObjectType

BACKUP_RETENTION_DAYS = 14


class Backup(models.Model):
    """One backup file: every active record of every object type, from one snapshot."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to start"
        RUNNING = "running", "Running"
        READY = "ready", "Ready to download"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    class Kind(models.TextChoices):
        MANUAL = "manual", "On demand"
        SCHEDULED = "scheduled", "Scheduled"

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.MANUAL)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A name in the "backups" storage (STORAGES); blank until written and again once expired.
    file_name = models.CharField(max_length=300, blank=True)
    size = models.BigIntegerField(null=True, blank=True, help_text="Bytes.")
    counts = models.JSONField(
        default=dict, blank=True, help_text="Records per object type: {name: count}."
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    snapshot_at = models.DateTimeField(
        null=True, blank=True, help_text="The point in time whose data the backup holds."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Viewing the list is not reading every value of the CRM: the file is its own right.
        permissions = [("download_backup", "Can download backup files")]

    def __str__(self) -> str:
        status = self.Status(self.status_at(timezone.now())).label.lower()
        return f"Backup #{self.pk} ({status})"

    def status_at(self, now: dt.datetime) -> str:
        """The status at `now`: past its expiry a ready backup is expired, by the clock alone.

        The periodic task that deletes expired files may run late, fail or not run at all; a
        backup is no less expired for that.
        """
        # selectors.status_filter is the same rule in SQL, for lists filtered by status.
        if self.status == self.Status.READY and self.expires_at and self.expires_at <= now:
            return self.Status.EXPIRED
        return self.status

    @property
    def record_count(self) -> int:
        return sum(self.counts.values()) if self.counts else 0


class BackupSchedule(models.Model):
    """The one schedule of automatic backups (Enterprise plan)."""

    class Frequency(models.TextChoices):
        WEEKLY = "weekly", "Weekly"
        BIWEEKLY = "biweekly", "Every other week"

    enabled = models.BooleanField(default=False)
    frequency = models.CharField(max_length=20, choices=Frequency.choices, default="weekly")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "backup schedule"

    def __str__(self) -> str:
        return f"{self.get_frequency_display()}" if self.enabled else "Off"


class Restore(models.Model):
    """A restore of some properties of one object type from a backup (or a rollback of one)."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned, waiting for confirmation"
        PENDING = "pending", "Confirmed, waiting to start"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    ACTIVE_STATUSES = (Status.PENDING, Status.RUNNING)

    class Verification(models.TextChoices):
        TOTP = "totp", "Authenticator code"
        SSO = "sso", "Single sign-on"

    backup = models.ForeignKey(Backup, on_delete=models.PROTECT, related_name="restores")
    object_type = models.ForeignKey(ObjectType, on_delete=models.CASCADE, related_name="+")
    properties = models.JSONField(default=list, help_text="Internal names of the properties.")
    rollback_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rollbacks",
        help_text="The restore whose changes this one undoes.",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLANNED)
    # {"properties": {name: {"change": n, "clear": n}}, "records": n, "changing_records": n,
    #  "missing": n, "sample": [{"id": …, "changes": {name: [before, after]}}]}
    plan = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verified_by = models.CharField(max_length=10, choices=Verification.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A worker bumps this after every batch; a running restore whose worker died can be resumed.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Backup rows are applied in id order; everything up to this id is done (resume point).
    last_record_id = models.BigIntegerField(default=0)
    updated_count = models.IntegerField(default=0)
    unchanged_count = models.IntegerField(default=0)
    missing_count = models.IntegerField(default=0)
    failed_count = models.IntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="The first refused values.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "data restore"
        # Planning a restore writes nothing; confirming it overwrites values: its own right.
        permissions = [("run_restore", "Can confirm and run data restores")]
        constraints = [
            # One restore at a time, whoever asks and however many web processes answer: a
            # unique index over a constant, limited to the active rows, admits only one of them.
            models.UniqueConstraint(
                Value(1),
                condition=Q(status__in=["pending", "running"]),
                name="backups_one_active_restore",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        prefix = "Data restore rollback" if self.rollback_of_id else "Data restore"
        return f"{prefix} - {self.object_type.label_singular}"


class RestoreSavedValue(models.Model):
    """A record's values of the restored properties just before a restore changed them."""

    restore = models.ForeignKey(Restore, on_delete=models.CASCADE, related_name="saved_values")
    record_id = models.BigIntegerField()
    values = models.JSONField(help_text="{property: value before the restore}; null = was empty.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["restore", "record_id"], name="backups_saved_unique")
        ]

    def __str__(self) -> str:
        return f"record {self.record_id} before restore {self.restore_id}"
