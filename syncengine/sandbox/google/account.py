"""Writes to the account's contacts, shared by the People API and the control API.

Every write checks the account limits (the contact count, counting Other contacts and Trash,
and the per-contact size), gives each changed contact the next change sequence and persists the
lot in one transaction. Callers hold ``store.lock``.
"""

from __future__ import annotations

from typing import Any

from .errors import contact_limit_exceeded, contact_too_large, memberships_required, not_found
from .groups import MY_CONTACTS, STARRED, Groups
from .people import DEFAULT_REGION, Contact, membership_group_ids, normalise_person
from .store import Store

DEFAULT_CONTACT_LIMIT = 25_000
DEFAULT_CONTACT_SIZE_LIMIT = 128 * 1024
DEFAULT_TRASH_RETENTION_DAYS = 30


class Account:
    def __init__(self, store: Store, groups: Groups) -> None:
        self.store = store
        self.groups = groups

    # --- limits --------------------------------------------------------------------------------

    def contact_limit(self) -> int:
        return int(self.store.get_setting("contact_limit", DEFAULT_CONTACT_LIMIT))

    def size_limit(self) -> int:
        return int(self.store.get_setting("contact_size_limit_bytes", DEFAULT_CONTACT_SIZE_LIMIT))

    def trash_retention_seconds(self) -> float:
        days = float(self.store.get_setting("trash_retention_days", DEFAULT_TRASH_RETENTION_DAYS))
        return days * 86400

    def region(self) -> str:
        """The account's country (ISO 3166 alpha-2): where national phone numbers belong."""
        return str(self.store.get_setting("account_region", DEFAULT_REGION))

    def room(self) -> int:
        """How many more contacts fit before the account limit."""
        self.purge_expired_trash()
        return self.contact_limit() - self.store.stored_count()

    def check_size(self, contact: Contact) -> None:
        limit = self.size_limit()
        if contact.size_bytes() > limit:
            raise contact_too_large(limit)

    # --- building contacts ---------------------------------------------------------------------

    def build(self, body: dict[str, Any], kind: str = "contact") -> Contact:
        """A new, unsaved contact from a client's Person (validated, normalised)."""
        fields = normalise_person(body, region=self.region())
        groups: list[str] = []
        if kind == "contact":
            requested = membership_group_ids(body)
            groups = [MY_CONTACTS] if requested is None else requested
            for group_id in groups:
                self.groups.check_assignable(group_id)
        contact = Contact(
            id=self.store.new_id(),
            kind=kind,
            state="active",
            seq=0,
            update_time="",
            source_id=self.store.new_source_id(),
            fields=fields,
            groups=groups,
        )
        return contact

    def apply_update(self, contact: Contact, body: dict[str, Any], fields: list[str]) -> Contact:
        """A changed copy of ``contact`` (unsaved): ``fields`` replaced from ``body``."""
        updated = Contact(**{**contact.__dict__, "fields": dict(contact.fields)})
        updated.groups = list(contact.groups)
        for name, items in normalise_person(body, fields, self.region()).items():
            if items:
                updated.fields[name] = items
            else:
                updated.fields.pop(name, None)
        if "memberships" in fields:
            requested = membership_group_ids(body) or []
            if not requested:
                # Google: "The server returns a 400 error if memberships are being updated and
                # there are no contact group memberships specified on the person."
                raise memberships_required()
            for group_id in requested:
                if group_id not in contact.groups:
                    self.groups.check_assignable(group_id)
            updated.groups = requested
        return updated

    # --- writes --------------------------------------------------------------------------------

    def create(self, contacts: list[Contact]) -> list[Contact]:
        """Save new contacts; all must fit (size and account limit) or none is saved."""
        for contact in contacts:
            self.check_size(contact)
        if self.room() < len(contacts):
            raise contact_limit_exceeded(self.contact_limit())
        for contact in contacts:
            self.store.touch(contact)
        self.store.save(contacts)
        return contacts

    def save_changes(self, contacts: list[Contact]) -> list[Contact]:
        for contact in contacts:
            self.check_size(contact)
        for contact in contacts:
            self.store.touch(contact)
        self.store.save(contacts)
        return contacts

    def trash(self, contacts: list[Contact]) -> None:
        """deleteContact: the contact goes to Trash (still counted) and syncs as deleted."""
        now = self.store.clock()
        for contact in contacts:
            contact.state = "trash"
            contact.trashed_at = now
        self.save_changes(contacts)

    def restore(self, contact_id: str) -> Contact:
        contact = self.store.contacts.get(contact_id.rpartition("/")[2])
        if contact is None or contact.state != "trash":
            raise not_found()
        contact.state = "active"
        contact.trashed_at = None
        self.save_changes([contact])
        return contact

    def trashed(self) -> list[Contact]:
        self.purge_expired_trash()
        return [c for c in self.store.contacts.values() if c.state == "trash"]

    def empty_trash(self, older_than: float | None = None) -> int:
        """Delete trashed contacts for good (all, or those trashed before ``older_than``)."""
        purged = [
            c
            for c in self.store.contacts.values()
            if c.state == "trash" and (older_than is None or (c.trashed_at or 0) < older_than)
        ]
        for contact in purged:
            contact.state = "gone"
            contact.trashed_at = None
        if purged:
            # Purging is not a change a sync reports again: the tombstone keeps its sequence.
            self.store.save(purged)
        return len(purged)

    def purge_expired_trash(self) -> None:
        self.empty_trash(older_than=self.store.clock() - self.trash_retention_seconds())

    def delete_other(self, contact: Contact) -> None:
        contact.state = "gone"
        self.save_changes([contact])

    def move_to_other(self, contact: Contact) -> Contact:
        """As the user: the contact leaves "Contacts" (a tombstone) and becomes an Other contact."""
        keep = {k: v for k, v in contact.fields.items() if k in ("names", "emailAddresses")}
        keep["phoneNumbers"] = contact.fields.get("phoneNumbers", [])
        other = Contact(
            id=self.store.new_id(),
            kind="other",
            state="active",
            seq=0,
            update_time="",
            source_id=self.store.new_source_id(),
            fields={k: v for k, v in keep.items() if v},
        )
        contact.state = "gone"
        self.store.touch(contact)
        self.store.touch(other)
        self.store.save([contact, other])
        return other

    def set_starred(self, contact: Contact, starred: bool) -> Contact:
        if starred and STARRED not in contact.groups:
            contact.groups.append(STARRED)
        elif not starred and STARRED in contact.groups:
            contact.groups.remove(STARRED)
        else:
            return contact
        return self.save_changes([contact])[0]
