"""How the engine turns failures into SyncError rows: values Concord refuses, picklist values
it cannot map, remote write outcomes, and associations that cannot follow yet.

Each function records (or counts again) one error through `services.errors`; the category of a
remote code is the connector's codec's (`classify`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm.errors import FieldErrors, ValueCode
from syncengine.codes import SyncErrorCode as Code
from syncengine.connectors.base import WriteOutcome
from syncengine.engine.owners import is_owner
from syncengine.models import FieldMapping, ObjectMapping, RecordLink, ReferenceMapping, SyncError

if TYPE_CHECKING:
    from syncengine.engine.runner import CycleRunner
    from syncengine.engine.usable import UsableFields


def unmatched_picklist(
    run: CycleRunner,
    om: ObjectMapping,
    fm: FieldMapping,
    record_id: int | None,
    remote_id: str | None,
    value: str,
) -> None:
    """A pulled picklist value that matches no option of the Concord property."""
    run.error(
        category=SyncError.Category.PICKLISTS,
        code=Code.PICKLIST_VALUE_UNMATCHED,
        message=f"{om.remote_object}.{fm.remote_field} value “{value}” matches no option of "
        f"the Concord property “{fm.property.label}”; add the option or map the value.",
        direction=SyncError.Direction.PULL,
        object_type_id=om.object_type_id,
        record_id=record_id,
        remote_object=om.remote_object,
        remote_id=remote_id or "",
        remote_field=fm.remote_field,
        property_name=fm.property.name,
        details={"value": value},
    )


def local_write_error(
    run: CycleRunner,
    om: ObjectMapping,
    record_id: int | None,
    remote_id: str | None,
    errors: FieldErrors,
) -> list[SyncError]:
    """Pulled values Concord's record services refused, one error per property."""
    recorded = []
    for prop_name, messages in errors.items():
        text = "; ".join(messages)
        duplicate = errors.codes.get(prop_name) == ValueCode.DUPLICATE
        recorded.append(
            run.error(
                category=SyncError.Category.DUPLICATES
                if duplicate
                else SyncError.Category.PROPERTY_VALUES,
                code=Code.DUPLICATE_VALUE if duplicate else Code.INVALID_PROPERTY_VALUE,
                message=f"Concord refused {prop_name}: {text}",
                direction=SyncError.Direction.PULL,
                object_type_id=om.object_type_id,
                record_id=record_id,
                remote_object=om.remote_object,
                remote_id=remote_id or "",
                property_name=prop_name,
            )
        )
    return recorded


def reference_not_synced(
    run: CycleRunner, om: ObjectMapping, ref: ReferenceMapping, record_id: int, value: str
) -> None:
    """A pulled reference field points to a remote record Concord does not hold yet."""
    run.error(
        category=SyncError.Category.ASSOCIATIONS,
        code=Code.ASSOCIATED_RECORD_NOT_SYNCED,
        message=f"{om.remote_object}.{ref.remote_field} points to {value}, which is "
        "not synced to Concord yet.",
        direction=SyncError.Direction.PULL,
        object_type_id=om.object_type_id,
        record_id=record_id,
        remote_object=om.remote_object,
        remote_field=ref.remote_field,
        details={"target_remote_id": value},
    )


def association_limit(
    run: CycleRunner, om: ObjectMapping, ref: ReferenceMapping, record_id: int, exc: Exception
) -> None:
    """Concord refused the association a pulled reference field asks for."""
    run.error(
        category=SyncError.Category.ASSOCIATIONS,
        code=Code.ASSOCIATION_LIMIT_REACHED,
        message=str(exc),
        direction=SyncError.Direction.PULL,
        object_type_id=om.object_type_id,
        record_id=record_id,
        remote_object=om.remote_object,
        remote_field=ref.remote_field,
    )


