"""The signed unsubscribe link of digest emails: no login, the token is the proof."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from notifications.services import unsubscribe


@csrf_exempt  # mail clients' one-click POST (RFC 8058) carries no CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe_view(request, token: str):
    """GET asks for confirmation (link scanners must not unsubscribe); POST turns emails off."""
    if request.method == "GET":
        return render(request, "notifications/unsubscribe.html", {"token": token, "done": False})
    setting = unsubscribe(token=token)
    status = 200 if setting is not None else 400
    return render(
        request,
        "notifications/unsubscribe.html",
        {"token": token, "done": setting is not None, "invalid": setting is None},
        status=status,
    )
