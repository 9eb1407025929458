"""Notification API: a user's own in-app notifications, and marking them read."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from config.pagination import CursorPagination
from notifications import selectors
from notifications.api import serializers as s
from notifications.models import Notification
from notifications.services import mark_read, update_setting


class NewestFirst(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 100


class NotificationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Your notifications, newest first (never anyone else's)."""

    serializer_class = s.NotificationSerializer
    required_permissions = {
        "list": ["notifications.view_notification"],
        "retrieve": ["notifications.view_notification"],
        "read": ["notifications.change_notification"],
        "mark_read": ["notifications.change_notification"],
    }
    pagination_class = NewestFirst
    filter_backends: list = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Notification.objects.none()
        unread = self.request.query_params.get("unread", "").lower() in ("1", "true", "yes")
        return selectors.list_notifications(user=self.request.user, unread_only=unread)

    @extend_schema(
        parameters=[OpenApiParameter("unread", OpenApiTypes.BOOL, description="Only unread.")]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses=s.NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        """Mark this notification read."""
        notification = self.get_object()
        mark_read(user=request.user, notification_ids=[notification.pk])
        notification.refresh_from_db()
        return Response(s.NotificationSerializer(notification).data)

    @extend_schema(request=s.MarkReadSerializer, responses=s.MarkedSerializer)
    @action(detail=False, methods=["post"], url_path="mark-read")
    def mark_read(self, request):
        """Mark the given notifications (or all unread ones) read."""
        serializer = s.MarkReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        count = mark_read(user=request.user, notification_ids=serializer.validated_data.get("ids"))
        return Response({"marked": count})


class NotificationSettingView(APIView):
    """Your notification settings: read, replace (PUT) or change some (PATCH)."""

    serializer_class = s.NotificationSettingSerializer
    required_permissions = {
        "get": ["notifications.view_notificationsetting"],
        "put": ["notifications.change_notificationsetting"],
        "patch": ["notifications.change_notificationsetting"],
    }

    @extend_schema(responses=s.NotificationSettingSerializer)
    def get(self, request):
        setting = selectors.get_setting(user=request.user)
        return Response(s.NotificationSettingSerializer(setting).data)

    @extend_schema(
        request=s.NotificationSettingSerializer, responses=s.NotificationSettingSerializer
    )
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(
        request=s.NotificationSettingSerializer, responses=s.NotificationSettingSerializer
    )
    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool) -> Response:
        serializer = s.NotificationSettingSerializer(
            selectors.get_setting(user=request.user), data=request.data, partial=partial
        )
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        integrations = changes.pop("integrations", None if partial else [])
        setting = update_setting(user=request.user, changes=changes, integrations=integrations)
        return Response(s.NotificationSettingSerializer(setting).data)
