"""CRM core: object types, their typed properties, records, associations and the audit log."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KeyTransform

NAME_VALIDATOR = RegexValidator(
    r"^[a-z][a-z0-9_]{0,99}$",
    "Use lowercase letters, digits and underscores, starting with a letter.",
)


# Built-in properties that identify records (contacts are upserted by email, products by SKU):
# callers rely on no two active records sharing a value, so these cannot stop being unique.
IDENTITY_PROPERTIES = frozenset({("contacts", "email"), ("products", "sku")})


class ObjectType(models.Model):
    """A kind of CRM record: a standard one (contacts, companies, …) or a custom one."""

    name = models.CharField(
        max_length=100,
        unique=True,
        validators=[NAME_VALIDATOR],
        help_text="Internal name used in the API, e.g. contacts.",
    )
    label_singular = models.CharField(max_length=100)
    label_plural = models.CharField(max_length=100)
    is_custom = models.BooleanField(default=True, editable=False)
    primary_property = models.CharField(
        max_length=100,
        blank=True,
        help_text="Property shown as the record's name, e.g. email for contacts.",
    )
    list_properties = models.JSONField(
        default=list,
        blank=True,
        help_text="Properties shown as columns in the admin record list, in order.",
    )
    search_properties = models.JSONField(
        default=list,
        blank=True,
        help_text="Properties the admin search box matches (emails exactly, others by prefix).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["is_custom", "label_plural"]

    def __str__(self) -> str:
        return self.label_plural


class Property(models.Model):
    """A typed property definition of an object type; values live in Record.properties."""

    class Type(models.TextChoices):
        TEXT = "text", "Single-line text"
        TEXTAREA = "textarea", "Multi-line text"
        NUMBER = "number", "Number"
        BOOLEAN = "boolean", "Boolean"
        DATE = "date", "Date"
        DATETIME = "datetime", "Date and time"
        ENUMERATION = "enumeration", "Dropdown select"
        MULTISELECT = "multiselect", "Multiple checkboxes"
        EMAIL = "email", "Email"
        PHONE = "phone", "Phone number"
        URL = "url", "URL"
        PROPERTY_SYNC = "property_sync", "Property sync"
        OWNER = "owner", "Owner"

    OPTION_TYPES = frozenset({Type.ENUMERATION, Type.MULTISELECT})

    object_type = models.ForeignKey(
        ObjectType, on_delete=models.CASCADE, related_name="property_definitions"
    )
    name = models.CharField(
        max_length=100,
        validators=[NAME_VALIDATOR],
        help_text="Internal name, used in the API and in backups.",
    )
    label = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    group = models.CharField(max_length=100, default="information")
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.TEXT)
    display_order = models.IntegerField(default=0)
    is_builtin = models.BooleanField(
        default=False, editable=False, help_text="Created with the object type; cannot be deleted."
    )
    unique = models.BooleanField(
        default=False, help_text="No two active records may share a value; usable as upsert key."
    )
    sensitive = models.BooleanField(
        default=False, help_text="Holds sensitive data: shown only to users allowed to see it."
    )
    read_only = models.BooleanField(
        default=False, help_text="Users and the API cannot write it; only Concord itself does."
    )
    restricted = models.BooleanField(
        default=False, help_text="Only the chosen users and groups may view or edit it."
    )
    restricted_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+"
    )
    restricted_groups = models.ManyToManyField(Group, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["object_type", "group", "display_order", "name"]
        verbose_name_plural = "properties"
        constraints = [
            models.UniqueConstraint(
                fields=["object_type", "name"], name="crm_property_unique_name"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.object_type.name}.{self.name}"

    @property
    def has_options(self) -> bool:
        return self.type in self.OPTION_TYPES

    @property
    def is_sync(self) -> bool:
        return self.type == self.Type.PROPERTY_SYNC

    @property
    def is_identity(self) -> bool:
        """A built-in property that identifies records; it always stays unique."""
        return self.is_builtin and (self.object_type.name, self.name) in IDENTITY_PROPERTIES


class PropertyOption(models.Model):
    """One allowed value of an enumeration or multi-select property."""

    property = models.ForeignKey(Property, on_delete=models.CASCADE, related_name="options")
    value = models.CharField(max_length=200)
    label = models.CharField(max_length=200)
    display_order = models.IntegerField(default=0)
    hidden = models.BooleanField(default=False, help_text="Kept for old values; not offered.")

    class Meta:
        ordering = ["display_order", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["property", "value"], name="crm_propertyoption_unique_value"
            ),
        ]

    def __str__(self) -> str:
        return self.label


class Owner(models.Model):
    """A person records are assigned to (HubSpot's contact owner, Salesforce's OwnerId).

    A record's `owner` property holds the owner's id (an integer). An owner need not log in to
    Concord; one who does is linked to their user, so "my records" can be asked for."""

    name = models.CharField(max_length=200)
    # Stored lower-cased: owners are matched by email (Salesforce users, imports).
    email = models.EmailField(unique=True)
    is_active = models.BooleanField(
        default=True, help_text="Inactive owners keep their records but get no new ones."
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="crm_owner",
        help_text="The Concord login of this owner, if they have one.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "email"]

    def __str__(self) -> str:
        return self.name or self.email


class Record(models.Model):
    """A CRM record: property values as JSON, with per-property last change time and source."""

    object_type = models.ForeignKey(ObjectType, on_delete=models.PROTECT, related_name="records")
    properties = models.JSONField(default=dict, blank=True)
    # {property name: {"at": ISO time, "source": "api" | "integration:3" | …}}
    property_changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(db_index=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # Set on a record archived by a merge: the record it was merged into (the winner).
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            # The active-records list of one object type, newest first: the hot path of the
            # admin changelist and the API.
            models.Index(
                fields=["object_type", "-id"],
                condition=Q(archived_at__isnull=True),
                name="crm_record_active_idx",
            ),
            models.Index(
                fields=["object_type", "archived_at"],
                condition=Q(archived_at__isnull=False),
                name="crm_record_archived_idx",
            ),
            # Lookups by email (search, upsert by email, the API filter) must not scan.
            models.Index(
                KeyTransform("email", "properties"), "object_type", name="crm_record_email_idx"
            ),
        ]
        permissions = [("view_sensitive_values", "Can view and edit sensitive property values")]

    def __str__(self) -> str:
        name = self.display_name
        return name or f"{self.object_type.label_singular} #{self.pk}"

    @property
    def display_name(self) -> str:
        return display_name(self.object_type, self.properties)


def display_name(object_type: ObjectType, properties: dict | None) -> str:
    """How a record is named to people: a contact's full name, else its primary property."""
    values = properties or {}
    if object_type.name == "contacts":
        full = " ".join(filter(None, [values.get("firstname"), values.get("lastname")]))
        if full:
            return full
    value = values.get(object_type.primary_property) if object_type.primary_property else None
    return str(value) if value not in (None, "") else ""


