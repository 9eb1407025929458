"""The mass-delete guard (SPEC L-5): a stage's deletes above a share of a mapping's linked
records are held for an admin's confirmation instead of being applied.

The delete stages (pull deletes, push deletes) collect all of one mapping's candidates first and
call screen_deletes once; it answers which of them may be applied now.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from crm.models import Record
from syncengine import hooks
from syncengine.models import HeldDelete, ObjectMapping, RecordLink, SyncStage

Status = HeldDelete.Status
DIRECTIONS = tuple(HeldDelete.Direction.values)
OPEN = (Status.HELD, Status.CONFIRMED)


def linked_count(om: ObjectMapping) -> int:
    """The mapping's linked records the share is taken of (those not yet deleted remotely)."""
    return RecordLink.objects.filter(
        object_mapping=om, remote_id__isnull=False, remote_deleted_at__isnull=True
    ).count()


def delete_limit(om: ObjectMapping, linked: int) -> int:
    """The most deletes one stage may apply unconfirmed: max(share x linked, minimum)."""
    return max(math.floor(float(om.mass_delete_share) * linked), om.mass_delete_minimum)


def screen_deletes(
    om: ObjectMapping, *, direction: str, links: Iterable[RecordLink]
) -> list[RecordLink]:
    """The candidate links whose delete may be applied now (in the order given).

    Confirmed holds pass (and become applied); links already held are withheld; if the new
    candidates exceed the mapping's limit, they are all held, admins are told, and none pass.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown delete direction {direction!r}")
    links = list(dict.fromkeys(links))
    if not links:
        return []
    with transaction.atomic():
        known = {
            h.link_id: h
            for h in HeldDelete.objects.select_for_update().filter(
                object_mapping=om,
                direction=direction,
                link_id__in=[link.pk for link in links],
                status__in=OPEN,
            )
        }
        confirmed = [h.pk for h in known.values() if h.status == Status.CONFIRMED]
        HeldDelete.objects.filter(pk__in=confirmed).update(status=Status.APPLIED)
        # A pull delete already recorded (the link marks it) changes nothing: never held.
        new = [
            link
            for link in links
            if link.pk not in known
            and not (direction == HeldDelete.Direction.PULL and link.remote_deleted_at)
        ]
        held_now = len(new) > delete_limit(om, linked_count(om))
        if held_now:
            _hold(om, direction, new)
        withheld = {pk for pk, h in known.items() if h.status == Status.HELD}
        if held_now:
            withheld |= {link.pk for link in new}
        return [link for link in links if link.pk not in withheld]


def screen_stage(
    om: ObjectMapping, *, direction: str, links: list[RecordLink], stage: SyncStage
) -> list[RecordLink]:
    """screen_deletes for a delete stage: the links it may apply now; the stage counts the held
    ones as skipped and says so (they wait on the sync health page; nothing is lost)."""
    allowed = screen_deletes(om, direction=direction, links=links)
    held = len(links) - len(allowed)
    if held:
        stage.skipped += held
        note = f"{held} deletes held for an admin's confirmation (mass-delete guard)."
        stage.message = f"{stage.message} {note}".strip()
    return allowed


def _hold(om: ObjectMapping, direction: str, links: list[RecordLink]) -> None:
    """Hold the links' deletes and tell admins once the transaction commits."""
    now = timezone.now()
    names = {
        r.pk: str(r)[:300]
        for r in Record.objects.filter(pk__in=[link.record_id for link in links]).select_related(
            "object_type"
        )
    }
    HeldDelete.objects.bulk_create(
        [
            HeldDelete(
                integration_id=om.integration_id,
                object_mapping=om,
                direction=direction,
                link=link,
                record_id=link.record_id if link.record_id in names else None,
                label=names.get(link.record_id, ""),
                remote_id=link.remote_id or "",
                held_at=now,
            )
            for link in links
        ],
        batch_size=500,
    )
    event = hooks.MassDeleteHeld(
        integration=om.integration, object_mapping=om, direction=direction, count=len(links)
    )
    transaction.on_commit(lambda: hooks.emit_mass_delete_held(event))
