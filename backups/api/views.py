"""Backups API: backups, the schedule, restores (plan → confirm → status), imports, TOTP set-up.

Super admins only. Refusals: 400 with the field, 403 for a wrong second factor, 409 when another
restore is active, 410 for an expired backup's file, 429 past the plan's backup frequency and
429 with Retry-After after too many wrong authenticator codes in a row (django-otp's throttle).
"""

from __future__ import annotations

from django.http import FileResponse
from django.utils.cache import add_never_cache_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from backups import selectors
from backups.api import serializers as s
from backups.models import Backup, Restore
from backups.services import backups as backup_services
from backups.services import restore_apply, restore_plan, two_factor
from config.pagination import CursorPagination
from config.renderers import ZIP_DOWNLOAD_RENDERERS, ZIP_MEDIA_TYPE, DownloadNegotiationMixin
from crm import sources


class NewestFirst(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 100


RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    int,
    location=OpenApiParameter.HEADER,
    description="Seconds until the authenticator checks a code again.",
    response=[429],
)
THROTTLED = OpenApiResponse(
    description="Too many wrong authenticator codes in a row (django-otp's throttle): no code "
    "is checked until Retry-After seconds have passed; nothing was changed.",
)


class BackupViewSet(
    DownloadNegotiationMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Backups of the whole CRM: request one, follow it, download its ZIP for 14 days."""

    serializer_class = s.BackupSerializer
    required_permissions = {
        "list": ["backups.view_backup"],
        "retrieve": ["backups.view_backup"],
        "create": ["backups.add_backup"],
        "download": ["backups.download_backup"],
    }
    pagination_class = NewestFirst
    filter_backends: list = []

    def get_queryset(self):
        return selectors.list_backups()

    @extend_schema(
        request=None,
        responses={
            202: s.BackupSerializer,
            429: OpenApiResponse(
                description="The plan's backup frequency is reached: see `next_allowed_at`."
            ),
        },
    )
    def create(self, request):
        """Request a backup; it is written in the background and a notification follows."""
        backup = backup_services.create_backup(requested_by=request.user, source=sources.API)
        data = s.BackupSerializer(backup, context={"request": request}).data
        return Response(data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={
            (200, ZIP_MEDIA_TYPE): OpenApiTypes.BINARY,
            409: OpenApiResponse(description="Not written yet, or failed: no file to download."),
            410: OpenApiResponse(
                description="Expired: past its 14 days, by the clock (whether or not the "
                "periodic task has deleted the file yet)."
            ),
        }
    )
    @action(detail=True, methods=["get"], renderer_classes=ZIP_DOWNLOAD_RENDERERS)
    def download(self, request, pk=None):
        """The backup's ZIP: one CSV per object type."""
        backup = self.get_object()
        file = backup_services.open_backup_file(backup=backup)
        return FileResponse(
            file,
            as_attachment=True,
            filename=f"concord-backup-{backup.pk}.zip",
            content_type="application/zip",
        )


class BackupScheduleView(APIView):
    """Scheduled backups (Enterprise): on or off, weekly or every other week."""

    required_permissions = {
        "get": ["backups.view_backupschedule"],
        "put": ["backups.change_backupschedule"],
    }

    def _data(self, schedule):
        schedule.next_backup_at = backup_services.next_scheduled_backup_at(schedule=schedule)
        return s.BackupScheduleSerializer(schedule).data

    @extend_schema(responses=s.BackupScheduleSerializer)
    def get(self, request):
        return Response(self._data(backup_services.get_schedule()))

    @extend_schema(request=s.BackupScheduleSerializer, responses=s.BackupScheduleSerializer)
    def put(self, request):
        serializer = s.BackupScheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        schedule = backup_services.update_schedule(
            enabled=serializer.validated_data.get("enabled", False),
            frequency=serializer.validated_data.get("frequency", "weekly"),
            actor=request.user,
            source=sources.API,
        )
        return Response(self._data(schedule))


class RestoreViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Restores of property values: create returns the plan; confirm starts it."""

    serializer_class = s.RestoreSerializer
    required_permissions = {
        "list": ["backups.view_restore"],
        "retrieve": ["backups.view_restore"],
        "create": ["backups.add_restore"],
        "confirm": ["backups.run_restore"],
        "rollback": ["backups.add_restore"],  # plans the undo; confirming it runs it
    }
    pagination_class = NewestFirst
    filter_backends: list = []

    def get_queryset(self):
        return selectors.list_restores()

    @extend_schema(request=s.RestoreCreateSerializer, responses={201: s.RestoreSerializer})
    def create(self, request):
        """Plan a restore: per property, how many values change and clear; nothing is written."""
        serializer = s.RestoreCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        backup = Backup.objects.filter(pk=data["backup"]).first()
        if backup is None:
            return Response(
                {"detail": "No such backup.", "errors": {"backup": ["No such backup."]}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        restore = restore_plan.plan_restore(
            backup=backup,
            object_type_name=data["object_type"],
            properties=data["properties"],
            actor=request.user,
            source=sources.API,
        )
        return Response(s.RestoreSerializer(restore).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.RestoreConfirmSerializer,
        parameters=[RETRY_AFTER],
        responses={
            202: s.RestoreSerializer,
            403: OpenApiResponse(description="Wrong or expired authenticator code."),
            409: OpenApiResponse(description="Another restore is pending or running."),
            429: THROTTLED,
        },
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """Confirm a planned restore with the tick and a current authenticator code."""
        restore = self.get_object()
        serializer = s.RestoreConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        restore = restore_apply.confirm_restore(
            restore=restore,
            user=request.user,
            confirm_irreversible=serializer.validated_data["confirm_irreversible"],
            otp=serializer.validated_data.get("otp"),
            sso=two_factor.signed_in_via_sso(request),
            source=sources.API,
        )
        return Response(s.RestoreSerializer(restore).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={201: s.RestoreSerializer})
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        """Plan undoing a finished restore (then confirm it like any restore)."""
        restore = self.get_object()
        rollback = restore_plan.plan_rollback(
            restore=restore, actor=request.user, source=sources.API
        )
        return Response(s.RestoreSerializer(rollback).data, status=status.HTTP_201_CREATED)


class ImportViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The imports list: data restores appear here as "Data restore - <Object>"."""

    serializer_class = s.ImportSerializer
    required_permissions = {"list": ["backups.view_restore"]}
    pagination_class = NewestFirst
    filter_backends: list = []

    def get_queryset(self):
        return selectors.list_restores().exclude(status=Restore.Status.PLANNED)


class TotpView(APIView):
    """The authenticator app a restore asks a code of: one per user.

    POST `{}` starts a first set-up; while one is confirmed, POST `{"current_code": …}` (a code
    from it) starts replacing it. Either answers 201 with the otpauth URL: the only time the
    secret is shown. POST `{"code": …}` with the new app's first code confirms the set-up, and
    only then is the old authenticator removed. GET says what is set up, never the secret. Lost
    the old phone? Another super admin resets the authenticator in the admin.
    """

    # The authenticator exists to confirm restores: whoever may run them sets one up.
    required_permissions = {"get": ["backups.run_restore"], "post": ["backups.run_restore"]}

    def _status(self, request) -> dict:
        return {
            "confirmed": two_factor.has_authenticator(user=request.user),
            "setup_pending": two_factor.has_pending_setup(user=request.user),
        }

    @extend_schema(responses=s.TotpStatusSerializer)
    def get(self, request):
        return Response(self._status(request))

    @extend_schema(
        request=s.TotpSetupSerializer,
        parameters=[RETRY_AFTER],
        responses={
            200: OpenApiResponse(s.TotpStatusSerializer, description="Set-up confirmed."),
            201: OpenApiResponse(
                s.TotpEnrolmentSerializer, description="Set-up started: the key, shown once."
            ),
            400: OpenApiResponse(
                description="A current code is needed to replace the confirmed authenticator, "
                "no set-up is pending, or the first code is not the current one."
            ),
            403: OpenApiResponse(description="The current code is wrong or has expired."),
            429: THROTTLED,
        },
    )
    def post(self, request):
        serializer = s.TotpSetupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        code = serializer.validated_data.get("code")
        if (code or "").strip():
            two_factor.confirm_totp_setup(user=request.user, code=code, source=sources.API)
            return Response(self._status(request))
        device = two_factor.start_totp_setup(
            user=request.user,
            current_code=serializer.validated_data.get("current_code"),
            source=sources.API,
        )
        response = Response(
            {**self._status(request), "otpauth_url": device.config_url},
            status=status.HTTP_201_CREATED,
        )
        # The secret is in this answer only: no cache may keep it.
        add_never_cache_headers(response)
        return response
