"""Activates the signed-in user's time zone for one request and resets it after (X-5)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts.selectors import get_time_zone

# The API answers machines: its times stay in UTC ("Z") whoever asks.
API_PREFIX = "/api/"


class UserTimeZoneMiddleware:
    """The only caller of timezone.activate: each request starts and ends in the site's zone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if request.path.startswith(API_PREFIX) or not (user and user.is_authenticated):
            return self.get_response(request)
        try:
            timezone.activate(zoneinfo.ZoneInfo(get_time_zone(user)))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()  # a zone the system no longer knows: the site's
        try:
            return self.get_response(request)
        finally:
            # A thread serves many users: nothing may carry over to its next request.
            timezone.deactivate()
