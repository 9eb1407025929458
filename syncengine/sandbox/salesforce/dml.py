"""The write pipeline shared by REST, collections, Bulk 2.0, lead conversion and the control API.

A batch is validated against a staged overlay of the store, so records later in the batch see the
earlier ones (unique values, duplicate rules, references) and ``allOrNone`` can discard the
overlay: nothing reaches the store until the whole batch is decided — a real rollback.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from . import ids, soql
from .errors import ApiError, invalid_type, rolled_back
from .ids import IdGenerator
from .org import FieldDef, ObjectDef, OrgDef
from .store import Record, Store, match_key, unique_key
from .validation import (
    check_required,
    check_triggers,
    check_validation_rules,
    clean_fields,
)

ACTIONS = ("insert", "update", "upsert", "delete")


@dataclass
class WriteOp:
    action: str
    sobject: str | None
    values: Record = field(default_factory=dict)
    record_id: str | None = None
    external_field: str | None = None
    # Values only the platform may set (lead conversion); applied after the API checks.
    system_values: Record = field(default_factory=dict)
    preset_error: ApiError | None = None  # a request-level problem found before the write


@dataclass
class WriteResult:
    id: str | None
    success: bool
    errors: list[ApiError] = field(default_factory=list)
    created: bool | None = None
    duplicate_ids: list[str] = field(default_factory=list)  # DUPLICATE_EXTERNAL_ID matches

    def as_json(self, with_created: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.id is not None:
            body["id"] = self.id
        body["success"] = self.success
        body["errors"] = [e.per_record() for e in self.errors]
        if with_created and self.success:
            body["created"] = bool(self.created)
        return body


@dataclass
class WriteOptions:
    all_or_none: bool = False
    bypass_fls: bool = False  # control API: edits made "as a Salesforce user", not the integration
    allow_save_duplicates: bool = False  # Sforce-Duplicate-Rule-Header: allowSave=true
    acting_user_id: str | None = None
    unable_to_lock_row_rate: float = 0.0


CLOCK_SETTING = "clock_held_at"  # ISO datetime the control API holds the clock on, if any


def now_stamp(store: Store | None = None) -> str:
    """The time of a write as Salesforce stamps it: whole seconds (always ``.000``).

    Salesforce keeps CreatedDate, LastModifiedDate, SystemModstamp and deleted dates to the
    second, so several writes in one second share a stamp. The control API can hold the clock
    on one second (``/_sandbox/clock``) to make such ties happen on purpose.
    """
    held = store.get_setting(CLOCK_SETTING) if store is not None else None
    now = soql.parse_datetime(held) if held else dt.datetime.now(dt.UTC)
    return soql.format_datetime(now.replace(microsecond=0))


class Transaction:
    """One transaction: staged record images plus the indexes they would change."""

    def __init__(self, writer: Writer, options: WriteOptions) -> None:
        self.writer = writer
        self.store = writer.store
        self.org = writer.org
        self.options = options
        self.staged: dict[str, tuple[str, Record]] = {}
        self.deleted_dates: dict[str, str] = {}
        self.stamp = now_stamp(self.store)
        self.user_id = options.acting_user_id or self.org.user.user_id

    def lookup(self, record_id: str) -> Record | None:
        staged = self.staged.get(record_id)
        return staged[1] if staged else self.store.get(record_id)

    # --- helpers -------------------------------------------------------------------------------

    def _object(self, name: str | None) -> ObjectDef:
        obj = self.org.sobject(name or "")
        if obj is None:
            raise invalid_type(name or "")
        return obj

    def _require_permission(self, obj: ObjectDef, permission: str) -> None:
        if permission not in obj.permissions and not self.options.bypass_fls:
            raise ApiError(
                "INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id", []
            )

    def existing(self, obj: ObjectDef, raw_id: Any) -> tuple[str, Record]:
        try:
            record_id = ids.to_18(raw_id)
        except ids.MalformedIdError as exc:
            raise ApiError("MALFORMED_ID", f"malformed id {raw_id}", []) from exc
        if record_id[:3] != obj.key_prefix:
            raise ApiError(
                "MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {raw_id}", ["Id"]
            )
        record = self.lookup(record_id)
        if record is None:
            raise ApiError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
        if record.get("IsDeleted"):
            raise ApiError("ENTITY_IS_DELETED", "entity is deleted", [])
        return record_id, record

    def _ids_with_unique(self, obj: ObjectDef, f: FieldDef, value: Any) -> set[str]:
        """Live records (store + this batch) whose unique field currently holds ``value``."""
        key = unique_key(value, f.case_sensitive)
        found = set()
        for record_id in self.store.find_unique(obj.name, f.name, value, f.case_sensitive):
            record = self.lookup(record_id)
            if (
                record
                and not record.get("IsDeleted")
                and record.get(f.name) is not None
                and unique_key(record[f.name], f.case_sensitive) == key
            ):
                found.add(record_id)
        for record_id, (sobject, record) in self.staged.items():
            if sobject == obj.name and not record.get("IsDeleted"):
                staged_value = record.get(f.name)
                if staged_value is not None and unique_key(staged_value, f.case_sensitive) == key:
                    found.add(record_id)
        return found

    def _compose(self, obj: ObjectDef, record: Record) -> None:
        for f in obj.fields.values():
            if f.compose:
                parts = [str(record[p]) for p in f.compose if record.get(p) not in (None, "")]
                record[f.name] = " ".join(parts) or None

    def _check(self, obj: ObjectDef, record: Record, old: Record | None, event: str) -> None:
        check_required(obj, record)
        for f in obj.unique_fields:
            value = record.get(f.name)
            if not f.unique or value in (None, ""):
                continue  # a non-unique external id may repeat (upserts on it then answer 300)
            others = self._ids_with_unique(obj, f, value) - {record["Id"]}
            if others:
                raise ApiError(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {f.name} duplicates value on record with id: "
                    f"{sorted(others)[0]}",
                    [],
                )
        check_validation_rules(self.org, obj, record)
        self._check_duplicate_rules(obj, record, old)
        check_triggers(self.org, obj, record, event)
        self._maybe_lock_failure(record["Id"] if old is not None else None)

    def _check_duplicate_rules(self, obj: ObjectDef, record: Record, old: Record | None) -> None:
        for rule in self.org.duplicate_rules:
            if rule.sobject != obj.name:
                continue
            key = match_key(record, rule.match_fields)
            if key is None or (old is not None and match_key(old, rule.match_fields) == key):
                continue  # only new or changed matching values fire the rule
            matches = set()
            for record_id in self.store.find_matches(rule.name, key):
                current = self.lookup(record_id)
                if (
                    current
                    and not current.get("IsDeleted")
                    and match_key(current, rule.match_fields) == key
                ):
                    matches.add(record_id)
            for record_id, (sobject, staged) in self.staged.items():
                if (
                    sobject == obj.name
                    and not staged.get("IsDeleted")
                    and match_key(staged, rule.match_fields) == key
                ):
                    matches.add(record_id)
            matches.discard(record["Id"])
            if not matches:
                continue
            if rule.action == "alert" and self.options.allow_save_duplicates:
                continue
            raise ApiError(
                "DUPLICATES_DETECTED",
                rule.message,
                [],
                extra={"duplicateResult": self._duplicate_result(rule, obj, sorted(matches))},
            )

    def _duplicate_result(self, rule: Any, obj: ObjectDef, matches: list[str]) -> dict[str, Any]:
        return {
            "allowSave": rule.action == "alert",
            "duplicateRule": rule.name,
            "duplicateRuleEntityType": obj.name,
            "errorMessage": rule.message,
            "matchResults": [
                {
                    "entityType": obj.name,
                    "errors": [],
                    "matchEngine": "ExactMatchEngine",
                    "matchRecords": [
                        {
                            "additionalInformation": [],
                            "fieldDiffs": [],
                            "matchConfidence": 100.0,
                            "record": {
                                "attributes": {
                                    "type": obj.name,
                                    "url": f"/services/data/v{self.org.latest_api_version}"
                                    f"/sobjects/{obj.name}/{record_id}",
                                },
                                "Id": record_id,
                            },
                        }
                        for record_id in matches
                    ],
                    "rule": rule.name.replace("Duplicate_Rule", "Match_Rule"),
                    "size": len(matches),
                    "success": True,
                }
            ],
        }

    def _maybe_lock_failure(self, record_id: str | None) -> None:
        rate = self.options.unable_to_lock_row_rate
        if rate and self.writer.rng.random() < rate:
            target = f" or 1 records: {record_id}" if record_id else ""
            raise ApiError(
                "UNABLE_TO_LOCK_ROW",
                f"unable to obtain exclusive access to this record{target}",
                [],
            )

    def _stage(self, obj: ObjectDef, record: Record) -> None:
        self.staged[record["Id"]] = (obj.name, record)

    # --- actions -------------------------------------------------------------------------------

    def insert(self, op: WriteOp) -> WriteResult:
        obj = self._object(op.sobject)
        self._require_permission(obj, "create")
        cleaned = clean_fields(
            obj,
            op.values,
            self.org,
            self.lookup,
            bypass_fls=self.options.bypass_fls,
            skip=frozenset({"Id", "id"})
            if "Id" in op.values and op.values["Id"] is None
            else frozenset(),
        )
        record: Record = {
            f.name: (f.default if f.type == "boolean" or f.type == "picklist" else None)
            for f in obj.fields.values()
        }
        record.update(cleaned)
        record.update(op.system_values)
        record_id = self.writer.id_generator.new_id(obj.key_prefix)
        record.update(
            Id=record_id,
            IsDeleted=False,
            CreatedDate=self.stamp,
            CreatedById=self.user_id,
            LastModifiedDate=self.stamp,
            LastModifiedById=self.user_id,
            SystemModstamp=self.stamp,
        )
        if "OwnerId" in obj.fields and not record.get("OwnerId"):
            record["OwnerId"] = self.user_id
        self._compose(obj, record)
        self._check(obj, record, None, "insert")
        self._stage(obj, record)
        return WriteResult(record_id, True, created=True)

    def update(self, op: WriteOp) -> WriteResult:
        obj = self._object(op.sobject)
        record_id, existing = self.existing(obj, op.record_id)
        if obj.name == "Lead" and existing.get("IsConverted") and not op.system_values:
            raise ApiError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])
        self._require_permission(obj, "edit")
        cleaned = clean_fields(
            obj,
            op.values,
            self.org,
            self.lookup,
            bypass_fls=self.options.bypass_fls,
            skip=frozenset({"Id", "id"}),
        )
        record = dict(existing)
        record.update(cleaned)
        record.update(op.system_values)
        record.update(
            LastModifiedDate=self.stamp, LastModifiedById=self.user_id, SystemModstamp=self.stamp
        )
        self._compose(obj, record)
        self._check(obj, record, existing, "update")
        self._stage(obj, record)
        return WriteResult(record_id, True, created=False)

    def upsert(self, op: WriteOp) -> WriteResult:
        obj = self._object(op.sobject)
        key_field = obj.field(op.external_field or "")
        if key_field is None or not key_field.visible:
            raise ApiError(
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: "
                f"{op.external_field}",
                [],
                status=404,
            )
        if not (key_field.external_id or key_field.name == "Id"):
            raise ApiError(
                "INVALID_FIELD",
                f"Field {key_field.name} is not an External ID or indexed field for {obj.name}",
                [key_field.name],
            )
        value = next((v for k, v in op.values.items() if k.lower() == key_field.name.lower()), None)
        if value in (None, ""):
            raise ApiError("MISSING_ARGUMENT", f"{key_field.name} not specified", [key_field.name])
        if key_field.name == "Id":
            matches = (
                {ids.to_18(value)}
                if ids.is_valid(value) and self.lookup(ids.to_18(value))
                else set()
            )
        else:
            matches = self._ids_with_unique(obj, key_field, value)
        values = {k: v for k, v in op.values.items() if k.lower() != "id"}
        if not matches:
            return self.insert(WriteOp("insert", obj.name, values, system_values=op.system_values))
        if len(matches) > 1:
            result_error = ApiError(
                "DUPLICATE_EXTERNAL_ID",
                "A user-specified external ID matches more than one record during an upsert",
                [],
            )
            raise _DuplicateExternalId(result_error, sorted(matches))
        (record_id,) = matches
        return self.update(
            WriteOp("update", obj.name, values, record_id=record_id, system_values=op.system_values)
        )

    def delete(self, op: WriteOp) -> WriteResult:
        obj = self._object(op.sobject)
        record_id, existing = self.existing(obj, op.record_id)
        self._require_permission(obj, "delete")
        check_triggers(self.org, obj, existing, "delete")
        self._maybe_lock_failure(record_id)
        record = dict(existing)
        record.update(
            IsDeleted=True,
            SystemModstamp=self.stamp,
            LastModifiedDate=self.stamp,
            LastModifiedById=self.user_id,
        )
        self.deleted_dates[record_id] = self.stamp
        self._stage(obj, record)
        return WriteResult(record_id, True)


class _DuplicateExternalId(ApiError):
    def __init__(self, error: ApiError, matches: list[str]) -> None:
        super().__init__(error.code, error.message, error.fields)
        self.matches = matches


def _failed_id(op: WriteOp) -> str | None:
    """Failed updates and deletes still name their record when its id was well-formed."""
    if op.action in ("update", "delete") and op.record_id and ids.is_valid(op.record_id):
        return ids.to_18(op.record_id)
    return None


class Writer:
    """Runs batches of writes against the store."""

    def __init__(self, store: Store, org: OrgDef, seed: int | None = None) -> None:
        self.store = store
        self.org = org
        self.id_generator = IdGenerator()
        self.rng = random.Random(seed)

    def run(self, ops: list[WriteOp], options: WriteOptions | None = None) -> list[WriteResult]:
        options = options or WriteOptions()
        with self.store.lock:
            batch = Transaction(self, options)
            results: list[WriteResult] = []
            for op in ops:
                try:
                    if op.preset_error is not None:
                        raise op.preset_error
                    results.append(getattr(batch, op.action)(op))
                except _DuplicateExternalId as exc:
                    results.append(WriteResult(None, False, [exc], duplicate_ids=exc.matches))
                except ApiError as exc:
                    results.append(WriteResult(_failed_id(op), False, [exc]))
            if options.all_or_none and not all(r.success for r in results):
                for result in results:
                    if result.success:
                        keep_id = result.id if not result.created else None
                        result.id, result.success, result.errors = keep_id, False, [rolled_back()]
                        result.created = None
                return results
            if batch.staged:
                self.store.commit(batch.staged.values(), batch.deleted_dates)
            return results

    def transaction(self, work: Any, options: WriteOptions | None = None) -> Any:
        """Run ``work(batch)`` (which calls batch.insert/update/... itself) as one transaction.

        For chains where a write needs an id created earlier (lead conversion). Any ApiError
        aborts the whole transaction; nothing is committed.
        """
        with self.store.lock:
            batch = Transaction(self, options or WriteOptions())
            outcome = work(batch)
            if batch.staged:
                self.store.commit(batch.staged.values(), batch.deleted_dates)
            return outcome

    def undelete(self, record_id: str) -> Record | None:
        """Control API: restore a record from the recycle bin."""
        with self.store.lock:
            record = self.store.get(record_id)
            obj = self.org.sobject_for_id(record_id)
            if record is None or obj is None or not record.get("IsDeleted"):
                return None
            restored = dict(record, IsDeleted=False, SystemModstamp=now_stamp(self.store))
            self.store.commit([(obj.name, restored)], {})
            return restored
