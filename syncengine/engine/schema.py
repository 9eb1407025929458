"""The sync-schema stage: describe each mapped remote object (at most hourly) and check every
field mapping against what the integration user may see and write.

A mapping that cannot sync becomes a schema SyncError (and is left out of the cycle); one that
is fine again resolves its error. The usable mappings of each object go into the runner's
context (`run.usable`), which the pull, push and reference stages read.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.utils import timezone

from syncengine.codes import SyncErrorCode as Code
from syncengine.engine.usable import PUSH_DIRECTIONS, PUSHING_RULES, UsableFields
from syncengine.models import FieldMapping, ObjectMapping, SyncError, SyncRule, SyncStage
from syncengine.services.errors import resolve_schema_errors

if TYPE_CHECKING:
    from syncengine.engine.runner import CycleRunner

SCHEMA_MAX_AGE = dt.timedelta(hours=1)


def sync_schema(run: CycleRunner) -> None:
    """Refresh stale remote schemas and check the mappings of every object."""
    with run.stage(SyncStage.Operation.SYNC_SCHEMA) as stage:
        notes = []
        now = timezone.now()
        for om in run.mappings:
            fresh = om.schema_checked_at and now - om.schema_checked_at < SCHEMA_MAX_AGE
            if not fresh or not om.remote_schema:
                notes.extend(_describe(run, om, now))
                stage.updated += 1
            else:
                stage.skipped += 1
            run.usable[om.pk] = check_mappings(run, om, stage)
        stage.message = "; ".join(notes)


def _describe(run: CycleRunner, om: ObjectMapping, now: dt.datetime) -> list[str]:
    """Store the object's described fields; what changed since the last describe."""
    described = run.connector.describe(om.remote_object)
    schema = {
        name: {
            "type": f.type,
            "label": f.label,
            "createable": f.createable,
            "updateable": f.updateable,
            "restricted": f.restricted_picklist,
            "picklist": list(f.picklist_values),
        }
        for name, f in described.items()
    }
    notes = schema_changes(om.remote_object, om.remote_schema, schema)
    om.remote_schema, om.schema_checked_at = schema, now
    ObjectMapping.objects.filter(pk=om.pk).update(remote_schema=schema, schema_checked_at=now)
    return notes


def check_mappings(run: CycleRunner, om: ObjectMapping, stage: SyncStage) -> UsableFields:
    """The mappings of an object that can sync; an error for each one that cannot."""
    schema = om.remote_schema
    refs = list(om.reference_mappings.all())
    junctions = run.remote.junctions
    usable = UsableFields(
        refs=[r for r in refs if r.remote_field not in junctions],
        junctions=[r for r in refs if r.remote_field in junctions],
        has_external_id=run.ext in schema,
    )
    problems: set[str] = set()
    for fm in om.field_mappings.all():
        if fm.rule == SyncRule.DONT_SYNC:
            continue
        if _check_field(run, om, fm, usable):
            problems.add(fm.remote_field)
    if not usable.has_external_id and om.direction in PUSH_DIRECTIONS:
        run.error(
            category=SyncError.Category.PROPERTY_MAPPINGS,
            code=Code.EXTERNAL_ID_MISSING,
            message=f"{om.remote_object} has no {run.ext} external-id field; Concord cannot "
            "create records there without risking duplicates.",
            direction=SyncError.Direction.SCHEMA,
            object_type_id=om.object_type_id,
            remote_object=om.remote_object,
            remote_field=run.ext,
        )
    # Schema errors of fields that are fine now resolve themselves (counted off the cards).
    resolve_schema_errors(
        integration=run.integration,
        remote_object=om.remote_object,
        failing_fields=problems | ({run.ext} if not usable.has_external_id else set()),
    )
    stage.failed += len(problems)
    return usable


def _check_field(
    run: CycleRunner, om: ObjectMapping, fm: FieldMapping, usable: UsableFields
) -> bool:
    """Add a field mapping to the usable ones if it can sync; whether it has a problem."""
    remote = om.remote_schema.get(fm.remote_field)
    common = {
        "direction": SyncError.Direction.SCHEMA,
        "object_type_id": om.object_type_id,
        "remote_object": om.remote_object,
        "remote_field": fm.remote_field,
        "property_name": fm.property.name,
    }
    if remote is None:
        # Describe lists only the fields the integration user can see.
        run.error(
            category=SyncError.Category.PERMISSIONS,
            code=Code.FIELD_NOT_ACCESSIBLE,
            message=f"{om.remote_object}.{fm.remote_field} does not exist or is hidden "
            "from the integration user (field-level security).",
            **common,
        )
        return True
    if not run.codec.is_compatible(fm.property.type, remote["type"]):
        run.error(
            category=SyncError.Category.PROPERTY_MAPPINGS,
            code=Code.INCOMPATIBLE_FIELD_TYPE,
            message=f"{fm.property.name} ({fm.property.type}) cannot sync with "
            f"{om.remote_object}.{fm.remote_field} ({remote['type']}).",
            **common,
        )
        return True
    usable.fields.append(fm)
    writable = remote["createable"] or remote["updateable"]
    if fm.rule in PUSHING_RULES and not writable:
        run.error(
            category=SyncError.Category.PERMISSIONS,
            code=Code.FIELD_NOT_UPDATEABLE,
            message=f"The integration user can read but not edit "
            f"{om.remote_object}.{fm.remote_field}; Concord's changes to "
            f"{fm.property.name} are not sent.",
            **common,
        )
        return True
    if writable:
        usable.pushable.add(fm.pk)
    return False


def schema_changes(remote_object: str, before: dict, after: dict) -> list[str]:
    """Fields and picklist values added or removed between two describes (stage notes)."""
    if not before:
        return []
    notes = []
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    if added:
        notes.append(f"{remote_object}: new fields {', '.join(added)}")
    if removed:
        notes.append(f"{remote_object}: removed fields {', '.join(removed)}")
    for name in sorted(set(before) & set(after)):
        old, new = set(before[name].get("picklist", [])), set(after[name].get("picklist", []))
        if new - old:
            notes.append(f"{remote_object}.{name}: new values {', '.join(sorted(new - old))}")
        if old - new:
            notes.append(f"{remote_object}.{name}: removed values {', '.join(sorted(old - new))}")
    return notes
