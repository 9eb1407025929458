"""The control API under /_sandbox/: act as a Salesforce user, inject faults, reset the org.

Not metered and not authenticated: it stands for the Salesforce UI and admin, not the API, and the
sandbox only ever listens on a developer machine or CI.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

from . import ids, soql
from .dml import CLOCK_SETTING, WriteOp, WriteOptions, now_stamp
from .errors import ApiError, not_found
from .leads import convert_lead
from .merges import merge_records
from .wire import Request, Response, method_not_allowed

if TYPE_CHECKING:
    from .app import SandboxOrg


def _user_options(app: SandboxOrg) -> WriteOptions:
    # Edits made "in the UI" are attributed to the org's second user when there is one, so
    # Concord can tell them from its own writes via LastModifiedById.
    users = app.org.users
    acting = users[1].user_id if len(users) > 1 else users[0].user_id
    return WriteOptions(bypass_fls=True, allow_save_duplicates=True, acting_user_id=acting)


def _status(app: SandboxOrg) -> dict[str, object]:
    used, limit = app.api_usage()
    with app.store.lock:
        counts = {
            name: sum(1 for r in records.values() if not r.get("IsDeleted"))
            for name, records in app.store.by_sobject.items()
        }
    return {
        "org": {"id": app.org.org_id, "name": app.org.name},
        "api_usage": {"used": used, "max": limit},
        "records": counts,
        "faults": dataclasses.asdict(app.faults()),
    }


def _records(app: SandboxOrg, request: Request, parts: list[str]) -> Response:
    if not parts:
        raise not_found()
    obj = app.org.sobject(parts[0])
    if obj is None:
        raise not_found()
    options = _user_options(app)
    if len(parts) == 1:
        if request.method != "POST":
            raise method_not_allowed(request.method, ["POST"])
        result = app.writer.run([WriteOp("insert", obj.name, request.json())], options)[0]
        return Response.json(result.as_json(), 201 if result.success else 400)
    record_id = parts[1]
    if not ids.is_valid(record_id):
        raise ApiError("MALFORMED_ID", f"malformed id {record_id}", [])
    record_id = ids.to_18(record_id)
    if len(parts) == 3 and parts[2] == "undelete" and request.method == "POST":
        restored = app.writer.undelete(record_id)
        if restored is None:
            raise not_found()
        return Response.json(restored)
    if request.method == "GET":
        record = app.store.get(record_id)
        if record is None:
            raise not_found()
        return Response.json(record)  # every field, FLS-hidden ones included
    if request.method == "PATCH":
        result = app.writer.run(
            [WriteOp("update", obj.name, request.json(), record_id=record_id)], options
        )[0]
        return Response.json(result.as_json(), 200 if result.success else 400)
    if request.method == "DELETE":
        result = app.writer.run([WriteOp("delete", obj.name, record_id=record_id)], options)[0]
        return Response.json(result.as_json(), 200 if result.success else 400)
    raise method_not_allowed(request.method, ["GET", "PATCH", "DELETE"])


def _clock(app: SandboxOrg, request: Request) -> Response:
    """Hold the org's clock on one second (``{"held_at": ISO}``, or ``{}`` for the current one)
    so writes share a stamp as they do in a busy org; DELETE lets it run again."""
    if request.method in ("POST", "PUT", "PATCH"):
        held = request.json().get("held_at")
        try:
            stamp = soql.format_datetime(soql.parse_datetime(held)) if held else now_stamp()
        except (TypeError, ValueError, AttributeError) as exc:
            raise ApiError("INVALID_CLOCK", f"held_at is not an ISO datetime: {held!r}") from exc
        app.store.set_setting(CLOCK_SETTING, stamp)
    elif request.method == "DELETE":
        app.store.delete_setting(CLOCK_SETTING)
    elif request.method != "GET":
        raise method_not_allowed(request.method, ["GET", "POST", "DELETE"])
    held_at = app.store.get_setting(CLOCK_SETTING)
    return Response.json({"held_at": held_at, "now": now_stamp(app.store)})


def handle(app: SandboxOrg, request: Request) -> Response:
    parts = [p for p in request.path.split("/")[2:] if p]
    method = request.method
    if not parts:
        return Response.json(_status(app))
    head, rest = parts[0], parts[1:]
    if head == "records":
        return _records(app, request, rest)
    if head == "leads" and len(rest) == 2 and rest[1] == "convert" and method == "POST":
        return Response.json(convert_lead(app.writer, app.org, rest[0], request.json()))
    if head == "merge" and len(rest) == 1 and method == "POST":
        acting = _user_options(app).acting_user_id
        return Response.json(merge_records(app.writer, app.org, rest[0], request.json(), acting))
    if head == "faults" and not rest:
        if method == "GET":
            return Response.json(dataclasses.asdict(app.faults()))
        if method in ("PATCH", "PUT", "POST"):
            try:
                faults = app.set_faults(request.json())
            except (TypeError, ValueError) as exc:
                raise ApiError("INVALID_FAULTS", str(exc)) from exc
            return Response.json(dataclasses.asdict(faults))
        if method == "DELETE":
            app.store.delete_setting("faults")
            return Response.json(dataclasses.asdict(app.faults()))
    if head == "limits" and not rest:
        if method in ("PATCH", "PUT", "POST"):
            body = request.json()
            if "daily_api_limit" in body:
                app.store.set_setting("daily_api_limit", int(body["daily_api_limit"]))
            if "api_calls_used" in body:
                app.store.set_api_calls_used(int(body["api_calls_used"]))
        used, limit = app.api_usage()
        return Response.json({"daily_api_limit": limit, "api_calls_used": used})
    if head == "tokens" and rest == ["expire"] and method == "POST":
        token = request.json().get("access_token") if request.body else None
        return Response.json({"expired": app.store.expire_access_tokens(token)})
    if head == "recycle-bin" and rest == ["empty"] and method == "POST":
        body = request.json() if request.body else {}
        ids_ = body.get("ids")
        return Response.json(
            {"purged": app.store.empty_recycle_bin([ids.to_18(i) for i in ids_] if ids_ else None)}
        )
    if head == "delete-log" and rest == ["purge"] and method == "POST":
        app.store.set_setting("delete_log_purged_at", now_stamp(app.store))
        app.store.delete_setting("delete_log")
        return Response.json(
            {"earliestDateAvailable": app.store.get_setting("delete_log_purged_at")}
        )
    if head == "clock" and not rest:
        return _clock(app, request)
    if head == "reset" and not rest and method == "POST":
        app.store.reset_records()
        app.store.set_api_calls_used(0)
        for key in (
            "faults",
            "daily_api_limit",
            "delete_log_purged_at",
            "delete_log",
            "bulk_batches",
            CLOCK_SETTING,
        ):
            app.store.delete_setting(key)
        app.queries.close_all()
        return Response.json({"reset": True, "at": time.time()})
    raise not_found()
