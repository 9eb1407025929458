"""What syncs: object, field and reference mappings between Concord and a remote system."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from syncengine.models.integrations import Integration


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
    # Echo-free pulls (engine/echoes.py): the spans, in the remote's clock, in which Concord
    # created records of this object ([[created from, last written until], …], ISO times);
    # records it created then and nobody changed since are not read back.
    own_writes = models.JSONField(default=list, blank=True)
    reread_own_writes = models.BooleanField(
        "Read Concord's own writes back",
        default=False,
        help_text="Pulls read back the records Concord created. Turn on when the remote's "
        "automation (Salesforce flows, triggers, workflow field updates) changes the records "
        "Concord creates, acting as Concord's user.",
    )
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
