"""The admin bell: the signed-in staff user's unread count, queried only when shown."""

from __future__ import annotations

from functools import cache

from notifications.selectors import count_unread


def unread_notifications(request) -> dict:
    """`notifications_unread`: a callable the template resolves once (one query per page)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_staff or not user.has_perm("notifications.view_notification"):
        return {}
    return {"notifications_unread": cache(lambda: count_unread(user=user))}
