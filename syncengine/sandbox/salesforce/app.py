"""One running org: wires the store, writer, query engine, bulk, OAuth and the routes together."""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from pathlib import Path

from . import control, rest
from .bulk import BulkService
from .dml import Writer
from .errors import ApiError, not_found
from .oauth import OAuthError, OAuthService, consent_page, redirect_with
from .org import Faults, OrgDef
from .query import QueryEngine
from .store import Store
from .wire import Request, Response, method_not_allowed

_VERSION_RE = re.compile(r"^v(\d{2,3}\.\d)$")
SUPPORTED_VERSIONS = [f"{v}.0" for v in range(31, 68)]


class Dropped(Exception):
    """The injected timeout fault: the server closes the connection without answering."""


class SandboxOrg:
    def __init__(self, org: OrgDef, state_path: Path, seed: int | None = None) -> None:
        self.org = org
        self.org_loaded_at = float(int(time.time()))  # HTTP dates have whole seconds
        self.store = Store(state_path, org)
        self.writer = Writer(self.store, org, seed=seed)
        self.queries = QueryEngine(self.store, org)
        self.oauth = OAuthService(self.store, org)
        self.bulk = BulkService(
            self.store,
            org,
            self.writer,
            self.queries,
            lock_rate=lambda: self.faults().unable_to_lock_row_rate,
        )
        self._fault_lock = threading.Lock()

    # --- settings that the control API can change ----------------------------------------------

    def faults(self) -> Faults:
        stored = self.store.get_setting("faults")
        return Faults.from_dict(stored) if stored is not None else self.org.faults

    def set_faults(self, values: dict[str, object]) -> Faults:
        merged = dataclasses.asdict(self.faults())
        merged.update(values)
        faults = Faults.from_dict(merged)
        self.store.set_setting("faults", dataclasses.asdict(faults))
        return faults

    def daily_limit(self) -> int:
        return int(self.store.get_setting("daily_api_limit", self.org.daily_api_limit))

    def api_usage(self) -> tuple[int, int]:
        return self.store.api_calls_used(), self.daily_limit()

    def limit_header(self, used: int | None = None) -> str:
        used = self.store.api_calls_used() if used is None else used
        return f"api-usage={used}/{self.daily_limit()}"

    # --- dispatch ------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path
        try:
            if path.startswith("/services/oauth2/"):
                return self._oauth(request, path.removeprefix("/services/oauth2/").strip("/"))
            if path == "/services/data" or path.startswith("/services/data/"):
                return self._data(request)
            if path.startswith("/_sandbox"):
                return control.handle(self, request)
            if path.startswith("/id/"):
                return self._identity(request)
            raise not_found()
        except ApiError as exc:
            response = Response.error(exc)
        except OAuthError as exc:
            response = Response.json(exc.body(), exc.status)
        if path.startswith("/services/data/v"):
            response.headers.setdefault("Sforce-Limit-Info", self.limit_header())
        return response

    def _data(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/")[3:] if p]
        if not parts:
            # The Versions resource: no session needed and not metered.
            return Response.json(
                [
                    {"label": f"v{v}", "url": f"/services/data/v{v}", "version": v}
                    for v in SUPPORTED_VERSIONS
                ]
            )
        match = _VERSION_RE.match(parts[0])
        if not match:
            raise not_found()
        version = match.group(1)
        self.oauth.session_for(request.header("Authorization"))
        used, limit = self.api_usage()
        if used >= limit:
            raise ApiError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", status=403)
        used = self.store.count_api_call()
        self._inject_faults()
        response = self._route(request, version, parts[1:])
        response.headers["Sforce-Limit-Info"] = self.limit_header(used)
        return response

    def _inject_faults(self) -> None:
        faults = self.faults()
        rng = self.writer.rng
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        with self._fault_lock:
            timeout = faults.timeout_rate and rng.random() < faults.timeout_rate
            unavailable = (
                faults.server_unavailable_rate and rng.random() < faults.server_unavailable_rate
            )
        if timeout:
            time.sleep(faults.timeout_seconds)
            raise Dropped()
        if unavailable:
            raise ApiError(
                "SERVER_UNAVAILABLE",
                "Server temporarily unavailable, please try again later.",
                status=503,
            )

    def _route(self, request: Request, version: str, parts: list[str]) -> Response:
        if not parts:
            return rest.resources(self, request, version)
        head, rest_parts = parts[0], parts[1:]
        if head == "limits" and not rest_parts:
            return rest.limits(self, request, version)
        if head == "sobjects":
            return rest.sobjects(self, request, version, rest_parts)
        if head in ("query", "queryAll"):
            return rest.query(self, request, version, rest_parts, head == "queryAll")
        if head == "composite" and rest_parts[:1] == ["sobjects"]:
            return rest.composite_sobjects(self, request, version, rest_parts[1:])
        if head == "jobs" and rest_parts[:1] in (["ingest"], ["query"]):
            return rest.bulk_route(self, request, version, rest_parts[0], rest_parts[1:])
        raise not_found()

    # --- OAuth ---------------------------------------------------------------------------------

    def _oauth(self, request: Request, endpoint: str) -> Response:
        if endpoint == "token":
            if request.method != "POST":
                raise method_not_allowed(request.method, ["POST"])
            return Response.json(self.oauth.token(request.form(), request.base_url))
        if endpoint == "revoke":
            token = request.form().get("token", "")
            if not self.oauth.revoke(token):
                raise OAuthError("unsupported_token_type", "this token type is not supported")
            return Response.empty(200)
        if endpoint == "authorize":
            return self._authorize(request)
        if endpoint == "userinfo":
            session = self.oauth.session_for(request.header("Authorization"))
            return Response.json(self._user_info(session.user_id))
        raise not_found()

    def _authorize(self, request: Request) -> Response:
        params = request.form()
        client = self.oauth.client(params.get("client_id"))
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri or not self.oauth.redirect_allowed(client, redirect_uri):
            return Response.text("<h1>error=redirect_uri_mismatch</h1>", "text/html", 400)
        state = params.get("state")
        if params.get("response_type") != "code":
            return Response.redirect(
                redirect_with(
                    redirect_uri,
                    {
                        "error": "unsupported_response_type",
                        "error_description": "response type not supported",
                        "state": state,
                    },
                )
            )
        if request.method == "GET":
            return Response.text(consent_page(params), "text/html;charset=UTF-8")
        if params.get("action") == "deny":
            return Response.redirect(
                redirect_with(
                    redirect_uri,
                    {
                        "error": "access_denied",
                        "error_description": "end-user denied authorization",
                        "state": state,
                    },
                )
            )
        user = self.oauth.user(params.get("username"), params.get("password"))
        if user is None:
            page = consent_page(params, "Please check your username and password.")
            return Response.text(page, "text/html;charset=UTF-8", 200)
        code = self.oauth.issue_code(
            client,
            user,
            redirect_uri,
            params.get("scope") or "api refresh_token",
            params.get("code_challenge"),
        )
        return Response.redirect(redirect_with(redirect_uri, {"code": code, "state": state}))

    def _user_info(self, user_id: str) -> dict[str, object]:
        user = next(u for u in self.org.users if u.user_id == user_id)
        return {
            "user_id": user.user_id,
            "organization_id": self.org.org_id,
            "username": user.username,
            "display_name": user.name,
            "email": user.email,
        }

    def _identity(self, request: Request) -> Response:
        session = self.oauth.session_for(request.header("Authorization"))
        return Response.json(self._user_info(session.user_id))
