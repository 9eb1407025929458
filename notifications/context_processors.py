"""What the admin's shared templates show on every page: the bell, and the index's health panel.

Each is a callable the template resolves once, so a page that does not show it runs no query.
"""

from __future__ import annotations

from functools import cache

from notifications.triage import get_bell, list_sync_health

NOTIFICATIONS_PERM = "notifications.view_notification"
SYNC_ERRORS_PERM = "syncengine.view_syncerror"  # the sync health page's permission


def notification_bell(request) -> dict:
    """`notification_bell`: unread notifications and new sync errors, for staff who may see them."""
    user = getattr(request, "user", None)
    if user is None or not user.is_staff:
        return {}
    notifications = user.has_perm(NOTIFICATIONS_PERM)
    sync_errors = user.has_perm(SYNC_ERRORS_PERM)
    if not (notifications or sync_errors):
        return {}
    return {
        "notification_bell": cache(
            lambda: get_bell(user=user, notifications=notifications, sync_errors=sync_errors)
        ),
        "notification_bell_shows_notifications": notifications,
    }


def sync_health_panel(request) -> dict:
    """`sync_health_panel`: open and new errors per integration and card (the admin index)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_staff or not user.has_perm(SYNC_ERRORS_PERM):
        return {}
    return {"sync_health_panel": cache(lambda: list_sync_health(user=user))}
