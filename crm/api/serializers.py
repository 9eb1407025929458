"""Shapes of the CRM API. Serializers shape and check the request; services enforce rules."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.fields import IdField
from crm.models import (
    Association,
    AssociationDefinition,
    AuditEvent,
    ObjectType,
    Owner,
    Property,
    SavedView,
    SyncPropertyConfig,
)
from crm.services.merge import MAX_LOSERS


class ObjectTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ObjectType
        fields = [
            "name",
            "label_singular",
            "label_plural",
            "is_custom",
            "primary_property",
            "created_at",
        ]
        read_only_fields = ["is_custom", "primary_property", "created_at"]
        extra_kwargs = {"name": {"validators": []}}


class OptionSerializer(serializers.Serializer):
    value = serializers.CharField(max_length=200)
    label = serializers.CharField(max_length=200, required=False, allow_blank=True)
    hidden = serializers.BooleanField(required=False, default=False)


class BackfillSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=SyncPropertyConfig.BackfillStatus.choices)
    total = serializers.IntegerField(help_text="Target records when the backfill started.")
    done = serializers.IntegerField(help_text="Target records recomputed so far.")
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_blank=True)


class SyncSettingsSerializer(serializers.Serializer):
    """Where a "property sync" property copies its value from."""

    source_object_type = serializers.CharField(help_text="e.g. companies")
    source_property = serializers.CharField(help_text="A property of the source object type.")
    association_labels = serializers.JSONField(
        required=False,
        help_text='"all" (default: an associated record of any label) or a list of labels, '
        'e.g. ["Primary"] ("" is the unlabelled association).',
    )
    definitions = serializers.ListField(
        child=IdField(),
        required=False,
        help_text="Instead of labels: the ids of the association definitions to copy through.",
    )
    criterion = serializers.ChoiceField(
        choices=SyncPropertyConfig.Criterion.choices,
        required=False,
        default=SyncPropertyConfig.Criterion.FIRST_CREATED,
        help_text="Which associated record wins when several qualify, by its creation time.",
    )
    backfill = BackfillSerializer(read_only=True)

    def to_representation(self, config: SyncPropertyConfig):
        definitions = list(config.definitions.all())
        return {
            "source_object_type": config.source_object_type.name,
            "source_property": config.source_property.name,
            "association_labels": "all"
            if config.all_labels
            else list(dict.fromkeys(d.label for d in definitions)),
            "definitions": [d.pk for d in definitions],
            "criterion": config.criterion,
            "backfill": {
                "status": config.backfill_status,
                "total": config.backfill_total,
                "done": config.backfill_done,
                "started_at": config.backfill_started_at,
                "finished_at": config.backfill_finished_at,
                "error": config.backfill_error,
            },
        }


class PropertyUsageSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="sync_property, field_mapping, saved_view, …")
    label = serializers.CharField(
        help_text="What a person reads. Other users' saved views are not named but counted, "
        "in one entry per kind, e.g. “2 saved views of other users” (with no url)."
    )
    url = serializers.CharField(help_text="Where to see it in the admin, if anywhere.")


class PropertyUsageListSerializer(serializers.Serializer):
    property = serializers.CharField()
    used_in = PropertyUsageSerializer(many=True)


class PropertySerializer(serializers.ModelSerializer):
    options = OptionSerializer(many=True, required=False)
    object_type = serializers.SlugRelatedField(slug_field="name", read_only=True)
    sync = SyncSettingsSerializer(
        source="sync_config",
        required=False,
        allow_null=True,
        help_text='For type "property_sync": what to copy and the backfill\'s progress.',
    )
    replace_with = serializers.DictField(
        child=serializers.CharField(max_length=200, allow_null=True),
        required=False,
        write_only=True,
        help_text="With new `options` that drop some: for each dropped option that records "
        'still hold, the kept option they move to (null clears it), e.g. {"lead": '
        '"subscriber"}. Without it, dropping an option in use is refused with the number of '
        "records holding it.",
    )

    class Meta:
        model = Property
        fields = [
            "name",
            "label",
            "description",
            "group",
            "type",
            "options",
            "replace_with",
            "sync",
            "display_order",
            "unique",
            "sensitive",
            "read_only",
            "restricted",
            "is_builtin",
            "object_type",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["is_builtin", "created_at", "updated_at"]
        # Uniqueness and names are the service's to check, with its own messages.
        extra_kwargs = {"name": {"validators": []}}

    def validate_replace_with(self, value):
        if self.instance is None:
            raise serializers.ValidationError("a new property has no options to replace")
        return value

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not instance.has_options:
            data["options"] = []
        return data


class RecordSerializer(serializers.Serializer):
    """A record with the property values the requesting user may see."""

    id = serializers.IntegerField(read_only=True)
    object_type = serializers.CharField(source="object_type.name", read_only=True)
    properties = serializers.DictField(
        help_text='Property values by internal name. On writes, null or "" clears a value.'
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    archived = serializers.SerializerMethodField()
    merged_into = serializers.IntegerField(
        source="merged_into_id",
        read_only=True,
        allow_null=True,
        help_text="For a record archived by a merge: the id of the record it was merged into.",
    )

    @extend_schema_field(serializers.BooleanField())
    def get_archived(self, record) -> bool:
        return record.archived_at is not None

    def to_representation(self, record):
        data = super().to_representation(record)
        # The view's: the properties the caller may see, of those it asked for.
        shown = self.context["shown_names"]
        data["properties"] = {
            name: value for name, value in record.properties.items() if name in shown
        }
        return data


class MergeRequestSerializer(serializers.Serializer):
    winner = IdField(help_text="The record that stays.")
    losers = serializers.ListField(
        child=IdField(),
        min_length=1,
        max_length=MAX_LOSERS,
        help_text=f"The records merged into the winner (1 to {MAX_LOSERS}); their empty-value "
        "fills are taken in this order. They go to the recycle bin with `merged_into` set.",
    )
    fill_blanks = serializers.BooleanField(
        default=True,
        help_text="Fill the winner's empty values from the losers. False keeps it as it is.",
    )


class BatchInputSerializer(serializers.Serializer):
    id = IdField(required=False)
    properties = serializers.DictField()


class BatchRequestSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["create", "update", "upsert"])
    id_property = serializers.CharField(
        required=False,
        help_text="For upserts: the unique property that matches records "
        "(e.g. email). Without it, inputs with an id update and the others create.",
    )
    all_or_none = serializers.BooleanField(
        default=True, help_text="If true, one invalid input refuses the whole batch."
    )
    inputs = BatchInputSerializer(many=True)

    def validate_inputs(self, inputs):
        limit = settings.CONCORD_BATCH_MAX_INPUTS
        if not inputs:
            raise serializers.ValidationError("at least one input is required")
        if len(inputs) > limit:
            raise serializers.ValidationError(
                f"{len(inputs)} inputs; a batch takes at most {limit}"
            )
        return inputs


class BatchResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    id = serializers.IntegerField(allow_null=True)
    action = serializers.ChoiceField(choices=["created", "updated", "unchanged"], allow_null=True)
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class BatchResponseSerializer(serializers.Serializer):
    results = BatchResultSerializer(many=True)
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    failed = serializers.IntegerField()


class AssociationDefinitionSerializer(serializers.ModelSerializer):
    from_object_type = serializers.SlugRelatedField(slug_field="name", read_only=True)
    to_object_type = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = AssociationDefinition
        fields = ["id", "from_object_type", "to_object_type", "label", "from_limit", "to_limit"]


class AssociationSerializer(serializers.ModelSerializer):
    label = serializers.CharField(source="definition.label", read_only=True)
    from_object_type = serializers.CharField(
        source="definition.from_object_type.name", read_only=True
    )
    to_object_type = serializers.CharField(source="definition.to_object_type.name", read_only=True)

    class Meta:
        model = Association
        fields = [
            "id",
            "definition",
            "label",
            "from_record",
            "to_record",
            "from_object_type",
            "to_object_type",
            "created_at",
        ]
        read_only_fields = fields


class AssociationCreateSerializer(serializers.Serializer):
    from_record = IdField()
    to_record = IdField()
    definition = IdField(
        required=False,
        help_text="The association definition's id; or give `label` instead.",
    )
    label = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text='The label ("" for unlabelled); the definition is found by the records\' '
        "object types.",
    )


class AuditEventSerializer(serializers.ModelSerializer):
    # null: the system acted (a task, a sync), or the user was deleted since.
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    # null: events not about one object type (e.g. an integration's settings).
    object_type = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "actor",
            "source",
            "verb",
            "object_type",
            "target_id",
            "target_repr",
            "detail",
        ]


class SavedViewSerializer(serializers.ModelSerializer):
    """A user's named record list: an object type and the list's filter (SPEC T-2)."""

    object_type = serializers.SlugRelatedField(
        slug_field="name", queryset=ObjectType.objects.all(), help_text="e.g. contacts"
    )
    query = serializers.CharField(
        allow_blank=True,
        max_length=4000,
        help_text="The record list's filter as a query string: q, p_<dropdown property>, "
        "created_at__gte, created_at__lt, id__in, sync_error. Checked when saved.",
    )

    class Meta:
        model = SavedView
        fields = ["id", "name", "object_type", "query", "created_at"]
        read_only_fields = ["id", "created_at"]
        # The service says what a name needs (required, unique per user and object type).
        extra_kwargs = {"name": {"allow_blank": True}}


class OwnerSerializer(serializers.ModelSerializer):
    """A person records are assigned to; a record's `owner` property holds the owner's id."""

    user = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="The Concord login of this owner, if they have one.",
    )
    records_owned = serializers.SerializerMethodField(
        help_text="Active records of every object type whose owner this is."
    )

    class Meta:
        model = Owner
        fields = ["id", "name", "email", "is_active", "user", "records_owned", "created_at",
                  "updated_at"]  # fmt: skip
        read_only_fields = ["id", "user", "created_at", "updated_at"]
        # The service checks emails (normalised, unique) with its own messages.
        extra_kwargs = {"email": {"validators": []}, "name": {"allow_blank": True}}

    @extend_schema_field(serializers.IntegerField())
    def get_records_owned(self, owner) -> int:
        return self.context.get("records_owned", {}).get(owner.pk, 0)


class SavedViewRenameSerializer(serializers.Serializer):
    """A saved view's filter is fixed once saved (save another view for another filter)."""

    name = serializers.CharField(max_length=200, allow_blank=True)
