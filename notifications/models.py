"""In-app notifications: a message for one user, with an optional link, read or not."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Notification(models.Model):
    """One in-app message to one user (backup ready, restore done, …)."""

    class Kind(models.TextChoices):
        BACKUP_READY = "backup_ready", "Backup ready"
        BACKUP_FAILED = "backup_failed", "Backup failed"
        RESTORE_DONE = "restore_done", "Restore done"
        RESTORE_FAILED = "restore_failed", "Restore failed"

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
