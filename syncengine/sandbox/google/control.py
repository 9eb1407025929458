"""The control API under /_sandbox/: act as the Google user, set quotas, limits and faults, reset.

Not metered and not authenticated: it stands for the Contacts web UI and the test harness, not
the API, and the sandbox only ever listens on a developer machine or CI. Answers use Google's
error format too. See README.md for every endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from phonenumbers import SUPPORTED_REGIONS

from .account import (
    DEFAULT_CONTACT_LIMIT,
    DEFAULT_CONTACT_SIZE_LIMIT,
    DEFAULT_TRASH_RETENTION_DAYS,
)
from .errors import CONTACT_FAULTS, invalid_argument, method_not_allowed, not_found
from .oauth import ACCOUNT, DEFAULT_ACCESS_TOKEN_TTL
from .people import DATA_FIELDS, Contact
from .quotas import QUOTAS
from .store import DEFAULT_PROPAGATION_DELAY, now_stamp
from .wire import Request, Response

if TYPE_CHECKING:
    from .app import GoogleSandbox

LIMIT_DEFAULTS: dict[str, float] = {
    "contact_limit": DEFAULT_CONTACT_LIMIT,
    "contact_size_limit_bytes": DEFAULT_CONTACT_SIZE_LIMIT,
    "trash_retention_days": DEFAULT_TRASH_RETENTION_DAYS,
    "sync_token_ttl_seconds": 7 * 24 * 3600,
    "propagation_delay_seconds": DEFAULT_PROPAGATION_DELAY,
}
RESET_SETTINGS = [
    "faults",
    "account_region",
    "oauth_clients",
    "access_token_ttl_seconds",
    *LIMIT_DEFAULTS,
    *(q.setting for q in QUOTAS.values()),
]


def _describe(contact: Contact) -> dict[str, Any]:
    """A contact as the control API shows it: the full Person plus where it lives."""
    return {
        **contact.render(None),
        "kind": contact.kind,
        "state": contact.state,
        "trashedAt": contact.trashed_at,
        "sizeBytes": contact.size_bytes(),
    }


def _status(app: GoogleSandbox) -> dict[str, Any]:
    with app.store.lock:
        app.account.purge_expired_trash()
        counts = {"contacts": 0, "otherContacts": 0, "trash": 0}
        for contact in app.store.contacts.values():
            if contact.state == "trash":
                counts["trash"] += 1
            elif contact.state == "active":
                counts["contacts" if contact.kind == "contact" else "otherContacts"] += 1
        return {
            "account": ACCOUNT,
            "counts": {**counts, "stored": sum(counts.values())},
            "limits": _limits(app),
            "quotas": _quotas(app),
            "faults": app.faults(),
            "changeSequence": app.store.seq,
            "state": str(app.store.path),
        }


def _limits(app: GoogleSandbox) -> dict[str, float]:
    return {k: app.store.get_setting(k, v) for k, v in LIMIT_DEFAULTS.items()}


def _quotas(app: GoogleSandbox) -> dict[str, Any]:
    usage = app.quotas.usage(now=app.store.clock())
    return {
        **app.quota_limits(),
        "usage_last_minute": {QUOTAS[b].setting: n for b, n in usage.items()},
    }


def _set_numbers(app: GoogleSandbox, body: dict[str, Any], allowed: list[str]) -> None:
    for key, value in body.items():
        if key not in allowed:
            raise invalid_argument(f"Unknown setting {key!r}; expected one of {allowed}.")
        if not isinstance(value, int | float) or value < 0:
            raise invalid_argument(f"{key} must be a number ≥ 0.")
        app.store.set_setting(key, value)


def _contact(app: GoogleSandbox, contact_id: str) -> Contact:
    contact = app.store.contacts.get(contact_id.rpartition("/")[2])
    if contact is None or contact.state == "gone":
        raise not_found()
    return contact


def _contacts(app: GoogleSandbox, request: Request, parts: list[str], kind: str) -> Response:
    method = request.method
    with app.store.lock:
        if not parts:
            if method == "GET":
                listed = [
                    _describe(c)
                    for c in app.store.contacts.values()
                    if c.kind == kind and c.state == "active"
                ]
                return Response.json({"contacts": listed, "count": len(listed)})
            if method == "POST":
                body = request.json_object()
                contact = app.account.build(body, kind=kind)
                if kind == "contact" and body.get("starred"):
                    contact.groups.append("starred")
                app.account.create([contact])
                return Response.json(_describe(contact), 201)
            raise method_not_allowed(method)
        contact = _contact(app, parts[0])
        if contact.kind != kind:
            raise not_found()
        action = parts[1] if len(parts) > 1 else None
        if action is None and method == "GET":
            return Response.json(_describe(contact))
        if action is None and method == "PATCH":
            # As the user in the web UI: the fields sent replace the stored ones, no etag.
            body = request.json_object()
            fields = [f for f in DATA_FIELDS if f in body]
            if contact.state != "active":
                raise not_found()
            updated = app.account.apply_update(
                contact, body, fields + (["memberships"] if "memberships" in body else [])
            )
            app.account.save_changes([updated])
            return Response.json(_describe(updated))
        if action is None and method == "DELETE":
            if contact.state != "active":
                raise not_found()
            if kind == "other":
                app.account.delete_other(contact)
            else:
                app.account.trash([contact])
            return Response.json(_describe(contact))
        if method == "POST" and kind == "contact":
            if action == "restore":
                return Response.json(_describe(app.account.restore(contact.id)))
            if contact.state != "active":
                raise not_found()
            if action in ("star", "unstar"):
                return Response.json(_describe(app.account.set_starred(contact, action == "star")))
            if action == "move-to-other":
                return Response.json(_describe(app.account.move_to_other(contact)))
        raise not_found()


def _clock(app: GoogleSandbox) -> dict[str, Any]:
    now = app.store.clock()
    return {"now": now, "nowStamp": now_stamp(now), "offsetSeconds": app.store.clock_offset}


def _new_sync_epoch(app: GoogleSandbox) -> int:
    """Expire every sync token issued so far."""
    with app.store.lock:
        epoch = int(app.store.get_setting("sync_epoch", 0)) + 1
        app.store.set_setting("sync_epoch", epoch)
    return epoch


def _fill(app: GoogleSandbox, request: Request) -> Response:
    """Seed ``count`` simple contacts (or Other contacts, or trashed ones) in one transaction."""
    body = request.json_object()
    count = int(body.get("count", 0))
    where = body.get("kind", "contact")
    if where not in ("contact", "other", "trash") or count < 0:
        raise invalid_argument("kind is contact, other or trash; count ≥ 0.")
    prefix = str(body.get("prefix", "seed"))
    with app.store.lock:
        built = []
        for i in range(count):
            person = {
                "names": [{"givenName": prefix.title(), "familyName": f"{i:05d}"}],
                "emailAddresses": [{"value": f"{prefix}{i}@example.com", "type": "work"}],
            }
            built.append(app.account.build(person, kind="other" if where == "other" else "contact"))
        app.account.create(built)
        if where == "trash":
            app.account.trash(built)
    return Response.json({"created": count, "kind": where}, 201)


def _settings(
    app: GoogleSandbox,
    request: Request,
    keys: list[str],
    show: Any,
) -> Response:
    method = request.method
    if method in ("PATCH", "PUT", "POST"):
        _set_numbers(app, request.json_object(), keys)
    elif method == "DELETE":
        for key in keys:
            app.store.delete_setting(key)
    elif method != "GET":
        raise method_not_allowed(method)
    return Response.json(show(app))


def _trash_route(app: GoogleSandbox, request: Request, rest: list[str]) -> Response:
    with app.store.lock:
        if not rest and request.method == "GET":
            trashed = [_describe(c) for c in app.account.trashed()]
            return Response.json({"contacts": trashed, "count": len(trashed)})
        if rest == ["empty"] and request.method == "POST":
            return Response.json({"purged": app.account.empty_trash()})
    raise not_found()


def _fill_route(app: GoogleSandbox, request: Request, rest: list[str]) -> Response:
    if request.method == "POST":
        return _fill(app, request)
    raise not_found()


def _limits_route(app: GoogleSandbox, request: Request, rest: list[str]) -> Response:
    if not rest:
        return _settings(app, request, list(LIMIT_DEFAULTS), _limits)
    raise not_found()


def _quotas_route(app: GoogleSandbox, request: Request, rest: list[str]) -> Response:
    method = request.method
    if not rest:
        if method == "DELETE":
            app.quotas.clear()
        return _settings(app, request, [q.setting for q in QUOTAS.values()], _quotas)
    if rest == ["usage"] and method == "DELETE":
        app.quotas.clear()
        return Response.json(_quotas(app))
    raise not_found()


def _checked_list(body: dict[str, Any], key: str, allowed: Any, message: str) -> list[Any]:
    """``body[key]`` when it is a list of allowed values, else a 400 saying ``message``."""
    values = body[key]
    if not isinstance(values, list) or any(v not in allowed for v in values):
        raise invalid_argument(message)
    return list(values)


def _set_faults(app: GoogleSandbox, body: dict[str, Any]) -> None:
    faults = app.faults()
    if "next_errors" in body:
        faults["next_errors"] = _checked_list(
            body, "next_errors", (429, 500, 503), "next_errors is a list of 429, 500 or 503."
        )
    if "next_contact_errors" in body:
        faults["next_contact_errors"] = _checked_list(
            body,
            "next_contact_errors",
            CONTACT_FAULTS,
            f"next_contact_errors is a list of {', '.join(CONTACT_FAULTS)}.",
        )
    if "latency_ms" in body:
        faults["latency_ms"] = int(body["latency_ms"])
    app.store.set_setting("faults", faults)


def _faults_route(app: GoogleSandbox, request: Request, rest: list[str]) -> Response:
    if rest:
        raise not_found()
    if request.method in ("PATCH", "PUT", "POST"):
        _set_faults(app, request.json_object())
    elif request.method == "DELETE":
        app.store.delete_setting("faults")
    return Response.json(app.faults())


def _account_route(app: GoogleSandbox, request: Request, rest: list[str]) -> Response:
    if rest:
        raise not_found()
    method = request.method
    if method in ("PATCH", "PUT", "POST"):
        region = request.json_object().get("region")
        if not isinstance(region, str) or region.upper() not in SUPPORTED_REGIONS:
            raise invalid_argument("region is an ISO 3166 alpha-2 country code, e.g. GB.")
        app.store.set_setting("account_region", region.upper())
    elif method != "GET":
        raise method_not_allowed(method)
    return Response.json({**ACCOUNT, "region": app.account.region()})


def _clock_route(app: GoogleSandbox, request: Request, rest: list[str]) -> Response:
    method = request.method
    if not rest and method == "GET":
        return Response.json(_clock(app))
    if rest == ["advance"] and method == "POST":
        seconds = request.json_object().get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise invalid_argument("seconds must be a number ≥ 0.")
        app.store.advance_clock(float(seconds))
        return Response.json(_clock(app))
    raise not_found()


def _sync_tokens_route(app: GoogleSandbox, request: Request, rest: list[str]) -> Response:
    if rest == ["expire"] and request.method == "POST":
        return Response.json({"sync_epoch": _new_sync_epoch(app)})
    raise not_found()


def _oauth_route(app: GoogleSandbox, request: Request, rest: list[str]) -> Response:
    if rest:
        raise not_found()
    if request.method in ("PATCH", "PUT", "POST"):
        body = request.json_object()
        if "access_token_ttl_seconds" in body:
            _set_numbers(
                app,
                {"access_token_ttl_seconds": body["access_token_ttl_seconds"]},
                ["access_token_ttl_seconds"],
            )
        if "clients" in body:
            app.store.set_setting("oauth_clients", body["clients"])
    return Response.json(
        {
            "access_token_ttl_seconds": app.oauth.access_token_ttl(),
            "clients": app.oauth.clients(),
            "default_access_token_ttl_seconds": DEFAULT_ACCESS_TOKEN_TTL,
        }
    )


def _tokens_route(app: GoogleSandbox, request: Request, rest: list[str]) -> Response:
    if request.method != "POST":
        raise not_found()
    if not rest:
        body = request.json_object()
        ttl = body.get("ttl")
        answer = app.oauth.mint(
            str(body.get("scope", "")),
            int(ttl) if ttl is not None else None,
            bool(body.get("offline", True)),
        )
        return Response.json(answer, 201)
    if rest == ["expire"]:
        token = request.json_object().get("access_token")
        return Response.json({"expired": app.store.expire_access_tokens(token)})
    raise not_found()


def _reset_route(app: GoogleSandbox, request: Request, rest: list[str]) -> Response:
    if rest or request.method != "POST":
        raise not_found()
    with app.store.lock:
        app.store.reset()
        app.store.reset_clock()
        for key in RESET_SETTINGS:
            app.store.delete_setting(key)
        # Sync tokens from before the reset must not pass for incremental syncs of new data.
        _new_sync_epoch(app)
        app.quotas.clear()
    return Response.json({"reset": True, "at": time.time()})


def _contacts_route(app: GoogleSandbox, request: Request, rest: list[str]) -> Response:
    return _contacts(app, request, rest, "contact")


def _other_contacts_route(app: GoogleSandbox, request: Request, rest: list[str]) -> Response:
    return _contacts(app, request, rest, "other")


Route = Callable[["GoogleSandbox", Request, list[str]], Response]

# The first path segment after /_sandbox/ picks the handler; each handler answers 404 for
# the sub-paths and methods it does not serve.
ROUTES: dict[str, Route] = {
    "contacts": _contacts_route,
    "other-contacts": _other_contacts_route,
    "fill": _fill_route,
    "trash": _trash_route,
    "limits": _limits_route,
    "quotas": _quotas_route,
    "faults": _faults_route,
    "account": _account_route,
    "clock": _clock_route,
    "sync-tokens": _sync_tokens_route,
    "oauth": _oauth_route,
    "tokens": _tokens_route,
    "reset": _reset_route,
}


def handle(app: GoogleSandbox, request: Request) -> Response:
    """Answer one control-API request by the handler its first path segment names."""
    parts = [p for p in request.path.split("/")[2:] if p]
    if not parts:
        return Response.json(_status(app))
    route = ROUTES.get(parts[0])
    if route is None:
        raise not_found()
    return route(app, request, parts[1:])
