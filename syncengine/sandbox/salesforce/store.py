"""The org's state: records, API usage, OAuth tokens, settings and bulk jobs in one SQLite file.

Records are also held in memory (loaded at start, written through on every commit) because SOQL
is evaluated in Python and the write path must be fast: one SQLite transaction with
``executemany`` per API call, WAL journal, and ``synchronous=NORMAL`` (durable enough for a
sandbox, and it keeps a collections call well under a millisecond of fsync time).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .. import credentials
from ..credentials import SettingsAndTokens
from . import soql
from .org import OrgDef, UserDef

Record = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    sobject TEXT NOT NULL,
    data TEXT NOT NULL,
    deleted_date TEXT
);
CREATE TABLE IF NOT EXISTS api_usage (
    minute INTEGER PRIMARY KEY,   -- epoch minute; the rolling 24 h window sums 1440 of them
    calls INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS bulk_jobs (
    id TEXT PRIMARY KEY,
    info TEXT NOT NULL,
    upload TEXT NOT NULL DEFAULT '',
    results TEXT
);
"""

WINDOW_MINUTES = 24 * 60


def user_record(user: UserDef, stamp: str, creator: str) -> Record:
    """The User record of a user of the org file."""
    first, _, last = user.name.rpartition(" ")
    return {
        "Id": user.user_id,
        "Username": user.username,
        "FirstName": first or None,
        "LastName": last,
        "Name": user.name,
        "Email": user.email,
        "IsActive": user.active,
        "CreatedDate": stamp,
        "CreatedById": creator,
        "LastModifiedDate": stamp,
        "LastModifiedById": creator,
        "SystemModstamp": stamp,
    }


def unique_key(value: Any, case_sensitive: bool) -> str:
    text = str(value)
    return text if case_sensitive else text.lower()


def match_key(record: Record, fields: list[str]) -> tuple[str, ...] | None:
    """A duplicate rule's key: the lowercased matched fields, or None when any is blank."""
    values = [record.get(f) for f in fields]
    if any(v in (None, "") for v in values):
        return None
    return tuple(str(v).strip().lower() for v in values)


