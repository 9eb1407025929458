"""Writes to a user's preferences, each recorded in the admin's history (LogEntry)."""

from __future__ import annotations

import zoneinfo

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import UserPreference


def validate_time_zone(name: str) -> str:
    """The zone name if the zoneinfo database knows it; a ValidationError otherwise."""
    if name not in zoneinfo.available_timezones():
        raise ValidationError(f"“{name}” is not a known time zone.", code="invalid_time_zone")
    return name


@transaction.atomic
def set_time_zone(*, user, time_zone: str) -> UserPreference:
    """Save the user's time zone (validated first: a bad name changes nothing) and audit it."""
    validate_time_zone(time_zone)
    preference, _ = UserPreference.objects.select_for_update().get_or_create(user=user)
    old = preference.time_zone
    if old == time_zone:
        return preference
    preference.time_zone = time_zone
    preference.save(update_fields=["time_zone"])
    # Audited where staff look for account changes: the admin history of the user.
    LogEntry.objects.create(
        user_id=user.pk,
        content_type=ContentType.objects.get_for_model(user),
        object_id=str(user.pk),
        object_repr=str(user)[:200],
        action_flag=CHANGE,
        change_message=f"Time zone changed from {old} to {time_zone}.",
    )
    return preference
