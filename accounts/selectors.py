"""Who holds a permission: the recipients of what only a role may act on."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet


def list_users_with_permission(perm: str) -> QuerySet:
    """Active users holding the permission: directly, through a role's group, or as superusers."""
    app_label, codename = perm.split(".", 1)
    direct = Q(
        user_permissions__codename=codename,
        user_permissions__content_type__app_label=app_label,
    )
    by_group = Q(
        groups__permissions__codename=codename,
        groups__permissions__content_type__app_label=app_label,
    )
    holders = get_user_model().objects.filter(Q(is_superuser=True) | direct | by_group)
    return (
        get_user_model().objects.filter(is_active=True, pk__in=holders.values("pk")).order_by("pk")
    )


def get_time_zone(user) -> str:
    """The user's chosen time zone, else the site's (settings.TIME_ZONE)."""
    from accounts.models import UserPreference, default_time_zone

    chosen = UserPreference.objects.filter(user_id=user.pk).values_list("time_zone", flat=True)
    return chosen.first() or default_time_zone()