def association_refused(
    run: CycleRunner,
    om: ObjectMapping,
    ref: ReferenceMapping,
    junction_id: str,
    pair: tuple[int, int],
    exc: Exception,
) -> None:
    """Concord refused the association a pulled junction record asks for."""
    run.error(
        category=SyncError.Category.ASSOCIATIONS,
        code=Code.ASSOCIATION_REFUSED,
        message=f"{ref.remote_field} {junction_id}: {exc}",
        direction=SyncError.Direction.PULL,
        object_type_id=om.object_type_id,
        record_id=pair[0],
        remote_object=ref.remote_field,
        remote_id=junction_id,
        affected_record_ids=list(pair),
    )


def blocked_by_association(
    run: CycleRunner,
    om: ObjectMapping,
    ref: ReferenceMapping,
    record_ids: list[int],
    target_id: int,
) -> None:
    """Pushed records' reference cannot point to an associated record not in the remote.

    The error is the blocking record's; the waiting records are its affected records. Its
    message names no record: one error collects every record waiting on the same one, and
    the health page names them (health/rows.py)."""
    target_om = run.by_id.get(ref.target_id)
    target = target_om.object_type.label_singular.lower() if target_om else "associated record"
    run.error(
        category=SyncError.Category.ASSOCIATIONS,
        code=Code.ASSOCIATED_RECORD_NOT_SYNCED,
        message=f"The associated {target} is not in {run.integration.get_kind_display()} "
        f"yet, so {om.remote_object}.{ref.remote_field} cannot point to it. Fix the errors "
        "of that record; the records waiting for it sync once it does.",
        direction=SyncError.Direction.PUSH,
        object_type_id=target_om.object_type_id if target_om else None,
        record_id=target_id,
        remote_object=target_om.remote_object if target_om else "",
        remote_field=f"{om.remote_object}.{ref.remote_field}",
        affected_record_ids=record_ids,
    )


def push_error(
    run: CycleRunner,
    om: ObjectMapping,
    usable: UsableFields,
    link: RecordLink,
    record_id: int,
    outcome: WriteOutcome,
) -> list[SyncError]:
    """The errors the remote answered for one pushed record."""
    by_field = {fm.remote_field: fm.property.name for fm in usable.fields}
    ref_fields = {r.remote_field for r in usable.refs}
    owner_fields = {fm.remote_field for fm in usable.fields if is_owner(fm)}
    recorded = []
    for err in outcome.errors or []:
        remote_field = err.fields[0] if err.fields else _field_in_message(err.message, by_field)
        if not remote_field and err.code in run.codec.OWNER_REFUSED_CODES:
            remote_field = next(iter(sorted(owner_fields)), "")
        # Whatever the code (an inactive user, a user id refused), a refused owner is fixed
        # where owners are: the Permissions card, whose steps cover owners.
        category = (
            SyncError.Category.PERMISSIONS
            if remote_field in owner_fields
            else run.codec.classify(err.code, reference=any(f in ref_fields for f in err.fields))
        )
        recorded.append(
            run.error(
                category=category,
                code=err.code,
                message=err.message,
                direction=SyncError.Direction.PUSH,
                object_type_id=om.object_type_id,
                record_id=record_id,
                remote_object=om.remote_object,
                remote_id=link.remote_id or "",
                remote_field=remote_field,
                property_name=by_field.get(remote_field, ""),
                details={"fields": list(err.fields), "statusCode": err.code},
                affected_record_ids=[record_id],
            )
        )
    return recorded


def junction_error(
    run: CycleRunner,
    om: ObjectMapping,
    ref: ReferenceMapping,
    link: RecordLink,
    outcome: WriteOutcome,
) -> None:
    """The errors the remote answered for one junction record written or deleted."""
    for err in outcome.errors or []:
        run.error(
            category=run.codec.classify(err.code),
            code=err.code,
            message=err.message,
            direction=SyncError.Direction.PUSH,
            object_type_id=om.object_type_id,
            record_id=link.record_id,
            remote_object=ref.remote_field,
            remote_id=link.remote_id or "",
            remote_field=err.fields[0] if err.fields else "",
            details={"fields": list(err.fields), "statusCode": err.code},
            affected_record_ids=[link.record_id],
        )


def _field_in_message(message: str, by_field: dict[str, str]) -> str:
    for name in by_field:
        if message.startswith(f"{name}:") or f"[{name}]" in message:
            return name
    return ""
