"""Field-level checks (types, lengths, picklists, references, FLS) and the org's rules.

Messages follow Salesforce's wording (reference §5.3) and use the field *label*, as Salesforce does.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from . import ids, soql
from .errors import ApiError, no_such_column
from .org import NUMBER_TYPES, TEXT_TYPES, FieldDef, ObjectDef, OrgDef, TriggerDef

Record = dict[str, Any]
Lookup = Callable[[str], Record | None]

# Close to Salesforce's own check: something@something.tld, no spaces.
_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def not_writable(fields: list[str]) -> ApiError:
    return ApiError(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to create/update fields: {', '.join(fields)}. Please check the security settings "
        "of this field and verify that it is read/write for your profile or permission set.",
        fields,
    )


def _wrong_type(f: FieldDef, value: Any) -> ApiError:
    return ApiError(
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
        f"{f.label}: value not of required type: {value}",
        [f.name],
    )


def _coerce_number(f: FieldDef, value: Any) -> int | float:
    if isinstance(value, bool):
        raise _wrong_type(f, value)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError as exc:
            raise _wrong_type(f, value) from exc
    if not isinstance(value, int | float):
        raise _wrong_type(f, value)
    if f.type == "int":
        if value != int(value):
            raise _wrong_type(f, value)
        value = int(value)
    elif f.scale == 0 and value == int(value):
        value = int(value)
    else:
        value = round(float(value), f.scale)
    limit = 10 ** (f.precision - f.scale)
    out_of_range = abs(value) >= limit
    if f.minimum is not None and value < f.minimum:
        out_of_range = True
    if f.maximum is not None and value > f.maximum:
        out_of_range = True
    if out_of_range:
        raise ApiError(
            "NUMBER_OUTSIDE_VALID_RANGE",
            f"{f.label}: value outside of valid range on numeric field: {value}",
            [f.name],
        )
    return value


def _coerce_reference(f: FieldDef, value: Any, org: OrgDef, lookup: Lookup) -> str:
    try:
        record_id = ids.to_18(value)
    except ids.MalformedIdError as exc:
        raise ApiError(
            "MALFORMED_ID", f"{f.label}: id value of incorrect type: {value}", [f.name]
        ) from exc
    target = org.sobject_for_id(record_id)
    if f.reference_to == ["User"] and target is not None and target.name == "User":
        user = lookup(record_id)
        if user is None:
            raise ApiError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [f.name])
        if not user.get("IsActive"):
            # Salesforce names no field here (its Apex form reads "...inactive user: []"), and
            # refuses a deactivated user as owner whatever else the write changes.
            raise ApiError("INACTIVE_OWNER_OR_USER", "operation performed with inactive user", [])
        return record_id
    if target is None or target.name not in f.reference_to:
        raise ApiError(
            "FIELD_INTEGRITY_EXCEPTION",
            f"{f.label}: id value of incorrect type: {value}",
            [f.name],
        )
    referenced = lookup(record_id)
    if referenced is None or referenced.get("IsDeleted"):
        # Salesforce: "A record with the specified ID does not exist" (or sits in the bin).
        raise ApiError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [f.name])
    return record_id


def coerce_value(f: FieldDef, value: Any, org: OrgDef, lookup: Lookup) -> Any:
    """Validate one incoming value and return it in the stored (wire) representation."""
    if value is None or (value == "" and f.type != "boolean"):
        return False if f.type == "boolean" else None
    if f.type in TEXT_TYPES:
        if isinstance(value, bool | dict | list):
            raise _wrong_type(f, value)
        text = str(value)
        if len(text) > f.length:
            raise ApiError(
                "STRING_TOO_LONG",
                f"{f.label}: data value too large: {text} (max length={f.length})",
                [f.name],
            )
        if f.type == "email" and not _EMAIL_RE.match(text):
            raise ApiError(
                "INVALID_EMAIL_ADDRESS", f"{f.label}: invalid email address: {text}", [f.name]
            )
        if f.type == "picklist" and f.restricted and text not in f.values:
            raise ApiError(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{f.label}: bad value for restricted picklist field: {text}",
                [f.name],
            )
        if f.type == "multipicklist" and f.restricted:
            for item in text.split(";"):
                if item not in f.values:
                    raise ApiError(
                        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        f"{f.label}: bad value for restricted picklist field: {item}",
                        [f.name],
                    )
        return text
    if f.type == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise _wrong_type(f, value)
        return value
    if f.type in NUMBER_TYPES:
        return _coerce_number(f, value)
    if f.type == "date":
        if not isinstance(value, str) or not _DATE_RE.match(value[:10]):
            raise _wrong_type(f, value)
        try:
            return dt.date.fromisoformat(value[:10]).isoformat()
        except ValueError as exc:
            raise _wrong_type(f, value) from exc
    if f.type == "datetime":
        try:
            return soql.format_datetime(soql.parse_datetime(str(value)))
        except ValueError as exc:
            raise _wrong_type(f, value) from exc
    if f.type in ("reference", "id"):
        return _coerce_reference(f, value, org, lookup)
    return value


def clean_fields(
    obj: ObjectDef,
    incoming: Record,
    org: OrgDef,
    lookup: Lookup,
    *,
    bypass_fls: bool,
    skip: frozenset[str] = frozenset(),
) -> Record:
    """Map incoming JSON keys to canonical field names with stored values, or raise ApiError."""
    cleaned: Record = {}
    read_only: list[str] = []
    for key, value in incoming.items():
        if key == "attributes" or key in skip:
            continue
        f = obj.field(key)
        if f is None or (not f.visible and not bypass_fls):
            raise no_such_column(key, obj.name)
        if f.system or f.compose or (f.access != "edit" and not bypass_fls):
            read_only.append(f.name)
            continue
        cleaned[f.name] = coerce_value(f, value, org, lookup)
    if read_only:
        raise not_writable(read_only)
    return cleaned


def check_required(obj: ObjectDef, record: Record) -> None:
    missing = [
        f.name
        for f in obj.fields.values()
        if f.required and not f.system and record.get(f.name) in (None, "")
    ]
    if missing:
        raise ApiError(
            "REQUIRED_FIELD_MISSING",
            f"Required fields are missing: [{', '.join(missing)}]",
            missing,
        )


def record_getter(record: Record, obj: ObjectDef) -> Callable[[str], Any]:
    def get(path: str) -> Any:
        f = obj.field(path)
        return record.get(f.name) if f else None

    return get


def check_validation_rules(org: OrgDef, obj: ObjectDef, record: Record) -> None:
    get = record_getter(record, obj)
    for rule in org.validation_rules:
        if rule.sobject == obj.name and soql.evaluate(rule.condition, get):
            raise ApiError(
                "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                rule.message,
                [rule.field] if rule.field else [],
            )


def trigger_error(trigger: TriggerDef, event: str) -> ApiError:
    if trigger.kind == "flow":
        return ApiError(
            "CANNOT_EXECUTE_FLOW_TRIGGER",
            f'We can\'t save this record because the "{trigger.name}" process failed. Give your '
            f"Salesforce admin these details. {trigger.message}",
            [],
        )
    phase = {"insert": "BeforeInsert", "update": "BeforeUpdate", "delete": "BeforeDelete"}[event]
    return ApiError(
        "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
        f"{trigger.name}: execution of {phase}\n\ncaused by: {trigger.message}\n\n"
        f"Trigger.{trigger.name}: line 5, column 1",
        [],
    )


def check_triggers(org: OrgDef, obj: ObjectDef, record: Record, event: str) -> None:
    get = record_getter(record, obj)
    for trigger in org.triggers:
        if trigger.sobject != obj.name or event not in trigger.events:
            continue
        if trigger.condition is None or soql.evaluate(trigger.condition, get):
            raise trigger_error(trigger, event)
