"""Serializers of the sync engine API: shape and validate; services enforce the rules."""

from __future__ import annotations

from rest_framework import serializers

from config.fields import IdField
from syncengine.models import (
    FieldMapping,
    Integration,
    ObjectMapping,
    ReferenceMapping,
    SyncRule,
    SyncStage,
)
from syncengine.services.integrations import settings_errors

# Integration.api_allocation is a PositiveIntegerField: PostgreSQL holds 2**31 - 1 at most.
MAX_API_ALLOCATION = 2**31 - 1


class IntegrationSerializer(serializers.ModelSerializer):
    # Blank until connected: not a URI then, so not declared as one.
    instance_url = serializers.CharField(read_only=True)

    class Meta:
        model = Integration
        fields = [
            "id",
            "kind",
            "name",
            "status",
            "instance_url",
            "remote_org_id",
            "settings",
            "api_allocation",
            "api_limit",
            "connected_at",
            "last_error",
        ]
        read_only_fields = [
            "kind",
            "status",
            "instance_url",
            "remote_org_id",
            "api_limit",
            "connected_at",
            "last_error",
        ]
        # SQLite would hold more: the same bound on both, so a value is refused the same way.
        extra_kwargs = {"api_allocation": {"max_value": MAX_API_ALLOCATION}}

    def validate_settings(self, value):
        kind = self.instance.kind if self.instance else Integration.Kind.SALESFORCE
        errors = settings_errors(kind=kind, patch=value)
        if errors:
            raise serializers.ValidationError(errors)
        return value


class ApiUsageSerializer(serializers.Serializer):
    used_24h = serializers.IntegerField(read_only=True)
    limit = serializers.IntegerField(read_only=True, allow_null=True)
    allocated = serializers.IntegerField(allow_null=True, min_value=0, max_value=MAX_API_ALLOCATION)
    org_used = serializers.IntegerField(read_only=True, allow_null=True)
    limit_seen_at = serializers.DateTimeField(read_only=True, allow_null=True)
    used_last_minute = serializers.IntegerField(read_only=True, allow_null=True)
    per_minute_quota = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Google only: requests allowed per minute."
    )


class FieldMappingSerializer(serializers.ModelSerializer):
    property = serializers.CharField(source="property.name", read_only=True)
    property_type = serializers.CharField(source="property.type", read_only=True)

    class Meta:
        model = FieldMapping
        fields = [
            "id",
            "property",
            "property_type",
            "remote_field",
            "rule",
            "is_default",
            "value_map",
        ]
        read_only_fields = ["is_default"]


class ReferenceMappingSerializer(serializers.ModelSerializer):
    association = serializers.CharField(source="definition.__str__", read_only=True)
    target = serializers.CharField(source="target.remote_object", read_only=True)

    class Meta:
        model = ReferenceMapping
        fields = ["id", "remote_field", "association", "target", "rule"]


class ObjectMappingSerializer(serializers.ModelSerializer):
    object_type = serializers.CharField(source="object_type.name", read_only=True)
    field_mappings = FieldMappingSerializer(many=True, read_only=True)
    reference_mappings = ReferenceMappingSerializer(many=True, read_only=True)

    class Meta:
        model = ObjectMapping
        fields = [
            "id",
            "object_type",
            "remote_object",
            "direction",
            "enabled",
            "sync_order",
            "pull_delete_rule",
            "push_delete_rule",
            "watermark",
            "field_mappings",
            "reference_mappings",
        ]


class FieldMappingWriteSerializer(serializers.Serializer):
    object_mapping = IdField()
    property = serializers.CharField()
    remote_field = serializers.CharField(max_length=100)
    rule = serializers.ChoiceField(choices=SyncRule.choices, default=SyncRule.TWO_WAY)
    value_map = serializers.DictField(child=serializers.CharField(), required=False)


class FieldMappingRuleSerializer(serializers.Serializer):
    id = IdField()
    rule = serializers.ChoiceField(choices=SyncRule.choices)


class DeleteRulesSerializer(serializers.Serializer):
    """New delete rules of one object mapping (SPEC L-1)."""

    id = IdField()
    pull_delete_rule = serializers.ChoiceField(
        choices=ObjectMapping.PullDeleteRule.choices, required=False
    )
    push_delete_rule = serializers.ChoiceField(
        choices=ObjectMapping.PushDeleteRule.choices, required=False
    )
    confirm_deletes = serializers.BooleanField(
        required=False,
        default=False,
        help_text='Required (true) to turn on "push_delete_rule": "delete".',
    )


class FieldMappingRulesSerializer(serializers.Serializer):
    """The body of a mappings PATCH: new rules for some field mappings and delete rules of
    some object mappings, all or none."""

    field_mappings = FieldMappingRuleSerializer(many=True, required=False)
    object_mappings = DeleteRulesSerializer(many=True, required=False)

    def validate(self, attrs):
        if "field_mappings" not in attrs and "object_mappings" not in attrs:
            raise serializers.ValidationError(
                {"field_mappings": ["This field is required (or object_mappings)."]}
            )
        return attrs


class SyncStartedSerializer(serializers.Serializer):
    cycle = serializers.IntegerField(help_text="The cycle's id.")
    status = serializers.CharField(help_text="queued or running.")
    created = serializers.BooleanField(help_text="False: a cycle was already queued or running.")


class SyncStageSerializer(serializers.ModelSerializer):
    # null: stages of the whole cycle (e.g. the schema sync) have no object type.
    object_type = serializers.CharField(
        source="object_type.name", default=None, read_only=True, allow_null=True
    )
    operation_label = serializers.CharField(source="get_operation_display", read_only=True)
    status_label = serializers.CharField(
        source="outcome_label",
        read_only=True,
        help_text='The status in words; a stage with failed records reads "Completed with N '
        'failed", never just "Success".',
    )

    class Meta:
        model = SyncStage
        fields = [
            "id",
            "integration",
            "cycle",
            "object_type",
            "remote_object",
            "operation",
            "operation_label",
            "status",
            "status_label",
            "started_at",
            "ended_at",
            "new",
            "updated",
            "deleted",
            "failed",
            "skipped",
            "api_calls",
            "message",
        ]


class GoogleSyncOptionsSerializer(serializers.Serializer):
    sync_rule = serializers.ChoiceField(choices=["two_way", "to_google", "from_google", "filters"])
    filters = serializers.ListField(
        child=serializers.ChoiceField(choices=["my_contacts", "starred"]),
        required=False,
    )
    conflict_winner = serializers.ChoiceField(choices=["concord", "google"], required=False)