class Store(SettingsAndTokens):
    """Thread-safe state of one org. Callers hold ``lock`` around read-modify-write sequences."""

    def __init__(self, path: Path, org: OrgDef) -> None:
        self.path = path
        self.org = org
        self.lock = threading.RLock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA + credentials.TABLES)
        self._load_records()

    # --- records -------------------------------------------------------------------------------

    def _load_records(self) -> None:
        self.records: dict[str, Record] = {}
        self.by_sobject: dict[str, dict[str, Record]] = {name: {} for name in self.org.objects}
        self.deleted_dates: dict[str, str] = {}
        # (sobject, field) -> normalised value -> ids of live records holding it
        self.unique_index: dict[tuple[str, str], dict[str, set[str]]] = {
            (o.name, f.name): {} for o in self.org.objects.values() for f in o.unique_fields
        }
        # duplicate rule name -> match key -> ids of live records, so rules never scan a table
        self.match_index: dict[str, dict[tuple[str, ...], set[str]]] = {
            rule.name: {} for rule in self.org.duplicate_rules
        }
        for record_id, sobject, data, deleted_date in self._db.execute(
            "SELECT id, sobject, data, deleted_date FROM records"
        ):
            if sobject not in self.by_sobject:
                continue  # the org file no longer defines this object
            record = json.loads(data)
            self._remember(record_id, sobject, record)
            if deleted_date:
                self.deleted_dates[record_id] = deleted_date
        self._seed_users()

    def _seed_users(self) -> None:
        """The org file's users become User records (once: later changes made through the
        control API, such as a deactivation, are kept)."""
        stamp = soql.format_datetime(dt.datetime.now(dt.UTC).replace(microsecond=0))
        creator = self.org.user.user_id
        missing = [u for u in self.org.users if u.user_id not in self.records]
        if missing:
            self.commit([("User", user_record(u, stamp, creator)) for u in missing], {})

    def _index(self, sobject: str, record: Record, add: bool) -> None:
        if record.get("IsDeleted"):
            return
        obj = self.org.objects[sobject]
        for f in obj.unique_fields:
            value = record.get(f.name)
            if value in (None, ""):
                continue
            bucket = self.unique_index[(sobject, f.name)].setdefault(
                unique_key(value, f.case_sensitive), set()
            )
            if add:
                bucket.add(record["Id"])
            else:
                bucket.discard(record["Id"])
        for rule in self.org.duplicate_rules:
            if rule.sobject != sobject:
                continue
            key = match_key(record, rule.match_fields)
            if key is None:
                continue
            bucket = self.match_index[rule.name].setdefault(key, set())
            if add:
                bucket.add(record["Id"])
            else:
                bucket.discard(record["Id"])

    def _remember(self, record_id: str, sobject: str, record: Record) -> None:
        old = self.records.get(record_id)
        if old is not None:
            self._index(sobject, old, add=False)
        self.records[record_id] = record
        self.by_sobject[sobject][record_id] = record
        self._index(sobject, record, add=True)

    def get(self, record_id: str) -> Record | None:
        return self.records.get(record_id)

    def iter_sobject(self, sobject: str) -> Iterator[Record]:
        return iter(list(self.by_sobject.get(sobject, {}).values()))

    def find_unique(self, sobject: str, field: str, value: Any, case_sensitive: bool) -> set[str]:
        """Ids of live records whose unique/external-id ``field`` equals ``value``."""
        index = self.unique_index.get((sobject, field))
        if index is None:
            return set()
        return set(index.get(unique_key(value, case_sensitive), ()))

    def find_matches(self, rule_name: str, key: tuple[str, ...]) -> set[str]:
        return set(self.match_index.get(rule_name, {}).get(key, ()))

    def commit(self, records: Iterable[tuple[str, Record]], deleted_dates: dict[str, str]) -> None:
        """Persist full record images (sobject, record) in one transaction, then index them."""
        rows = []
        batch = list(records)
        for sobject, record in batch:
            record_id = record["Id"]
            deleted = deleted_dates.get(record_id) if record.get("IsDeleted") else None
            rows.append((record_id, sobject, json.dumps(record, separators=(",", ":")), deleted))
        with self.lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO records (id, sobject, data, deleted_date) "
                    "VALUES (?, ?, ?, ?)",
                    rows,
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            for (sobject, record), row in zip(batch, rows, strict=True):
                self._remember(record["Id"], sobject, record)
                if row[3]:
                    self.deleted_dates[record["Id"]] = row[3]
                else:
                    self.deleted_dates.pop(record["Id"], None)

    def empty_recycle_bin(self, record_ids: Iterable[str] | None = None) -> list[str]:
        """Remove deleted records for good (all, or those of `record_ids`), as emptying the
        recycle bin does; the delete log keeps them (id, sobject, deleted date) until purged."""
        with self.lock:
            wanted = None if record_ids is None else set(record_ids)
            gone = [
                (rid, sobject, self.deleted_dates.get(rid, ""))
                for sobject, records in self.by_sobject.items()
                for rid, record in records.items()
                if record.get("IsDeleted") and (wanted is None or rid in wanted)
            ]
            self._db.executemany("DELETE FROM records WHERE id = ?", [(g[0],) for g in gone])
            for rid, sobject, _ in gone:
                self.records.pop(rid, None)
                self.by_sobject[sobject].pop(rid, None)
                self.deleted_dates.pop(rid, None)
            log = self.get_setting("delete_log", [])
            self.set_setting("delete_log", log + [list(g) for g in gone])
        return [g[0] for g in gone]

    def purged_deletes(self, sobject: str) -> dict[str, str]:
        """Records emptied from the recycle bin that the delete log still holds: id → date."""
        log = self.get_setting("delete_log", [])
        return {rid: date for rid, obj, date in log if obj == sobject}

    def reset_records(self) -> None:
        with self.lock:
            self._db.execute("DELETE FROM records")
            self._db.execute("DELETE FROM bulk_jobs")
            self._load_records()

    # --- API usage (rolling 24 hours) ----------------------------------------------------------

    def count_api_call(self, now: float | None = None) -> int:
        """Record one call and return the usage over the last 24 hours, this call included."""
        minute = int((now or time.time()) // 60)
        with self.lock:
            self._db.execute(
                "INSERT INTO api_usage (minute, calls) VALUES (?, 1) "
                "ON CONFLICT(minute) DO UPDATE SET calls = calls + 1",
                (minute,),
            )
            return self.api_calls_used(now)

    def api_calls_used(self, now: float | None = None) -> int:
        minute = int((now or time.time()) // 60)
        with self.lock:
            (used,) = self._db.execute(
                "SELECT COALESCE(SUM(calls), 0) FROM api_usage WHERE minute > ?",
                (minute - WINDOW_MINUTES,),
            ).fetchone()
        return int(used)

    def set_api_calls_used(self, used: int) -> None:
        """Control API: pretend ``used`` calls happened in the last minute (tests of the limit)."""
        with self.lock:
            self._db.execute("DELETE FROM api_usage")
            if used > 0:
                self._db.execute(
                    "INSERT INTO api_usage (minute, calls) VALUES (?, ?)",
                    (int(time.time() // 60), used),
                )

    # --- settings ------------------------------------------------------------------------------

    # --- bulk jobs -----------------------------------------------------------------------------

    def save_job(self, job_id: str, info: dict[str, Any]) -> None:
        with self.lock:
            self._db.execute(
                "INSERT INTO bulk_jobs (id, info) VALUES (?, ?) "
                "ON CONFLICT(id) DO UPDATE SET info = excluded.info",
                (job_id, json.dumps(info)),
            )

    def load_job(self, job_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self._db.execute("SELECT info FROM bulk_jobs WHERE id = ?", (job_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def list_jobs(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self._db.execute("SELECT info FROM bulk_jobs ORDER BY rowid").fetchall()
        return [json.loads(r[0]) for r in rows]

    def append_job_upload(self, job_id: str, csv_text: str) -> None:
        with self.lock:
            self._db.execute(
                "UPDATE bulk_jobs SET upload = upload || ? WHERE id = ?", (csv_text, job_id)
            )

    def job_upload(self, job_id: str) -> str:
        with self.lock:
            row = self._db.execute(
                "SELECT upload FROM bulk_jobs WHERE id = ?", (job_id,)
            ).fetchone()
        return row[0] if row else ""

    def save_job_results(self, job_id: str, results: dict[str, Any]) -> None:
        with self.lock:
            self._db.execute(
                "UPDATE bulk_jobs SET results = ? WHERE id = ?", (json.dumps(results), job_id)
            )

    def job_results(self, job_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self._db.execute(
                "SELECT results FROM bulk_jobs WHERE id = ?", (job_id,)
            ).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def delete_job(self, job_id: str) -> bool:
        with self.lock:
            return self._db.execute("DELETE FROM bulk_jobs WHERE id = ?", (job_id,)).rowcount == 1

    def close(self) -> None:
        with self.lock:
            self._db.close()
