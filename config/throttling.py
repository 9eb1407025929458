"""Rate limits on logging in: the API token endpoint (DRF throttles) and the admin (django-axes).

Both answer 429 with Retry-After. Both count by the client's address as `client_ip()` sees it,
and the token endpoint also by the username tried, so neither one address nor many addresses
can guess one account's password quickly. Throttle counts live in the default cache, which every
process shares (Redis, or files under var/), so gunicorn workers do not each have their own.
"""

from __future__ import annotations

import hashlib
import math

from axes.helpers import get_cool_off
from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

LOCKOUT_MESSAGE = "Too many failed logins from this address or for this username."


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or X-Forwarded-For as set by trusted proxies.

    REST_FRAMEWORK["NUM_PROXIES"] (CONCORD_TRUSTED_PROXIES) says how many proxies to trust;
    with none, a client-sent X-Forwarded-For is ignored, so it cannot buy a fresh allowance.
    """
    return BaseThrottle().get_ident(request)


class _ConfiguredRateThrottle(SimpleRateThrottle):
    """Reads its rate when a request comes (DRF binds the rates once, at import)."""

    def get_rate(self) -> str:
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError as exc:
            raise ImproperlyConfigured(
                f"REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'] has no rate for {self.scope!r}"
            ) from exc

    def _key(self, ident: str) -> str:
        # Hashed: a submitted username may hold characters or a length a cache key cannot.
        digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": digest}


class TokenIpThrottle(_ConfiguredRateThrottle):
    """Token requests per client address."""

    scope = "auth_token_ip"

    def get_cache_key(self, request: Request, view) -> str:
        return self._key(client_ip(request))


class TokenUsernameThrottle(_ConfiguredRateThrottle):
    """Token requests per submitted username, from any address."""

    scope = "auth_token_username"

    def get_cache_key(self, request: Request, view) -> str | None:
        data = request.data
        username = data.get("username") if hasattr(data, "get") else None
        if not isinstance(username, str) or not username:
            return None  # no username, no login: the serializer refuses it (IP limit still on)
        return self._key(username)


def admin_lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """django-axes' answer to a locked-out admin login: 429 with Retry-After, in admin style."""
    cool_off = get_cool_off(request)
    # Each further attempt during a lockout restarts the cool-off (axes'
    # AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT), so the whole cool-off is left from now.
    seconds = math.ceil(cool_off.total_seconds()) if cool_off else None
    if "application/json" in request.headers.get("Accept", ""):
        response: HttpResponse = JsonResponse(
            {"detail": LOCKOUT_MESSAGE, "retry_after": seconds}, status=429
        )
    else:
        context = {
            **admin.site.each_context(request),
            "title": "Login locked",
            "message": LOCKOUT_MESSAGE,
            "minutes": math.ceil(seconds / 60) if seconds else None,
        }
        response = TemplateResponse(request, "admin/locked_out.html", context, status=429)
        response.render()
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
