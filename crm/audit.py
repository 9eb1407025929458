"""Audit events: one row per change, naming the acting user or the system source."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from crm.bulk_sql import insert_rows
from crm.models import AuditEvent, ObjectType


def record_audit(
    *,
    verb: str,
    source: str,
    actor=None,
    object_type: ObjectType | None = None,
    target_id: int | None = None,
    target_repr: str = "",
    detail: dict | None = None,
) -> AuditEvent:
    """Write one audit event."""
    return AuditEvent.objects.create(
        at=timezone.now(),
        actor=actor if _is_user(actor) else None,
        source=source,
        verb=verb,
        object_type=object_type,
        target_id=target_id,
        target_repr=target_repr[:300],
        detail=detail or {},
    )


def record_property_audit(
    *, prop, verb: str, source: str, actor=None, detail: dict | None = None
) -> AuditEvent:
    """Write one audit event about a property (its object type, id and label as the target)."""
    return record_audit(
        verb=verb,
        source=source,
        actor=actor,
        object_type=prop.object_type,
        target_id=prop.pk,
        target_repr=str(prop),
        detail=detail,
    )


def record_audit_many(
    *,
    verb: str,
    source: str,
    actor,
    object_type: ObjectType,
    targets: Iterable[tuple[int, str, dict]],
) -> int:
    """Write one audit event per (target id, target repr, detail), in bulk."""
    at = timezone.now()
    actor_id = actor.pk if _is_user(actor) else None
    rows = [
        (at, actor_id, source, verb, object_type.pk, target_id, target_repr[:300], detail)
        for target_id, target_repr, detail in targets
    ]
    insert_rows(
        AuditEvent,
        [
            "at",
            "actor_id",
            "source",
            "verb",
            "object_type_id",
            "target_id",
            "target_repr",
            "detail",
        ],
        rows,
        json_columns={"detail"},
    )
    return len(rows)


def _is_user(actor) -> bool:
    return actor is not None and getattr(actor, "pk", None) is not None
