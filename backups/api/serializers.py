"""Backups API serializers: they shape and validate input; services enforce the rules."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from backups.models import Backup, BackupSchedule, Restore
from config.fields import IdField


class BackupSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField(
        help_text="A ready backup past expires_at is expired, whether or not its file is "
        "deleted yet."
    )
    # null: scheduled backups, and users deleted since.
    requested_by = serializers.CharField(
        source="requested_by.username", default=None, allow_null=True
    )
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Backup
        fields = [
            "id",
            "status",
            "kind",
            "requested_by",
            "created_at",
            "started_at",
            "snapshot_at",
            "finished_at",
            "expires_at",
            "size",
            "counts",
            "error",
            "download_url",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Backup.Status.choices))
    def get_status(self, obj) -> str:
        return obj.status_at(self._now)

    @property
    def _now(self):
        # One instant for a whole page, so status and download_url agree on every row.
        return self.context.setdefault("now", timezone.now())

    def get_download_url(self, obj) -> str | None:
        if obj.status_at(self._now) != Backup.Status.READY:
            return None
        return reverse("backup-download", args=[obj.pk], request=self.context.get("request"))


class BackupScheduleSerializer(serializers.ModelSerializer):
    next_backup_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = BackupSchedule
        fields = ["enabled", "frequency", "updated_at", "next_backup_at"]
        read_only_fields = ["updated_at", "next_backup_at"]


class RestoreCreateSerializer(serializers.Serializer):
    backup = IdField(help_text="Id of a ready backup.")
    object_type = serializers.CharField(help_text="Internal name, e.g. deals.")
    properties = serializers.ListField(
        child=serializers.CharField(), allow_empty=False, help_text="Internal property names."
    )


class RestoreSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)
    object_type = serializers.CharField(source="object_type.name")
    requested_by = serializers.CharField(
        source="requested_by.username", default=None, allow_null=True
    )
    # Blank until the restore is confirmed.
    verified_by = serializers.ChoiceField(
        choices=Restore.Verification.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = Restore
        fields = [
            "id",
            "name",
            "status",
            "backup",
            "object_type",
            "properties",
            "rollback_of",
            "plan",
            "requested_by",
            "verified_by",
            "created_at",
            "confirmed_at",
            "started_at",
            "finished_at",
            "updated_count",
            "unchanged_count",
            "missing_count",
            "failed_count",
            "errors",
            "error",
        ]
        read_only_fields = fields


class RestoreConfirmSerializer(serializers.Serializer):
    confirm_irreversible = serializers.BooleanField(
        default=False, help_text="Must be true: the data will change and this cannot be undone."
    )
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="A current code of your authenticator; not needed after an SSO sign-in.",
    )


class ImportSerializer(serializers.ModelSerializer):
    """A restore as it appears in the imports list."""

    name = serializers.CharField(read_only=True)
    kind = serializers.SerializerMethodField()
    object_type = serializers.CharField(source="object_type.name")

    class Meta:
        model = Restore
        fields = [
            "id",
            "name",
            "kind",
            "object_type",
            "status",
            "created_at",
            "finished_at",
            "updated_count",
            "failed_count",
        ]
        read_only_fields = fields

    def get_kind(self, obj) -> str:
        return "restore_rollback" if obj.rollback_of_id else "restore"


class TotpSetupSerializer(serializers.Serializer):
    """Start a set-up (no code, or current_code to replace one) or confirm it (code)."""

    code = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20,
        help_text="The new app's first code: confirms the pending set-up.",
    )
    current_code = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20,
        help_text=(
            "A current code from the confirmed authenticator: needed to start replacing it. "
            "Leave out for a first set-up."
        ),
    )

    def validate(self, attrs: dict) -> dict:
        if attrs.get("code", "").strip() and attrs.get("current_code", "").strip():
            raise serializers.ValidationError(
                {
                    "current_code": [
                        "Send either code (to confirm a set-up) or current_code (to start "
                        "one), not both."
                    ]
                }
            )
        return attrs


class TotpStatusSerializer(serializers.Serializer):
    """Whether an authenticator is set up; never its secret."""

    confirmed = serializers.BooleanField(help_text="A confirmed authenticator is set up.")
    setup_pending = serializers.BooleanField(
        help_text="A set-up was started and awaits its first code (its key was shown once)."
    )


class TotpEnrolmentSerializer(serializers.Serializer):
    """A started set-up: the only answer that holds the secret."""

    confirmed = serializers.BooleanField()
    setup_pending = serializers.BooleanField()
    otpauth_url = serializers.CharField(
        help_text="The key to scan or type into the app; shown this once, never again."
    )
