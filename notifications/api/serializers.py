from __future__ import annotations

import zoneinfo
from functools import lru_cache

from rest_framework import serializers

from config.fields import IdField
from notifications.models import Frequency, Notification, NotificationSetting
from syncengine.models import Integration


class NotificationSerializer(serializers.ModelSerializer):
    is_read = serializers.BooleanField(read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "link", "created_at", "read_at", "is_read"]
        read_only_fields = fields


class MarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=IdField(),
        required=False,
        help_text="Notifications to mark read; all unread ones when left out.",
    )


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField()


class IntegrationSettingSerializer(serializers.Serializer):
    integration = serializers.PrimaryKeyRelatedField(queryset=Integration.objects.all())
    enabled = serializers.BooleanField(default=True)
    frequency = serializers.ChoiceField(choices=Frequency.choices, default=Frequency.DAILY)

    def validate(self, attrs: dict) -> dict:
        # A PATCH is partial all the way down, so DRF neither requires `integration` nor fills
        # the defaults in an item; but an item replaces a whole override and needs them.
        if "integration" not in attrs:
            raise serializers.ValidationError({"integration": ["This field is required."]})
        return {"enabled": True, "frequency": Frequency.DAILY, **attrs}


class NotificationSettingSerializer(serializers.ModelSerializer):
    """The requesting user's settings; `integrations` overrides "all" for those integrations."""

    # Write-only here: to_representation lists them (an unsaved default row has none).
    integrations = IntegrationSettingSerializer(many=True, required=False, write_only=True)
    time_zone = serializers.CharField(max_length=64, required=False)
    # null until the user first saves settings (the defaults are shown unsaved).
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = NotificationSetting
        fields = [
            "sync_errors_enabled",
            "sync_errors_frequency",
            "integrations",
            "backup_ready_enabled",
            "restore_done_enabled",
            "time_zone",
            "daily_hour",
            "weekly_day",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]

    def validate_time_zone(self, value: str) -> str:
        if value not in available_time_zones():
            raise serializers.ValidationError(f'"{value}" is not a known time zone.')
        return value

    def validate_integrations(self, value: list[dict]) -> list[dict]:
        ids = [item["integration"].pk for item in value]
        if len(ids) != len(set(ids)):
            raise serializers.ValidationError("Each integration may be listed once.")
        return value

    def to_representation(self, instance):
        data = super().to_representation(instance)
        overrides = instance.integrations.all() if instance.pk else []
        data["integrations"] = [
            {"integration": o.integration_id, "enabled": o.enabled, "frequency": o.frequency}
            for o in overrides
        ]
        return data


@lru_cache(maxsize=1)
def available_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())
