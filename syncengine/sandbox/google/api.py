"""The People API v1 routes, as the discovery document bundled with google-api-python-client
describes them (``{+resourceName}`` paths, so ``people/c1:updateContact`` keeps its slash)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import oauth
from .errors import (
    BATCH_CREATE_ERRORS,
    BATCH_UPDATE_ERRORS,
    ApiError,
    batch_failed,
    contact_limit_exceeded,
    etag_mismatch,
    etag_missing,
    failed_precondition,
    invalid_argument,
    not_found,
)
from .groups import group_id_of, parse_group_fields
from .people import (
    COPYABLE_FIELDS,
    OTHER_CONTACT_FIELDS,
    PERSON_FIELDS,
    UPDATABLE_FIELDS,
    Contact,
    parse_mask,
)
from .sync import ListQuery, validate_list_params
from .wire import Request, Response

if TYPE_CHECKING:
    from .app import GoogleSandbox

MAX_BATCH_WRITE = 200
MAX_BATCH_DELETE = 500
MAX_BATCH_GET = 200
READ = (oauth.CONTACTS, oauth.CONTACTS_READONLY)
WRITE = (oauth.CONTACTS,)
OTHER = (oauth.OTHER_CONTACTS_READONLY,)

Handler = Callable[["GoogleSandbox", Request, "re.Match[str]"], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    bucket: str  # quota bucket (quotas.QUOTAS)
    scopes: tuple[str, ...]
    also: tuple[str, ...] = ()  # further buckets every call draws on


def buckets_of(route: Route, request: Request) -> list[str]:
    """The quota buckets one call draws on: its route's, and for the first page of a full sync
    (connections or Other contacts, no page or sync token) the full-sync quota as well."""
    buckets = [route.bucket, *route.also]
    listing = route.handler in (connections_list, other_list)
    if listing and not request.param("pageToken") and not request.param("syncToken"):
        buckets.append("full_sync")
    return buckets


# --- people ----------------------------------------------------------------------------------


def _person_mask(request: Request, name: str = "personFields") -> list[str] | None:
    return parse_mask(request.param(name), name, required=False)


def _ok(contact: Contact, mask: list[str] | None) -> dict[str, Any]:
    return {"httpStatusCode": 200, "person": contact.render(mask), "status": {}}


def _failed(error: ApiError, requested: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"httpStatusCode": error.http_status, "status": error.rpc_status()}
    if requested:
        answer["requestedResourceName"] = requested
    return answer


def connections_list(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    if match["pid"] != "me":
        raise invalid_argument("Only people/me is supported for connections.")
    mask = parse_mask(request.param("personFields"), "personFields")
    assert mask is not None
    query = validate_list_params(
        "contact",
        mask,
        request.int_param("pageSize", 0),
        request.param("pageToken"),
        request.param("syncToken"),
        request.bool_param("requestSyncToken"),
        request.param("sortOrder"),
        request.param_list("sources"),
    )
    with app.store.lock:
        app.account.purge_expired_trash()
        contacts, upto = _listing(app, query, "contact")
        page = app.sync.list(query, contacts, upto)
    answer: dict[str, Any] = {"connections": page.items} if page.items else {}
    if page.next_page_token:
        answer["nextPageToken"] = page.next_page_token
    if page.next_sync_token:
        answer["nextSyncToken"] = page.next_sync_token
    answer["totalPeople"] = answer["totalItems"] = page.total
    return Response.json(answer)


def _listing(app: GoogleSandbox, query: ListQuery, kind: str) -> tuple[list[Contact], int]:
    """The contacts a listing walks and the change sequence it covers: a sync request (with or
    asking for a sync token) sees only writes that have propagated, a plain listing all."""
    if query.sync_token or query.request_sync_token:
        return app.store.sync_view(kind)
    return [c for c in app.store.contacts.values() if c.kind == kind], app.store.seq


def people_get(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    mask = parse_mask(request.param("personFields"), "personFields")
    if match["pid"] == "me":
        return Response.json(_profile(mask or []))
    with app.store.lock:
        contact = app.store.find(match["pid"])
        if contact is None:
            raise not_found()
        return Response.json(contact.render(mask))


def _profile(mask: list[str]) -> dict[str, Any]:
    """people/me: the signed-in user's profile."""
    source = {"type": "PROFILE", "id": oauth.ACCOUNT["sub"]}
    person: dict[str, Any] = {"resourceName": f"people/{oauth.ACCOUNT['sub']}", "etag": "%profile"}
    given, _, family = oauth.ACCOUNT["name"].partition(" ")
    if "names" in mask:
        person["names"] = [
            {
                "metadata": {"primary": True, "source": source},
                "displayName": oauth.ACCOUNT["name"],
                "givenName": given,
                "familyName": family,
            }
        ]
    if "emailAddresses" in mask:
        person["emailAddresses"] = [
            {"metadata": {"primary": True, "source": source}, "value": oauth.ACCOUNT["email"]}
        ]
    if "metadata" in mask:
        person["metadata"] = {"sources": [source], "objectType": "PERSON"}
    return person