class ArchivedRecord(Record):
    """Records in the recycle bin (an admin view of Record)."""

    class Meta:
        proxy = True
        verbose_name = "recycle bin record"
        verbose_name_plural = "recycle bin"


class AssociationDefinition(models.Model):
    """A kind of link between two object types, optionally labelled (e.g. "Primary")."""

    from_object_type = models.ForeignKey(ObjectType, on_delete=models.CASCADE, related_name="+")
    to_object_type = models.ForeignKey(ObjectType, on_delete=models.CASCADE, related_name="+")
    label = models.CharField(
        max_length=100, blank=True, help_text="Blank for the unlabelled association."
    )
    from_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="How many records of the target type one source record may have (blank: any).",
    )
    to_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="How many source records one target record may have (blank: any).",
    )

    class Meta:
        ordering = ["from_object_type", "to_object_type", "label"]
        constraints = [
            models.UniqueConstraint(
                fields=["from_object_type", "to_object_type", "label"],
                name="crm_assocdef_unique_label",
            ),
        ]

    def __str__(self) -> str:
        label = f" ({self.label})" if self.label else ""
        return f"{self.from_object_type.name} → {self.to_object_type.name}{label}"


class Association(models.Model):
    """A labelled link from one record to another."""

    definition = models.ForeignKey(
        AssociationDefinition, on_delete=models.CASCADE, related_name="associations"
    )
    from_record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+")
    to_record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["definition", "from_record", "to_record"], name="crm_association_unique"
            ),
        ]
        indexes = [models.Index(fields=["to_record", "definition"], name="crm_assoc_to_idx")]

    def __str__(self) -> str:
        return f"{self.from_record_id} → {self.to_record_id} ({self.definition})"


