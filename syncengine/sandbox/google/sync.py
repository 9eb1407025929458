"""Paging and sync tokens for people.connections.list and otherContacts.list.

Tokens are opaque to clients: base64 JSON signed with the account's secret, so a made-up or
tampered token is rejected. A sync token carries the change sequence it covers and when it was
issued; it expires after ``sync_token_ttl_seconds`` (Google: 7 days) or when the control API
expires every token issued so far (a new ``sync_epoch``; a reset does the same).

A listing is a snapshot at the change sequence of its first page (``upto``): later pages only
show contacts whose last change is at or before it, so a contact changed mid-listing is not lost
— its new version has a higher sequence and arrives with the next incremental sync.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .errors import expired_sync_token, invalid_argument
from .people import Contact

SORT_ORDERS = (
    "LAST_MODIFIED_ASCENDING",
    "LAST_MODIFIED_DESCENDING",
    "FIRST_NAME_ASCENDING",
    "LAST_NAME_ASCENDING",
)


class TokenCodec:
    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def encode(self, payload: dict[str, Any]) -> str:
        raw = json.dumps(payload, separators=(",", ":")).encode()
        body = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        signature = hmac.new(self.secret, body.encode(), hashlib.sha256).digest()[:12]
        return body + "." + base64.urlsafe_b64encode(signature).decode().rstrip("=")

    def decode(self, token: str) -> dict[str, Any] | None:
        body, _, signature = token.partition(".")
        expected = hmac.new(self.secret, body.encode(), hashlib.sha256).digest()[:12]
        given = signature + "=" * (-len(signature) % 4)
        try:
            if not hmac.compare_digest(base64.urlsafe_b64decode(given), expected):
                return None
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, TypeError):
            return None
        return payload if isinstance(payload, dict) else None


@dataclass
class ListQuery:
    """One connections.list / otherContacts.list call, already validated."""

    kind: str  # contact | other
    mask: list[str]
    page_size: int
    page_token: str | None
    sync_token: str | None
    request_sync_token: bool
    sort_order: str
    fingerprint: str  # the parameters a page token must repeat


@dataclass
class ListPage:
    items: list[dict[str, Any]]
    total: int
    next_page_token: str | None
    next_sync_token: str | None


def fingerprint(values: Iterable[object]) -> str:
    return hashlib.sha1(repr(list(values)).encode()).hexdigest()[:16]


class SyncService:
    def __init__(
        self,
        codec: TokenCodec,
        settings: Callable[[str, Any], Any],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.codec = codec
        self.settings = settings  # (key, default) -> value
        self.clock = clock  # the account's clock (the control API can advance it)

    def issue_sync_token(self, kind: str, seq: int) -> str:
        payload = {"t": "sync", "k": kind, "s": seq, "at": round(self.clock(), 3)}
        payload["e"] = int(self.settings("sync_epoch", 0))
        return self.codec.encode(payload)

    def since_seq(self, kind: str, token: str) -> int:
        """The sequence a sync token covers, or 400 EXPIRED_SYNC_TOKEN."""
        payload = self.codec.decode(token)
        if not payload or payload.get("t") != "sync" or payload.get("k") != kind:
            raise expired_sync_token()
        ttl = float(self.settings("sync_token_ttl_seconds", 7 * 24 * 3600))
        if self.clock() - float(payload["at"]) > ttl:
            raise expired_sync_token()
        if payload.get("e") != int(self.settings("sync_epoch", 0)):
            raise expired_sync_token()  # the control API expired every token issued so far
        return int(payload["s"])

    def _page_state(self, query: ListQuery) -> dict[str, Any]:
        payload = self.codec.decode(query.page_token or "")
        if not payload or payload.get("t") != "page" or payload.get("k") != query.kind:
            raise invalid_argument("Page token is not valid.")
        if payload.get("f") != query.fingerprint:
            raise invalid_argument(
                "Parameters provided with a page token must match the call that provided "
                "the page token."
            )
        return payload

    def list(self, query: ListQuery, contacts: list[Contact], current_seq: int) -> ListPage:
        """One page. ``contacts`` are every stored contact of the kind, in change order."""
        if query.page_token:
            state = self._page_state(query)
            upto, since, cursor = int(state["u"]), state.get("s"), state["c"]
        else:
            upto, cursor = current_seq, None
            since = self.since_seq(query.kind, query.sync_token) if query.sync_token else None
        incremental = since is not None
        if incremental:
            # Everything that changed since the token, deleted ones as tombstones.
            selected = [c for c in contacts if since < c.seq <= upto]
        else:
            selected = [c for c in contacts if c.state == "active" and c.seq <= upto]
        total = len(selected)
        page, next_cursor = self._slice(selected, query, cursor)
        next_page_token = None
        if next_cursor is not None:
            next_page_token = self.codec.encode(
                {
                    "t": "page",
                    "k": query.kind,
                    "f": query.fingerprint,
                    "u": upto,
                    "s": since,
                    "c": next_cursor,
                }
            )
        next_sync_token = None
        if next_cursor is None and (query.request_sync_token or incremental):
            next_sync_token = self.issue_sync_token(query.kind, upto)
        items = [c.render(query.mask, tombstone=c.state != "active") for c in page]
        return ListPage(items, total, next_page_token, next_sync_token)

    @staticmethod
    def _slice(selected: list[Contact], query: ListQuery, cursor: Any) -> tuple[list[Contact], Any]:
        if query.sort_order == "LAST_MODIFIED_ASCENDING":
            # Keyset paging on the change sequence: stable while contacts change.
            start = 0
            if cursor is not None:
                start = next((i for i, c in enumerate(selected) if c.seq > cursor), len(selected))
            page = selected[start : start + query.page_size]
            more = start + query.page_size < len(selected)
            return page, (page[-1].seq if more else None)
        ordered = sorted(selected, key=_sort_key(query.sort_order))
        offset = int(cursor or 0)
        page = ordered[offset : offset + query.page_size]
        more = offset + query.page_size < len(ordered)
        return page, (offset + query.page_size if more else None)


def _sort_key(order: str) -> Callable[[Contact], Any]:
    if order == "LAST_MODIFIED_DESCENDING":
        return lambda c: -c.seq

    part = "givenName" if order == "FIRST_NAME_ASCENDING" else "familyName"

    def by_name(contact: Contact) -> tuple[str, int]:
        names = contact.fields.get("names") or [{}]
        return (str(names[0].get(part, "")).lower() or "\uffff", contact.seq)

    return by_name


def validate_list_params(
    kind: str,
    mask: list[str],
    page_size_raw: int,
    page_token: str | None,
    sync_token: str | None,
    request_sync_token: bool,
    sort_order: str | None,
    sources: list[str],
) -> ListQuery:
    if page_size_raw < 0 or page_size_raw > 1000:
        raise invalid_argument("pageSize must be between 1 and 1000.")
    order = sort_order or "LAST_MODIFIED_ASCENDING"
    if order not in SORT_ORDERS:
        raise invalid_argument(f"Invalid value at 'sort_order', \"{order}\"")
    if (sync_token or request_sync_token) and order != "LAST_MODIFIED_ASCENDING":
        raise invalid_argument("Sync requests only support the LAST_MODIFIED_ASCENDING sort order.")
    print_fields = [
        ",".join(mask),
        sync_token or "",
        request_sync_token,
        order,
        ",".join(sorted(sources)),
    ]
    return ListQuery(
        kind=kind,
        mask=mask,
        page_size=page_size_raw or 100,
        page_token=page_token or None,
        sync_token=sync_token or None,
        request_sync_token=request_sync_token,
        sort_order=order,
        fingerprint=fingerprint(print_fields),
    )
