"""In-app notifications, per-user notification settings, and sync-error digest runs."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class Notification(models.Model):
    """One in-app message to one user (backup ready, restore done, …)."""

    class Kind(models.TextChoices):
        BACKUP_READY = "backup_ready", "Backup ready"
        BACKUP_FAILED = "backup_failed", "Backup failed"
        RESTORE_DONE = "restore_done", "Restore done"
        RESTORE_FAILED = "restore_failed", "Restore failed"
        INTEGRATION_NEEDS_RECONNECT = (
            "integration_needs_reconnect",
            "Integration needs reconnection",
        )
        MASS_DELETE_HELD = "mass_delete_held", "Mass delete held"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=50, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True, help_text="Where to go from here.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The unread badge and list of one user: the only hot query.
            models.Index(
                fields=["user", "-created_at"],
                condition=Q(read_at__isnull=True),
                name="notif_unread_idx",
            ),
            models.Index(fields=["user", "-id"], name="notif_user_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class Frequency(models.TextChoices):
    INSTANTLY = "instantly", "Instantly"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


class NotificationSetting(models.Model):
    """One user's notification preferences; integrations may override the sync-error ones."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_setting"
    )
    sync_errors_enabled = models.BooleanField(
        default=True, help_text="Email digests of sync errors (all integrations without their own)."
    )
    sync_errors_frequency = models.CharField(
        max_length=20, choices=Frequency.choices, default=Frequency.DAILY
    )
    backup_ready_enabled = models.BooleanField(default=True, help_text="Backup ready or failed.")
    restore_done_enabled = models.BooleanField(default=True, help_text="Restore done or failed.")
    time_zone = models.CharField(max_length=64, default="UTC")
    daily_hour = models.PositiveSmallIntegerField(
        default=8, validators=[MinValueValidator(0), MaxValueValidator(23)]
    )
    weekly_day = models.PositiveSmallIntegerField(choices=Weekday.choices, default=Weekday.MONDAY)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(daily_hour__lte=23), name="notif_setting_daily_hour"
            ),
            models.CheckConstraint(condition=Q(weekly_day__lte=6), name="notif_setting_weekday"),
        ]

    def __str__(self) -> str:
        return f"Notification settings of {self.user}"


class IntegrationNotificationSetting(models.Model):
    """A user's sync-error notification choice for one integration (overrides "all")."""

    setting = models.ForeignKey(
        NotificationSetting, on_delete=models.CASCADE, related_name="integrations"
    )
    integration = models.ForeignKey(
        "syncengine.Integration", on_delete=models.CASCADE, related_name="+"
    )
    enabled = models.BooleanField(default=True)
    frequency = models.CharField(max_length=20, choices=Frequency.choices, default=Frequency.DAILY)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["setting", "integration"], name="notif_integration_setting_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.integration_id}: {self.frequency if self.enabled else 'off'}"


class DigestRun(models.Model):
    """One sync-error digest of one user: claimed once per window, so it is sent once."""

    class Status(models.TextChoices):
        CLAIMED = "claimed", "Claimed"
        SENT = "sent", "Sent"
        EMPTY = "empty", "Nothing new"
        # The mail server refused this digest (its recipient or the message): not retried, so
        # one bad address cannot hold up the others; the next window is a new digest.
        FAILED = "failed", "Refused by the mail server"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    frequency = models.CharField(max_length=20, choices=Frequency.choices)
    # The window is (window_start, window_end]; the next digest starts where this one ended.
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CLAIMED)
    new_count = models.PositiveIntegerField(default=0)
    resolved_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Why a failed digest was refused: the server's reply, for the operator.
    failure = models.TextField(blank=True)

    class Meta:
        ordering = ["-window_end", "-pk"]
        constraints = [
            # The claim: two runs of the same digest start from the same previous window end.
            models.UniqueConstraint(
                fields=["user", "frequency", "window_start"], name="notif_digest_claim"
            )
        ]
        indexes = [
            models.Index(fields=["user", "frequency", "-window_end"], name="notif_digest_last_idx")
        ]

    def __str__(self) -> str:
        return f"{self.frequency} digest of user {self.user_id} to {self.window_end:%Y-%m-%d %H:%M}"


class SyncHealthVisit(models.Model):
    """When a user last opened an integration's sync health page: errors first seen after it
    are "new" to them on the admin index and in the bell."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(
        "syncengine.Integration", on_delete=models.CASCADE, related_name="+"
    )
    seen_at = models.DateTimeField()

    class Meta:
        # Bookkeeping written only by the health page's hook: no one adds or edits it by hand,
        # so it has no permissions for the roles to hold.
        default_permissions = ()
        constraints = [
            # Also the index of the only query: the visits of one user.
            models.UniqueConstraint(
                fields=["user", "integration"], name="notif_health_visit_unique"
            )
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} saw integration {self.integration_id} at {self.seen_at}"