class AuditEvent(models.Model):
    """Who changed what: a user, the API, an integration, a restore or a sync property."""

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=100)
    verb = models.CharField(max_length=50)
    object_type = models.ForeignKey(
        ObjectType, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    target_id = models.BigIntegerField(null=True, blank=True)
    target_repr = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "target_id", "-at"], name="crm_audit_target_idx")
        ]

    def __str__(self) -> str:
        return f"{self.verb} {self.target_repr or self.target_id} by {self.source}"


class SyncPropertyConfig(models.Model):
    """How a "property sync" property copies a source property of associated records (SPEC P).

    It also holds the progress of the backfill that fills every existing target record.
    """

    class Criterion(models.TextChoices):
        FIRST_CREATED = "first_created", "First created (oldest associated record)"
        LAST_CREATED = "last_created", "Last created (newest associated record)"

    class BackfillStatus(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    property = models.OneToOneField(Property, on_delete=models.CASCADE, related_name="sync_config")
    source_object_type = models.ForeignKey(ObjectType, on_delete=models.CASCADE, related_name="+")
    # PROTECT: a property that a sync property reads cannot disappear under it.
    source_property = models.ForeignKey(
        Property, on_delete=models.PROTECT, related_name="sync_readers"
    )
    all_labels = models.BooleanField(
        default=True, help_text="Copy from an associated record of any association label."
    )
    definitions = models.ManyToManyField(
        AssociationDefinition,
        blank=True,
        related_name="+",
        help_text="Without 'all labels': only records associated with these labels count.",
    )
    criterion = models.CharField(
        max_length=20, choices=Criterion.choices, default=Criterion.FIRST_CREATED
    )
    backfill_status = models.CharField(
        max_length=10, choices=BackfillStatus.choices, default=BackfillStatus.PENDING
    )
    backfill_total = models.PositiveIntegerField(default=0)
    backfill_done = models.PositiveIntegerField(default=0)
    # The last target id backfilled: a backfill interrupted by a lost worker resumes after it.
    backfill_cursor = models.BigIntegerField(default=0)
    backfill_error = models.TextField(blank=True)
    backfill_started_at = models.DateTimeField(null=True, blank=True)
    backfill_updated_at = models.DateTimeField(null=True, blank=True)
    backfill_finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "sync property configuration"

    def __str__(self) -> str:
        return f"{self.property} ← {self.source_property}"


class SyncPropertyPending(models.Model):
    """A recompute waiting for a worker, written in the transaction of the change that needs it.

    `record_id` is a target record, or with `via_source` a source record whose targets are found
    when the work is claimed (one row per changed source, however many targets it fans out to).
    """

    config = models.ForeignKey(SyncPropertyConfig, on_delete=models.CASCADE, related_name="+")
    record_id = models.BigIntegerField()
    via_source = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "pending sync property recompute"

    def __str__(self) -> str:
        kind = "targets of source" if self.via_source else "target"
        return f"recompute {kind} {self.record_id} for sync property config {self.config_id}"


class SavedView(models.Model):
    """A named, filtered record list of one object type, saved by a staff user (SPEC T-2).

    `query` is the record list's filter as a query string (`p_industry=REAL_ESTATE&q=ann`),
    checked by crm.services.saved_views when saved; reopening the view opens the list with it.
    """

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    object_type = models.ForeignKey(ObjectType, on_delete=models.CASCADE, related_name="+")
    query = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["object_type", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "object_type", "name"], name="crm_savedview_unique_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name
