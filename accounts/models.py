"""Per-user preferences (X-5): the time zone each user sees times in."""

from __future__ import annotations

from django.conf import settings
from django.db import models


def default_time_zone() -> str:
    """The site's zone (settings.TIME_ZONE), for users who chose none."""
    return settings.TIME_ZONE


class UserPreference(models.Model):
    """One user's display preferences; a user without a row uses the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    time_zone = models.CharField(max_length=64, default=default_time_zone)

    def __str__(self) -> str:
        return f"Preferences of {self.user}"