def batch_get(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    mask = parse_mask(request.param("personFields"), "personFields")
    names = request.param_list("resourceNames")
    if not names:
        raise invalid_argument("resourceNames must not be empty.")
    if len(names) > MAX_BATCH_GET:
        raise invalid_argument(f"resourceNames may contain at most {MAX_BATCH_GET} entries.")
    responses = []
    with app.store.lock:
        for name in names:
            contact = app.store.find(name)
            if contact is None:
                responses.append(_failed(not_found(), name))
            else:
                responses.append({**_ok(contact, mask), "requestedResourceName": name})
    return Response.json({"responses": responses})


def search_contacts(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    mask = parse_mask(request.param("readMask"), "readMask")
    return _search(app, request, kind="contact", mask=mask)


def _search(app: GoogleSandbox, request: Request, *, kind: str, mask) -> Response:
    """searchContacts and otherContacts.search: at most 30 matches of a non-empty query."""
    page_size = min(max(request.int_param("pageSize", 10), 1), 30)
    query = request.param("query") or ""
    with app.store.lock:
        found = [c for c in app.store.live(kind) if query and c.matches(query)][:page_size]
        results = [{"person": c.render(mask)} for c in found]
    return Response.json({"results": results} if results else {})


def create_contact(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    mask = _person_mask(request)
    body = request.json_object()
    with app.store.lock:
        contact = app.account.build(body)
        app.account.create([contact])
        return Response.json(contact.render(mask))


def _update_fields(raw: str | None, name: str) -> list[str]:
    fields = parse_mask(raw, name, allowed=PERSON_FIELDS)
    assert fields is not None
    for path in fields:
        if path not in UPDATABLE_FIELDS:
            raise invalid_argument(f'Invalid {name} mask path: "{path}". Field is read only.')
    return fields


def _check_etag(contact: Contact, body: dict[str, Any]) -> None:
    given = body.get("etag")
    source_etags = [
        s.get("etag") for s in (body.get("metadata") or {}).get("sources", []) if s.get("etag")
    ]
    if not given and not source_etags:
        raise etag_missing()
    if given and given == contact.etag:
        return
    if contact.source_etag in source_etags:
        return
    raise etag_mismatch()


def update_contact(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    fields = _update_fields(request.param("updatePersonFields"), "updatePersonFields")
    mask = _person_mask(request)
    body = request.json_object()
    with app.store.lock:
        contact = app.store.find(match["pid"])
        if contact is None:
            raise not_found()
        _check_etag(contact, body)
        updated = app.account.apply_update(contact, body, fields)
        app.account.save_changes([updated])
        return Response.json(updated.render(mask))


def delete_contact(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    with app.store.lock:
        contact = app.store.find(match["pid"])
        if contact is None:
            raise not_found()
        app.account.trash([contact])
    return Response.json({})


def _batch_read_mask(body: dict[str, Any]) -> list[str]:
    mask = parse_mask(body.get("readMask"), "readMask")
    assert mask is not None
    return mask


def batch_create(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    body = request.json_object()
    entries = body.get("contacts") or []
    if not isinstance(entries, list) or not entries:
        raise invalid_argument("contacts must not be empty.")
    if len(entries) > MAX_BATCH_WRITE:
        raise invalid_argument(
            f"Too many contacts in the request: {len(entries)}. "
            f"At most {MAX_BATCH_WRITE} contacts are allowed in a single request."
        )
    mask = _batch_read_mask(body)
    with app.store.lock:
        # All or nothing (BatchCreateContactsErrorDetails): one invalid contact — malformed, too
        # large, past the contact limit — fails the whole request and nothing is created.
        errors: dict[str, ApiError] = {}
        accepted: list[Contact] = []
        room = app.account.room()
        for index, entry in enumerate(entries):
            try:
                if not isinstance(entry, dict):
                    raise invalid_argument("Invalid JSON payload received. Expected an object.")
                person = entry.get("contactPerson") or {}
                if not isinstance(person, dict):
                    raise invalid_argument("Invalid JSON payload received. Expected an object.")
                contact = app.account.build(person)
                app.account.check_size(contact)
                if len(accepted) >= room:
                    raise contact_limit_exceeded(app.account.contact_limit())
                if fault := app.contact_fault():
                    raise fault
            except ApiError as error:
                errors[str(index)] = error
                continue
            accepted.append(contact)
        if errors:
            raise batch_failed(BATCH_CREATE_ERRORS, errors)
        app.account.create(accepted)
        answers = [_ok(contact, mask) for contact in accepted]
    return Response.json({"createdPeople": answers})


def batch_update(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    body = request.json_object()
    entries = body.get("contacts") or {}
    if not isinstance(entries, dict) or not entries:
        raise invalid_argument("contacts must not be empty.")
    if len(entries) > MAX_BATCH_WRITE:
        raise invalid_argument(
            f"Too many contacts in the request: {len(entries)}. "
            f"At most {MAX_BATCH_WRITE} contacts are allowed in a single request."
        )
    fields = _update_fields(body.get("updateMask"), "updateMask")
    mask = _batch_read_mask(body)
    with app.store.lock:
        # All or nothing (BatchUpdateContactsErrorDetails): a stale or missing etag, an unknown
        # contact or one too large fails the whole request and nothing is saved.
        errors: dict[str, ApiError] = {}
        changed: list[Contact] = []
        for name, person in entries.items():
            try:
                if not isinstance(person, dict):
                    raise invalid_argument("Invalid JSON payload received. Expected an object.")
                contact = app.store.find(name)
                if contact is None:
                    raise not_found()
                _check_etag(contact, person)
                updated = app.account.apply_update(contact, person, fields)
                app.account.check_size(updated)
                if fault := app.contact_fault():
                    raise fault
            except ApiError as error:
                errors[name] = error
                continue
            changed.append(updated)
        if errors:
            raise batch_failed(BATCH_UPDATE_ERRORS, errors)
        app.account.save_changes(changed)
        results = {
            c.resource_name: {"requestedResourceName": c.resource_name, **_ok(c, mask)}
            for c in changed
        }
    return Response.json({"updateResult": results})


def batch_delete(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    body = request.json_object()
    names = body.get("resourceNames") or []
    if not isinstance(names, list) or not names:
        raise invalid_argument("resourceNames must not be empty.")
    if len(names) > MAX_BATCH_DELETE:
        raise invalid_argument(
            f"Too many resource names in the request: {len(names)}. "
            f"At most {MAX_BATCH_DELETE} contacts can be deleted in a single request."
        )
    with app.store.lock:
        contacts = [app.store.find(str(name)) for name in names]
        if any(c is None for c in contacts):
            raise not_found()  # nothing is deleted when one is unknown
        app.account.trash([c for c in contacts if c is not None])
    return Response.json({})


# --- contact groups --------------------------------------------------------------------------


def groups_list(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    fields = parse_group_fields(request.param("groupFields"))
    page_size = request.int_param("pageSize", 30)
    if page_size < 0 or page_size > 1000:
        raise invalid_argument("pageSize must be between 1 and 1000.")
    page_size = page_size or 30
    sync_token = request.param("syncToken") or None
    offset, upto = 0, app.store.seq
    since = app.sync.since_seq("groups", sync_token) if sync_token else None
    if token := request.param("pageToken"):
        payload = app.sync.codec.decode(token)
        if not payload or payload.get("t") != "groups" or payload.get("st") != sync_token:
            raise invalid_argument("Page token is not valid.")
        offset, upto = int(payload["o"]), int(payload["u"])
    with app.store.lock:
        if since is None:
            ids = [g for g in app.groups.ids() if _group_seq(app, g) <= upto]
        else:
            # Only groups changed since the token; deleted ones with metadata.deleted.
            ids = app.groups.changed_since(since, upto)
        groups = [
            app.groups.render_tombstone(g)
            if g in app.store.group_tombstones
            else app.groups.render(g, fields)
            for g in ids[offset : offset + page_size]
        ]
    answer: dict[str, Any] = {"contactGroups": groups} if groups else {}
    answer["totalItems"] = len(ids)
    if offset + page_size < len(ids):
        answer["nextPageToken"] = app.sync.codec.encode(
            {"t": "groups", "o": offset + page_size, "u": upto, "st": sync_token}
        )
    answer["nextSyncToken"] = app.sync.issue_sync_token("groups", upto)
    return Response.json(answer)


def _group_seq(app: GoogleSandbox, group_id: str) -> int:
    group = app.store.groups.get(group_id)
    return int(group.get("seq", 0)) if group else 0


def groups_get(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    fields = parse_group_fields(request.param("groupFields"))
    with app.store.lock:
        group = app.groups.render(match["gid"], fields, request.int_param("maxMembers", 0))
    return Response.json(group)


def groups_batch_get(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    fields = parse_group_fields(request.param("groupFields"))
    names = request.param_list("resourceNames")
    if len(names) > MAX_BATCH_GET:
        raise invalid_argument(f"resourceNames may contain at most {MAX_BATCH_GET} entries.")
    responses = []
    with app.store.lock:
        for name in names:
            try:
                group = app.groups.render(
                    group_id_of(name), fields, request.int_param("maxMembers", 0)
                )
                responses.append({"requestedResourceName": name, "contactGroup": group})
            except ApiError as error:
                responses.append({"requestedResourceName": name, "status": error.rpc_status()})
    return Response.json({"responses": responses})


def groups_create(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    body = request.json_object()
    group = body.get("contactGroup") or {}
    fields = parse_group_fields(body.get("readGroupFields"))
    with app.store.lock:
        group_id = app.groups.create(str(group.get("name") or ""), group.get("clientData"))
        return Response.json(app.groups.render(group_id, fields))


def groups_update(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    body = request.json_object()
    group = body.get("contactGroup") or {}
    update_fields = [
        f.strip() for f in str(body.get("updateGroupFields") or "name").split(",") if f.strip()
    ]
    for name in update_fields:
        if name not in ("name", "clientData"):
            raise invalid_argument(f'Invalid updateGroupFields mask path: "{name}".')
    fields = parse_group_fields(body.get("readGroupFields"))
    with app.store.lock:
        app.groups.update(match["gid"], group, update_fields)
        return Response.json(app.groups.render(match["gid"], fields))


def groups_delete(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    group_id = match["gid"]
    with app.store.lock:
        if group_id not in app.store.groups:
            if app.groups.exists(group_id):
                raise failed_precondition("System contact groups cannot be deleted.")
            raise not_found()
        members = app.groups.members(group_id)
        if request.bool_param("deleteContacts"):
            app.account.trash(members)
        else:
            for contact in members:
                contact.groups.remove(group_id)
                if not [g for g in contact.groups if g != "starred"]:
                    contact.groups.insert(0, "myContacts")
            app.account.save_changes(members)
        app.store.delete_group(group_id)
    return Response.json({})


def members_modify(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    body = request.json_object()
    add = [str(n) for n in body.get("resourceNamesToAdd") or []]
    remove = [str(n) for n in body.get("resourceNamesToRemove") or []]
    with app.store.lock:
        answer, changed = app.groups.modify_members(match["gid"], add, remove)
        if changed:
            app.account.save_changes(changed)
    return Response.json(answer)


# --- other contacts --------------------------------------------------------------------------


def _other_mask(raw: str | None) -> list[str]:
    mask = parse_mask(raw, "readMask")
    assert mask is not None
    for path in mask:
        if path not in OTHER_CONTACT_FIELDS:
            raise invalid_argument(
                f"Request field '{path}' not allowed for other contacts read requests"
            )
    return mask


def other_list(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    mask = _other_mask(request.param("readMask"))
    query = validate_list_params(
        "other",
        mask,
        request.int_param("pageSize", 0),
        request.param("pageToken"),
        request.param("syncToken"),
        request.bool_param("requestSyncToken"),
        None,
        request.param_list("sources"),
    )
    with app.store.lock:
        contacts, upto = _listing(app, query, "other")
        page = app.sync.list(query, contacts, upto)
    answer: dict[str, Any] = {"otherContacts": page.items} if page.items else {}
    if page.next_page_token:
        answer["nextPageToken"] = page.next_page_token
    if page.next_sync_token:
        answer["nextSyncToken"] = page.next_sync_token
    answer["totalSize"] = page.total
    return Response.json(answer)


def other_search(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    return _search(app, request, kind="other", mask=_other_mask(request.param("readMask")))


def other_copy(app: GoogleSandbox, request: Request, match: re.Match[str]) -> Response:
    body = request.json_object()
    copy_mask = parse_mask(body.get("copyMask"), "copyMask", allowed=COPYABLE_FIELDS)
    assert copy_mask is not None
    read_mask = parse_mask(body.get("readMask"), "readMask", required=False)
    with app.store.lock:
        other = app.store.find(match["oid"], kind="other")
        if other is None:
            raise not_found()
        person = {f: other.fields[f] for f in copy_mask if f in other.fields}
        contact = app.account.build(person)
        app.account.create([contact])
        return Response.json(contact.render(read_mask))


_ID = r"(?P<{}>[^/:]+)"


def _route(
    method: str,
    path: str,
    handler: Handler,
    bucket: str,
    scopes: tuple[str, ...],
    also: tuple[str, ...] = (),
) -> Route:
    pattern = (
        "^/"
        + path.replace("{pid}", _ID.format("pid"))
        .replace("{gid}", _ID.format("gid"))
        .replace("{oid}", _ID.format("oid"))
        + "$"
    )
    return Route(method, re.compile(pattern), handler, bucket, scopes, also)


ROUTES = [
    _route("GET", "v1/people/{pid}/connections", connections_list, "read", READ),
    _route("GET", "v1/people:batchGet", batch_get, "read", READ),
    _route("GET", "v1/people:searchContacts", search_contacts, "read", READ),
    _route("POST", "v1/people:createContact", create_contact, "write", WRITE),
    _route("POST", "v1/people:batchCreateContacts", batch_create, "write", WRITE),
    # Updates draw on the critical-read quota too: Google answers an updateContact with the
    # critical-read 429 once that quota is used up (a public issue's captured error).
    _route("POST", "v1/people:batchUpdateContacts", batch_update, "write", WRITE, ("read",)),
    _route("POST", "v1/people:batchDeleteContacts", batch_delete, "delete", WRITE),
    _route("PATCH", "v1/people/{pid}:updateContact", update_contact, "write", WRITE, ("read",)),
    _route("DELETE", "v1/people/{pid}:deleteContact", delete_contact, "delete", WRITE),
    _route("GET", "v1/people/{pid}", people_get, "read", READ),
    _route("GET", "v1/contactGroups", groups_list, "group_read", READ),
    _route("POST", "v1/contactGroups", groups_create, "delete", WRITE),
    _route("GET", "v1/contactGroups:batchGet", groups_batch_get, "group_read", READ),
    _route("POST", "v1/contactGroups/{gid}/members:modify", members_modify, "delete", WRITE),
    _route("GET", "v1/contactGroups/{gid}", groups_get, "group_read", READ),
    _route("PUT", "v1/contactGroups/{gid}", groups_update, "delete", WRITE),
    _route("DELETE", "v1/contactGroups/{gid}", groups_delete, "delete", WRITE),
    _route("GET", "v1/otherContacts", other_list, "read", OTHER),
    _route("GET", "v1/otherContacts:search", other_search, "read", OTHER),
    _route(
        "POST",
        "v1/otherContacts/{oid}:copyOtherContactToMyContactsGroup",
        other_copy,
        "write",
        WRITE,
    ),
]
