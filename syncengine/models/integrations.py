"""Integrations (a connected Salesforce org or Google account) and their API usage."""

from __future__ import annotations

from django.conf import settings as django_settings
from django.db import models


class Integration(models.Model):
    """A connection to a remote system (a Salesforce org or a Google account)."""

    class Kind(models.TextChoices):
        SALESFORCE = "salesforce", "Salesforce"
        GOOGLE_CONTACTS = "google_contacts", "Google Contacts"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        NEEDS_RECONNECT = "needs_reconnect", "Needs reconnection"
        DISCONNECTED = "disconnected", "Disconnected"

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SALESFORCE)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    instance_url = models.URLField(max_length=300, blank=True)
    login_url = models.URLField(
        max_length=300, blank=True, help_text="Where OAuth tokens are issued and refreshed."
    )
    client_id = models.CharField(max_length=300, blank=True)
    client_secret_encrypted = models.TextField(blank=True, editable=False)
    access_token_encrypted = models.TextField(blank=True, editable=False)
    refresh_token_encrypted = models.TextField(blank=True, editable=False)
    ca_file = models.CharField(
        max_length=500,
        blank=True,
        help_text="CA certificate to trust for this org (the local sandbox); blank: system CAs.",
    )
    remote_org_id = models.CharField(max_length=40, blank=True)
    remote_user_id = models.CharField(max_length=40, blank=True)
    settings = models.JSONField(
        default=dict,
        blank=True,
        help_text='Engine settings, e.g. {"sync_interval_minutes": 5, "api_version": "62.0"}.',
    )
    api_allocation = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Salesforce API calls Concord may use per rolling 24 hours (blank: no cap "
        "beyond the org's own limit).",
    )
    api_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="The org's daily API limit as Salesforce last reported."
    )
    api_org_used = models.PositiveIntegerField(null=True, blank=True)
    api_limit_seen_at = models.DateTimeField(null=True, blank=True)
    connected_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    connected_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]
        # CRUD permissions do not say "push now": starting cycles and resyncing errors is its own.
        permissions = [("start_sync", "Can start sync cycles and resync errors now")]

    def __str__(self) -> str:
        return self.name

    @property
    def sync_interval_minutes(self) -> int:
        return int((self.settings or {}).get("sync_interval_minutes", 5))

    @property
    def api_version(self) -> str:
        return str((self.settings or {}).get("api_version", "62.0"))


class ApiCallBucket(models.Model):
    """Remote API calls an integration made in one minute (for the rolling 24-hour budget)."""

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="api_buckets"
    )
    minute = models.DateTimeField()
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-minute"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "minute"], name="syncengine_apibucket_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.integration_id} {self.minute:%Y-%m-%d %H:%M}: {self.calls}"
