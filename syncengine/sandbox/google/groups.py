"""Contact groups: the system groups (myContacts, starred, …), user groups and memberships."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from .errors import ApiError, failed_precondition, invalid_argument, not_found
from .people import Contact
from .store import Store, now_stamp

MY_CONTACTS, STARRED = "myContacts", "starred"
# id -> formatted name. Only myContacts and starred take members; the others are deprecated.
SYSTEM_GROUPS = {
    MY_CONTACTS: "My Contacts",
    STARRED: "Starred",
    "chatBuddies": "Chat contacts",
    "all": "All Contacts",
    "friends": "Friends",
    "family": "Family",
    "coworkers": "Coworkers",
    "blocked": "Blocked",
}
WRITABLE_SYSTEM_GROUPS = {MY_CONTACTS, STARRED}
GROUP_FIELDS = {"clientData", "groupType", "memberCount", "metadata", "name"}
DEFAULT_GROUP_FIELDS = ["metadata", "groupType", "memberCount", "name"]
MAX_MODIFY = 1000


def group_id_of(resource_name: str) -> str:
    return resource_name.removeprefix("contactGroups/")


def parse_group_fields(raw: str | None) -> list[str]:
    if not raw:
        return DEFAULT_GROUP_FIELDS
    fields = [part.strip() for part in raw.split(",") if part.strip()]
    for name in fields:
        if name not in GROUP_FIELDS:
            raise invalid_argument(f'Invalid groupFields mask path: "{name}".')
    return fields


class Groups:
    def __init__(self, store: Store) -> None:
        self.store = store

    def exists(self, group_id: str) -> bool:
        return group_id in SYSTEM_GROUPS or group_id in self.store.groups

    def check_assignable(self, group_id: str) -> None:
        if group_id in SYSTEM_GROUPS and group_id not in WRITABLE_SYSTEM_GROUPS:
            raise failed_precondition("Cannot add contacts to deprecated system contact group")
        if not self.exists(group_id):
            raise ApiError(
                400, "INVALID_ARGUMENT", f"Contact group not found: contactGroups/{group_id}"
            )

    def members(self, group_id: str) -> list[Contact]:
        return [c for c in self.store.live("contact") if group_id in c.groups]

    def ids(self) -> list[str]:
        return list(SYSTEM_GROUPS) + sorted(self.store.groups)

    def changed_since(self, since: int, upto: int) -> list[str]:
        """User groups created, changed or deleted after change ``since`` (up to ``upto``), in
        change order (system groups never change)."""
        changed = [
            g
            for g in [*self.store.groups.values(), *self.store.group_tombstones.values()]
            if since < int(g.get("seq", 0)) <= upto
        ]
        return [g["id"] for g in sorted(changed, key=lambda g: int(g.get("seq", 0)))]

    def render_tombstone(self, group_id: str) -> dict[str, Any]:
        """A deleted group as sync requests show it: ``metadata.deleted``, nothing else."""
        stamp = self.store.group_tombstones[group_id]["update_time"]
        return {
            "resourceName": f"contactGroups/{group_id}",
            "etag": _etag(f"{group_id}:{stamp}:deleted"),
            "metadata": {"updateTime": stamp, "deleted": True},
        }

    def render(self, group_id: str, fields: list[str], max_members: int = 0) -> dict[str, Any]:
        user_group = self.store.groups.get(group_id)
        if user_group is None and group_id not in SYSTEM_GROUPS:
            raise not_found()
        members = self.members(group_id)
        stamp = user_group["update_time"] if user_group else "2011-05-05T00:00:00.000Z"
        group: dict[str, Any] = {
            "resourceName": f"contactGroups/{group_id}",
            "etag": _etag(f"{group_id}:{stamp}:{len(members)}"),
        }
        if "metadata" in fields:
            group["metadata"] = {"updateTime": stamp}
        if "groupType" in fields:
            group["groupType"] = "USER_CONTACT_GROUP" if user_group else "SYSTEM_CONTACT_GROUP"
        if "name" in fields:
            group["name"] = user_group["name"] if user_group else group_id
            group["formattedName"] = user_group["name"] if user_group else SYSTEM_GROUPS[group_id]
        if "clientData" in fields and user_group and user_group.get("clientData"):
            group["clientData"] = user_group["clientData"]
        if "memberCount" in fields and members:
            group["memberCount"] = len(members)
        if max_members > 0 and members:
            group["memberResourceNames"] = [c.resource_name for c in members[:max_members]]
        return group

    def create(self, name: str, client_data: list[dict[str, str]] | None = None) -> str:
        self._check_name(name, None)
        group_id = f"{int.from_bytes(hashlib.sha1(name.encode()).digest()[:6], 'big'):x}"
        while group_id in self.store.groups:
            group_id += "0"
        self.store.save_group(
            {
                "id": group_id,
                "name": name,
                "clientData": client_data,
                "update_time": now_stamp(self.store.clock()),
                "seq": self.store.next_seq(),
            }
        )
        return group_id

    def update(self, group_id: str, body: dict[str, Any], fields: list[str]) -> None:
        group = self.store.groups.get(group_id)
        if group is None:
            if group_id in SYSTEM_GROUPS:
                raise failed_precondition("System contact groups cannot be modified.")
            raise not_found()
        if "name" in fields:
            self._check_name(str(body.get("name") or ""), group_id)
            group["name"] = body["name"]
        if "clientData" in fields:
            group["clientData"] = body.get("clientData")
        group["update_time"] = now_stamp(self.store.clock())
        group["seq"] = self.store.next_seq()
        self.store.save_group(group)

    def _check_name(self, name: str, own_id: str | None) -> None:
        if not name.strip():
            raise invalid_argument("Contact group name must not be empty.")
        for group in self.store.groups.values():
            if group["name"] == name and group["id"] != own_id:
                raise ApiError(409, "ALREADY_EXISTS", "Contact group name already exists.")
        if name in SYSTEM_GROUPS:
            raise ApiError(409, "ALREADY_EXISTS", "Contact group name already exists.")

    def modify_members(
        self, group_id: str, add: list[str], remove: list[str]
    ) -> tuple[dict[str, Any], list[Contact]]:
        """members:modify. Returns the answer and the contacts whose memberships changed."""
        if len(add) + len(remove) > MAX_MODIFY:
            raise invalid_argument(
                f"Cannot modify more than {MAX_MODIFY} members of a contact group at once."
            )
        if not self.exists(group_id):
            raise not_found()
        if add:
            self.check_assignable(group_id)
        not_found_names: list[str] = []
        last_group: list[str] = []
        changed: dict[str, Contact] = {}
        for name in add:
            contact = self.store.find(name)
            if contact is None:
                not_found_names.append(name)
            elif group_id not in contact.groups:
                contact.groups.append(group_id)
                changed[contact.id] = contact
        for name in remove:
            contact = self.store.find(name)
            if contact is None:
                not_found_names.append(name)
                continue
            if group_id not in contact.groups:
                continue
            remaining = [g for g in contact.groups if g not in (group_id, STARRED)]
            if not remaining and group_id != STARRED:
                # A contact must stay in at least one real group (starred does not count).
                last_group.append(name)
                continue
            contact.groups.remove(group_id)
            changed[contact.id] = contact
        answer: dict[str, Any] = {}
        if not_found_names:
            answer["notFoundResourceNames"] = not_found_names
        if last_group:
            answer["canNotRemoveLastContactGroupResourceNames"] = last_group
        return answer, list(changed.values())


def _etag(text: str) -> str:
    return base64.b64encode(hashlib.sha1(text.encode()).digest()).decode()[:16]
