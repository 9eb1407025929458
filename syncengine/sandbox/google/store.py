"""The account's state: contacts, contact groups, settings and OAuth tokens in one SQLite file.

Contacts are also held in memory, ordered by their change sequence (a contact that changes moves
to the end), so a ``LAST_MODIFIED_ASCENDING`` page or an incremental sync is a walk along a
dict. Every API call writes through in one SQLite transaction (WAL, ``synchronous=NORMAL``).
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import credentials
from ..credentials import SettingsAndTokens
from .people import Contact

_SCHEMA = """
CREATE TABLE IF NOT EXISTS people (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,           -- contact | other
    state TEXT NOT NULL,          -- active | trash | gone
    seq INTEGER NOT NULL,
    trashed_at REAL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS contact_groups (id TEXT PRIMARY KEY, data TEXT NOT NULL);
"""


DEFAULT_PROPAGATION_DELAY = 120.0


def now_stamp(at: float | None = None) -> str:
    """RFC 3339 with microseconds, as Google writes ``updateTime``."""
    moment = datetime.now(UTC) if at is None else datetime.fromtimestamp(at, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Version:
    """One saved state of a contact and when it was saved (sandbox clock)."""

    at: float
    seq: int
    state: str
    trashed_at: float | None
    data: str  # the stored row's JSON


class Store(SettingsAndTokens):
    """Thread-safe state of one Google account. Callers hold ``lock`` around read-modify-write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        self._rng = random.SystemRandom()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA + credentials.TABLES)
        self.clock_offset = float(self.get_setting("clock_offset_seconds", 0.0))
        self._load()

    # --- the sandbox clock ---------------------------------------------------------------------

    def clock(self) -> float:
        """Now, as the account sees it: wall time plus what the control API advanced it by."""
        return time.time() + self.clock_offset

    def advance_clock(self, seconds: float) -> float:
        with self.lock:
            self.clock_offset += seconds
            self.set_setting("clock_offset_seconds", self.clock_offset)
        return self.clock()

    def reset_clock(self) -> None:
        with self.lock:
            self.clock_offset = 0.0
            self.delete_setting("clock_offset_seconds")

    def propagation_delay(self) -> float:
        return float(self.get_setting("propagation_delay_seconds", DEFAULT_PROPAGATION_DELAY))

    def _load(self) -> None:
        # Writes still propagating to sync answers (in memory: a restart publishes them all).
        self.versions: dict[str, list[Version]] = {}
        self.change_times: deque[tuple[int, float]] = deque()
        self._rows: dict[str, Version] = {}
        self.contacts: dict[str, Contact] = {}
        self.seq = int(self.get_setting("seq_base", 0))
        rows = self._db.execute(
            "SELECT id, kind, state, seq, trashed_at, data FROM people ORDER BY seq"
        )
        for contact_id, kind, state, seq, trashed_at, data in rows:
            stored = json.loads(data)
            self.contacts[contact_id] = Contact(
                id=contact_id,
                kind=kind,
                state=state,
                seq=seq,
                update_time=stored["update_time"],
                source_id=stored["source_id"],
                fields=stored["fields"],
                groups=stored["groups"],
                trashed_at=trashed_at,
            )
            self.seq = max(self.seq, seq)
            self._rows[contact_id] = Version(0.0, seq, state, trashed_at, data)
        self.groups: dict[str, dict[str, Any]] = {}
        # Deleted user groups, reported as deleted to contactGroups.list sync requests.
        self.group_tombstones: dict[str, dict[str, Any]] = {}
        for group_id, data in self._db.execute("SELECT id, data FROM contact_groups"):
            group = json.loads(data)
            (self.group_tombstones if group.get("deleted") else self.groups)[group_id] = group
            self.seq = max(self.seq, int(group.get("seq", 0)))

    # --- contacts ------------------------------------------------------------------------------

    def new_id(self) -> str:
        """``c`` and 19 digits, like Google's contact ids."""
        while True:
            contact_id = f"c{self._rng.randrange(10**18, 9 * 10**18)}"
            if contact_id not in self.contacts:
                return contact_id

    def new_source_id(self) -> str:
        return f"{self._rng.getrandbits(64):016x}"

    def touch(self, contact: Contact) -> None:
        """Give ``contact`` the next change sequence (a new etag and updateTime)."""
        self.seq += 1
        contact.seq = self.seq
        now = self.clock()
        contact.update_time = now_stamp(now)
        self.change_times.append((self.seq, now))

    def save(self, contacts: Iterable[Contact]) -> None:
        """Persist contacts in one transaction and move them to the end of the change order."""
        batch = list(contacts)
        rows = [
            (
                c.id,
                c.kind,
                c.state,
                c.seq,
                c.trashed_at,
                json.dumps(c.to_row(), separators=(",", ":")),
            )
            for c in batch
        ]
        with self.lock:
            self._record_versions(rows)
            self._transaction(
                "INSERT OR REPLACE INTO people (id, kind, state, seq, trashed_at, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            for contact in batch:
                self.contacts.pop(contact.id, None)
                self.contacts[contact.id] = contact

    def _record_versions(self, rows: list[tuple[Any, ...]]) -> None:
        """Keep each saved state while sync answers may still show the one before it."""
        delay = self.propagation_delay()
        now = self.clock()
        for contact_id, _kind, state, seq, trashed_at, data in rows:
            version = Version(now, seq, state, trashed_at, data)
            previous = self._rows.get(contact_id)
            self._rows[contact_id] = version
            if delay <= 0:
                continue
            history = self.versions.get(contact_id)
            if history is None:
                # What sync answers show until this write has propagated (nothing for a new one).
                history = self.versions[contact_id] = []
                if previous is not None:
                    history.append(replace(previous, at=float("-inf")))
            history.append(version)

    def sync_view(self, kind: str) -> tuple[list[Contact], int]:
        """What a sync request sees: each contact as of its last propagated write, in change
        order, and the change sequence up to which every write has propagated. A write reaches
        sync answers ``propagation_delay_seconds`` after it was made (Google: "Writes may have a
        propagation delay of several minutes for sync requests")."""
        cutoff = self.clock() - self.propagation_delay()
        while self.change_times and self.change_times[0][1] <= cutoff:
            self.change_times.popleft()
        upto = self.change_times[0][0] - 1 if self.change_times else self.seq
        if not self.versions:
            return [c for c in self.contacts.values() if c.kind == kind], upto
        shown: list[Contact] = []
        for contact in self.contacts.values():
            if contact.kind != kind:
                continue
            history = self.versions.get(contact.id)
            if history is None:
                shown.append(contact)
                continue
            visible = [v for v in history if v.at <= cutoff]
            if visible and visible[-1] is history[-1]:
                del self.versions[contact.id]  # fully propagated
                shown.append(contact)
            elif visible:
                self.versions[contact.id] = history[history.index(visible[-1]) :]
                shown.append(_contact_at(contact, visible[-1]))
        shown.sort(key=lambda c: c.seq)
        return shown, upto

    def _transaction(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self._db.execute("BEGIN")
        try:
            self._db.executemany(sql, rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def live(self, kind: str) -> Iterator[Contact]:
        return (c for c in list(self.contacts.values()) if c.kind == kind and c.state == "active")

    def find(self, resource_name: str, kind: str = "contact") -> Contact | None:
        """A live contact by ``people/c…`` / ``otherContacts/c…`` (or a bare id)."""
        contact_id = resource_name.rpartition("/")[2]
        contact = self.contacts.get(contact_id)
        if contact is None or contact.kind != kind or contact.state != "active":
            return None
        return contact

    def stored_count(self) -> int:
        """What counts toward the account limit: contacts, Other contacts and Trash."""
        return sum(1 for c in self.contacts.values() if c.state != "gone")

    # --- contact groups ------------------------------------------------------------------------

    def next_seq(self) -> int:
        """The next change sequence (contact groups share the contacts' change log)."""
        self.seq += 1
        return self.seq

    def save_group(self, group: dict[str, Any]) -> None:
        with self.lock:
            self.group_tombstones.pop(group["id"], None)
            self._db.execute(
                "INSERT OR REPLACE INTO contact_groups (id, data) VALUES (?, ?)",
                (group["id"], json.dumps(group)),
            )
            self.groups[group["id"]] = group

    def delete_group(self, group_id: str) -> None:
        with self.lock:
            group = self.groups.pop(group_id, None)
            if group is None:
                return
            tombstone = {
                "id": group_id,
                "deleted": True,
                "seq": self.next_seq(),
                "update_time": now_stamp(self.clock()),
            }
            self._db.execute(
                "INSERT OR REPLACE INTO contact_groups (id, data) VALUES (?, ?)",
                (group_id, json.dumps(tombstone)),
            )
            self.group_tombstones[group_id] = tombstone

    # --- settings ------------------------------------------------------------------------------

    # --- reset ---------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every contact and user group; the change sequence keeps counting."""
        with self.lock:
            self._db.execute("DELETE FROM people")
            self._db.execute("DELETE FROM contact_groups")
            self.set_setting("seq_base", self.seq)
            self._load()

    def close(self) -> None:
        with self.lock:
            self._db.close()


def _contact_at(contact: Contact, version: Version) -> Contact:
    """``contact`` as it was saved in ``version``."""
    stored = json.loads(version.data)
    return Contact(
        id=contact.id,
        kind=contact.kind,
        state=version.state,
        seq=version.seq,
        update_time=stored["update_time"],
        source_id=stored["source_id"],
        fields=stored["fields"],
        groups=stored["groups"],
        trashed_at=version.trashed_at,
    )
