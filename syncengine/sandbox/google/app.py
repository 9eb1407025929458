"""One running account: wires the store, sync tokens, groups, quotas, OAuth and the routes."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from . import api, control
from .account import Account
from .errors import CONTACT_FAULTS, ApiError, internal, method_not_allowed, not_found, unavailable
from .groups import Groups
from .oauth import (
    KNOWN_SCOPES,
    OAuthError,
    OAuthService,
    consent_page,
    normalise_scopes,
    redirect_with,
)
from .quotas import QUOTAS, QuotaMeter, quota_exceeded
from .store import Store
from .sync import SyncService, TokenCodec
from .wire import Request, Response

DEFAULT_FAULTS: dict[str, Any] = {"next_errors": [], "next_contact_errors": [], "latency_ms": 0}
OVERRIDABLE_METHODS = ("GET", "PATCH", "PUT", "DELETE")


def method_override(request: Request) -> Request:
    """A POST with ``X-HTTP-Method-Override`` stands for the named method, as Google's front end
    takes it. google-api-python-client sends every GET whose URI passes 2,048 characters (a
    ``getBatchGet`` of many names) that way, its query string as a form-encoded body."""
    override = (request.header("X-HTTP-Method-Override") or "").strip().upper()
    if request.method != "POST" or not override:
        return request
    if override not in OVERRIDABLE_METHODS:
        raise method_not_allowed(override)
    if override != "GET":
        return replace(request, method=override)
    params = {name: list(values) for name, values in request.params.items()}
    form = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    for name, values in form.items():
        params.setdefault(name, []).extend(values)
    return replace(request, method="GET", params=params, body=b"")


class GoogleSandbox:
    def __init__(self, state_path: Path) -> None:
        self.store = Store(state_path)
        secret = self.store.get_setting("secret")
        if secret is None:
            secret = secrets.token_hex(32)
            self.store.set_setting("secret", secret)
        self.sync = SyncService(
            TokenCodec(bytes.fromhex(secret)), self.store.get_setting, self.store.clock
        )
        self.groups = Groups(self.store)
        self.account = Account(self.store, self.groups)
        self.oauth = OAuthService(self.store)
        self.quotas = QuotaMeter()
        self._fault_lock = threading.Lock()

    # --- settings the control API changes ------------------------------------------------------

    def quota_limits(self) -> dict[str, int]:
        return {
            q.setting: int(self.store.get_setting(q.setting, q.default)) for q in QUOTAS.values()
        }

    def faults(self) -> dict[str, Any]:
        return {**DEFAULT_FAULTS, **self.store.get_setting("faults", {})}

    # --- dispatch ------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = unquote(request.path)
        try:
            if path.startswith("/_sandbox"):
                return control.handle(self, request)
            if path.startswith("/v1/"):
                return self._api(request, path)
            if path in ("/o/oauth2/v2/auth", "/o/oauth2/auth"):
                return self._authorize(request)
            if path in ("/token", "/o/oauth2/token", "/oauth2/v4/token"):
                return self._token(request)
            if path in ("/revoke", "/o/oauth2/revoke"):
                return self._revoke(request)
            if path in ("/tokeninfo", "/oauth2/v3/tokeninfo"):
                return self._token_info(request)
            raise not_found()
        except ApiError as error:
            return Response.error(error)
        except OAuthError as error:
            return Response.json(error.body(), error.status)

    def _api(self, request: Request, path: str) -> Response:
        request = method_override(request)
        allowed = []
        for route in api.ROUTES:
            match = route.pattern.match(path)
            if match is None:
                continue
            if route.method != request.method:
                allowed.append(route.method)
                continue
            grant = self.oauth.grant_for(request.header("Authorization"))
            grant.require(*route.scopes)
            limits = self.quota_limits()
            buckets = {b: limits[QUOTAS[b].setting] for b in api.buckets_of(route, request)}
            self.quotas.charge(grant.user, buckets, now=self.store.clock())
            self._inject_faults()
            return route.handler(self, request, match)
        if allowed:
            raise method_not_allowed(request.method)
        raise not_found()

    def contact_fault(self) -> ApiError | None:
        """The next queued per-contact fault of a batch write, if any (control API)."""
        with self._fault_lock:
            faults = self.faults()
            if not faults["next_contact_errors"]:
                return None
            status = str(faults["next_contact_errors"].pop(0))
            self.store.set_setting("faults", faults)
        http_status, message = CONTACT_FAULTS[status]
        return ApiError(http_status, status, message)

    def _inject_faults(self) -> None:
        """Control-API faults: latency, then the next queued error (429, 500 or 503)."""
        with self._fault_lock:
            faults = self.faults()
            status = None
            if faults["next_errors"]:
                status = int(faults["next_errors"].pop(0))
                self.store.set_setting("faults", faults)
        if faults["latency_ms"]:
            time.sleep(faults["latency_ms"] / 1000)
        if status == 429:
            raise quota_exceeded(QUOTAS["read"])
        if status == 503:
            raise unavailable()
        if status is not None:
            raise internal()

    # --- OAuth ---------------------------------------------------------------------------------

    def _authorize(self, request: Request) -> Response:
        params = request.form()
        try:
            client = self.oauth.client(params.get("client_id"))
        except OAuthError:
            return Response.html("<h1>Error 401: invalid_client</h1>", 401)
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri or not self.oauth.redirect_allowed(client, redirect_uri):
            return Response.html("<h1>Error 400: redirect_uri_mismatch</h1>", 400)
        state = params.get("state")
        if params.get("response_type") != "code":
            return Response.redirect(
                redirect_with(redirect_uri, {"error": "unsupported_response_type", "state": state})
            )
        scopes = normalise_scopes(params.get("scope", ""))
        if not scopes or any(s not in KNOWN_SCOPES for s in scopes):
            return Response.redirect(
                redirect_with(redirect_uri, {"error": "invalid_scope", "state": state})
            )
        if request.method == "GET":
            return Response.html(consent_page(params))
        if request.method != "POST":
            raise method_not_allowed(request.method)
        if params.get("action") != "allow":
            return Response.redirect(
                redirect_with(redirect_uri, {"error": "access_denied", "state": state})
            )
        code = self.oauth.issue_code(params)
        return Response.redirect(
            redirect_with(redirect_uri, {"code": code, "scope": " ".join(scopes), "state": state})
        )

    def _token(self, request: Request) -> Response:
        if request.method != "POST":
            raise method_not_allowed(request.method)
        return Response.json(self.oauth.token(request.form(), request.header("Authorization")))

    def _revoke(self, request: Request) -> Response:
        token = request.form().get("token", "")
        if not self.oauth.revoke(token):
            raise OAuthError("invalid_token", "Token expired or revoked")
        return Response.json({})

    def _token_info(self, request: Request) -> Response:
        form = request.form()
        info = self.oauth.token_info(form.get("access_token", ""))
        if info is None:
            raise OAuthError("invalid_token", "Invalid Value")
        return Response.json(info)
