"""Sync engine: integrations, mappings, record links, cycles and stages, errors, API usage."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings as django_settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


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


class ObjectMapping(models.Model):
    """A CRM object type synced with a remote object, with its pull watermark."""

    class Direction(models.TextChoices):
        TWO_WAY = "two_way", "Two-way"
        TO_REMOTE = "to_remote", "Concord to remote only"
        FROM_REMOTE = "from_remote", "Remote to Concord only"

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="object_mappings"
    )
    object_type = models.ForeignKey("crm.ObjectType", on_delete=models.CASCADE, related_name="+")
    remote_object = models.CharField(max_length=100)
    direction = models.CharField(
        max_length=20, choices=Direction.choices, default=Direction.TWO_WAY
    )
    enabled = models.BooleanField(default=True)
    # Dependency order: parents (accounts) sync before children (contacts, opportunities).
    sync_order = models.PositiveIntegerField(default=100)
    watermark = models.DateTimeField(
        null=True, blank=True, help_text="SystemModstamp of the newest remote change pulled."
    )
    delete_watermark = models.DateTimeField(null=True, blank=True)
    # Where an incremental pull resumes for remotes that hand out a cursor (Google's sync
    # token) instead of filtering on a timestamp.
    pull_cursor = models.TextField(blank=True, default="")
    # Reconciliation (engine/reconcile.py): when the ids were last compared with the remote's,
    # and up to when the remote's delete log (Salesforce getDeleted) was last read.
    reconciled_at = models.DateTimeField(null=True, blank=True)
    delete_log_until = models.DateTimeField(null=True, blank=True)
    remote_schema = models.JSONField(
        default=dict, blank=True, help_text="The remote fields as last described."
    )
    schema_checked_at = models.DateTimeField(null=True, blank=True)
    # The mass-delete guard (SPEC L-5): a stage's deletes above max(share x linked records,
    # minimum) are held for an admin's confirmation.
    mass_delete_share = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.10"),
        validators=[MinValueValidator(Decimal("0.0001")), MaxValueValidator(Decimal("1"))],
        help_text="Share of the linked records a stage may delete without confirmation.",
    )
    mass_delete_minimum = models.PositiveIntegerField(
        default=500, help_text="Deletes a stage may always apply without confirmation."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class PullDeleteRule(models.TextChoices):
        ARCHIVE = "archive", "Archive the Concord record"
        IGNORE = "ignore", "Leave the Concord record alone"

    class PushDeleteRule(models.TextChoices):
        IGNORE = "ignore", "Leave the remote record alone"
        DELETE = "delete", "Delete the remote record"

    # What a delete on one side does on the other (SPEC L-1); pushing deletes is opt-in.
    pull_delete_rule = models.CharField(
        max_length=10,
        choices=PullDeleteRule.choices,
        default=PullDeleteRule.ARCHIVE,
        help_text="When the remote deletes a record.",
    )
    push_delete_rule = models.CharField(
        max_length=10,
        choices=PushDeleteRule.choices,
        default=PushDeleteRule.IGNORE,
        help_text="When Concord archives a record.",
    )

    class Meta:
        ordering = ["integration", "sync_order", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "object_type", "remote_object"],
                name="syncengine_objectmapping_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.object_type.name} ↔ {self.remote_object}"


class SyncRule(models.TextChoices):
    PREFER_REMOTE_UNLESS_BLANK = "prefer_remote_unless_blank", "Prefer Salesforce unless blank"
    ALWAYS_REMOTE = "always_remote", "Always use Salesforce"
    TWO_WAY = "two_way", "Two-way"
    ALWAYS_CONCORD = "always_concord", "Always use Concord"
    DONT_SYNC = "dont_sync", "Don't sync"


class FieldMapping(models.Model):
    """A property ↔ remote field pair of an object mapping, with its sync rule."""

    object_mapping = models.ForeignKey(
        ObjectMapping, on_delete=models.CASCADE, related_name="field_mappings"
    )
    property = models.ForeignKey("crm.Property", on_delete=models.CASCADE, related_name="+")
    remote_field = models.CharField(max_length=100)
    rule = models.CharField(max_length=30, choices=SyncRule.choices, default=SyncRule.TWO_WAY)
    is_default = models.BooleanField(default=False, help_text="Created with the integration.")
    # Concord option value → remote picklist value, for enumerations whose values differ.
    value_map = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["object_mapping", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["object_mapping", "remote_field"], name="syncengine_fieldmapping_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.property.name} ↔ {self.remote_field} ({self.get_rule_display()})"


class ReferenceMapping(models.Model):
    """An association ↔ remote reference field, e.g. contact's primary company ↔ AccountId."""

    object_mapping = models.ForeignKey(
        ObjectMapping, on_delete=models.CASCADE, related_name="reference_mappings"
    )
    remote_field = models.CharField(max_length=100)
    definition = models.ForeignKey(
        "crm.AssociationDefinition", on_delete=models.CASCADE, related_name="+"
    )
    target = models.ForeignKey(ObjectMapping, on_delete=models.CASCADE, related_name="+")
    rule = models.CharField(max_length=30, choices=SyncRule.choices, default=SyncRule.TWO_WAY)
    # Junction references (contact roles): the newest stamp of the junction records read, so a
    # cycle reads only those changed or deleted since (None: read them all).
    junction_watermark = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["object_mapping", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["object_mapping", "remote_field"], name="syncengine_refmapping_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.definition} ↔ {self.object_mapping.remote_object}.{self.remote_field}"


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
