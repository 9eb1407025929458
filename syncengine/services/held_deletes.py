"""Writes of the mass-delete guard: confirm or discard held deletes, and set its thresholds.

Nothing is lost either way: a confirmed pull delete archives the Concord records (restorable
from the recycle bin), a discarded one keeps them; a push delete is sent by the next "Push
deletes" stage only once confirmed, and a discarded one leaves the remote record alone.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from crm.audit import record_audit
from crm.services.records import archive_records
from crm.sources import integration_source
from syncengine.errors import HeldDeleteRefused, InvalidMassDeleteThreshold
from syncengine.models import HeldDelete, Integration, ObjectMapping, RecordLink
from syncengine.services.changes import PUSH_DIRECTIONS, mark_links_dirty

Direction = HeldDelete.Direction
Status = HeldDelete.Status
CHUNK = 500


def _held(integration: Integration, object_mapping_id: object, direction: object):
    """The held rows of one mapping and direction, locked; refuses unknown names."""
    if direction not in Direction.values:
        raise HeldDeleteRefused(
            f"direction must be one of {', '.join(Direction.values)}", field="direction"
        )
    if isinstance(object_mapping_id, bool) or not isinstance(object_mapping_id, int):
        raise HeldDeleteRefused("object_mapping must be an id", field="object_mapping")
    om = (
        ObjectMapping.objects.select_related("object_type", "integration")
        .filter(pk=object_mapping_id, integration=integration)
        .first()
    )
    if om is None:
        raise HeldDeleteRefused(
            f"{integration} has no object mapping {object_mapping_id}", field="object_mapping"
        )
    rows = list(
        HeldDelete.objects.select_for_update()
        .filter(object_mapping=om, direction=direction, status=Status.HELD)
        .order_by("pk")
    )
    if not rows:
        raise HeldDeleteRefused(f"no {direction} deletes of {om} are held", field="object_mapping")
    return om, rows


def _decide(rows: list[HeldDelete], status: str, actor) -> None:
    HeldDelete.objects.filter(pk__in=[h.pk for h in rows]).update(
        status=status,
        decided_at=timezone.now(),
        decided_by=actor if getattr(actor, "pk", None) else None,
    )


def _audit(verb: str, om: ObjectMapping, direction: str, rows: list[HeldDelete], actor) -> None:
    record_audit(
        verb=verb,
        source="user" if actor else "api",
        actor=actor,
        target_repr=str(om.integration),
        detail={
            "integration": om.integration_id,
            "object_mapping": om.pk,
            "direction": direction,
            "count": len(rows),
        },
    )


@transaction.atomic
def confirm_held_deletes(
    *, integration: Integration, object_mapping_id: object, direction: object, actor=None
) -> dict:
    """Apply one mapping's held deletes: pull ones now, push ones by the next delete stage."""
    om, rows = _held(integration, object_mapping_id, direction)
    archived = 0
    if direction == Direction.PULL:
        # Under the "ignore" pull delete rule a remote delete only marks the link.
        archiving = om.pull_delete_rule == ObjectMapping.PullDeleteRule.ARCHIVE
        record_ids = [h.record_id for h in rows if h.record_id and archiving]
        for start in range(0, len(record_ids), CHUNK):
            archived += archive_records(
                object_type=om.object_type,
                record_ids=record_ids[start : start + CHUNK],
                actor=actor,
                source=integration_source(integration.pk),
            )
        RecordLink.objects.filter(
            pk__in=[h.link_id for h in rows if h.link_id], remote_deleted_at__isnull=True
        ).update(remote_deleted_at=timezone.now())
        _decide(rows, Status.APPLIED, actor)  # carried out here and now
    else:
        _decide(rows, Status.CONFIRMED, actor)  # the next "Push deletes" stage sends them
    _audit("confirm_held_deletes", om, direction, rows, actor)
    return {"confirmed": len(rows), "archived": archived}


@transaction.atomic
def discard_held_deletes(
    *, integration: Integration, object_mapping_id: object, direction: object, actor=None
) -> dict:
    """Drop one mapping's held deletes; both sides keep their records."""
    om, rows = _held(integration, object_mapping_id, direction)
    link_ids = [h.link_id for h in rows if h.link_id]
    if direction == Direction.PULL:
        # The Concord record stays; unlinked, a pushing mapping creates it again remotely.
        RecordLink.objects.filter(pk__in=link_ids).delete()
        if om.enabled and om.direction in PUSH_DIRECTIONS:
            kept = [h.record_id for h in rows if h.record_id]
            mark_links_dirty(object_mapping=om, record_ids=kept)
    else:
        # The remote record stays; the Concord one stays archived.
        RecordLink.objects.filter(pk__in=link_ids, pending_op=RecordLink.PendingOp.DELETE).update(
            pending_op=RecordLink.PendingOp.NONE
        )
    _decide(rows, Status.DISCARDED, actor)
    _audit("discard_held_deletes", om, direction, rows, actor)
    return {"discarded": len(rows)}


def _decimal(value: object, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise InvalidMassDeleteThreshold(f"{field} must be a number", field=field)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise InvalidMassDeleteThreshold(f"{field} must be a number", field=field) from None
    if not number.is_finite():
        raise InvalidMassDeleteThreshold(f"{field} must be a number", field=field)
    return number


def _check_threshold(share: object, minimum: object) -> tuple[Decimal | None, int | None]:
    """The checked values (None: unchanged); refuses a share outside (0, 1] or minimum < 0."""
    checked_share = None
    if share is not None:
        checked_share = _decimal(share, "share")
        if not Decimal(0) < checked_share <= Decimal(1):
            raise InvalidMassDeleteThreshold(
                "share must be greater than 0 and at most 1", field="share"
            )
        if checked_share != checked_share.quantize(Decimal("0.0001")):
            raise InvalidMassDeleteThreshold("share has at most 4 decimal places", field="share")
    if minimum is not None and (
        isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 0
    ):
        raise InvalidMassDeleteThreshold("minimum must be a whole number ≥ 0", field="minimum")
    if minimum is not None and minimum > 2_147_483_647:
        raise InvalidMassDeleteThreshold("minimum is too large", field="minimum")
    return checked_share, minimum


def _share_text(share: Decimal) -> str:
    return str(Decimal(share).quantize(Decimal("0.0001")))


@transaction.atomic
def set_mass_delete_threshold(
    *, object_mapping: ObjectMapping, share: object = None, minimum: object = None, actor=None
) -> ObjectMapping:
    """Change a mapping's mass-delete share and/or minimum (validated, audited)."""
    checked_share, checked_minimum = _check_threshold(share, minimum)
    before = {
        "share": _share_text(object_mapping.mass_delete_share),
        "minimum": object_mapping.mass_delete_minimum,
    }
    if checked_share is not None:
        object_mapping.mass_delete_share = checked_share
    if checked_minimum is not None:
        object_mapping.mass_delete_minimum = checked_minimum
    object_mapping.save(update_fields=["mass_delete_share", "mass_delete_minimum"])
    record_audit(
        verb="set_mass_delete_threshold",
        source="user" if actor else "api",
        actor=actor,
        target_repr=str(object_mapping),
        detail={
            "integration": object_mapping.integration_id,
            "object_mapping": object_mapping.pk,
            "before": before,
            "after": {
                "share": _share_text(object_mapping.mass_delete_share),
                "minimum": object_mapping.mass_delete_minimum,
            },
        },
    )
    return object_mapping
