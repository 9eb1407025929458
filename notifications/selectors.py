"""Notification reads."""

from __future__ import annotations

from django.db.models import QuerySet

from notifications.models import Notification


def list_notifications(*, user, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's own notifications, newest first."""
    queryset = Notification.objects.filter(user=user)
    if unread_only:
        queryset = queryset.filter(read_at__isnull=True)
    return queryset.order_by("-created_at", "-pk")


def count_unread(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
