"""The lifecycle push stages: Concord's archives and restores to the remote (SPEC L-1, L-2).

The crm change hook marks a link `pending_op` in the transaction that archived or restored its
record (syncengine/services/changes.py); these stages send the marks and clear each one only
once the remote answered, so a stopped worker leaves every unsent delete marked and the next
cycle sends it again. A delete the remote answers "already deleted" (one sent before the stop)
counts as done: nothing is deleted twice, nothing is missed.

Push restores runs before push new: a remote twin Concord deleted is brought back by creating
it again through the usual upsert on the external id (the Concord id) — Salesforce's REST API
has no undelete and Google's People API none either — and the link follows the new remote id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from syncengine.engine import echoes, errors, guard
from syncengine.engine.links import update_links
from syncengine.models import HeldDelete, ObjectMapping, RecordLink, SyncError, SyncStage
from syncengine.services.errors import resolve_record_errors

if TYPE_CHECKING:
    from syncengine.engine.runner import CycleRunner


def push_restores(run: CycleRunner, om: ObjectMapping) -> None:
    """Queue the restored records whose remote twin is gone to be created again (push new)."""
    with run.stage(SyncStage.Operation.PUSH_RESTORES, om) as stage:
        links = RecordLink.objects.filter(
            object_mapping=om,
            pending_op=RecordLink.PendingOp.RESTORE,
            record__archived_at__isnull=True,
            dormant=False,  # outside the remote-side filter: nothing is sent
        )
        now = timezone.now()
        with transaction.atomic():
            # The old remote id goes: push new upserts the record on its Concord id (the
            # external id), which finds a copy an interrupted push made instead of a second.
            stage.new += links.update(
                remote_id=None,
                agreed={},
                remote_deleted_at=None,
                remote_modstamp=None,
                pending_op=RecordLink.PendingOp.NONE,
                dirty=True,
                dirty_at=now,
                change_seq=F("change_seq") + 1,
            )


def pending_deletes(run: CycleRunner, om: ObjectMapping) -> list[RecordLink]:
    """Every link of the mapping whose remote twin is to be deleted, oldest first."""
    return list(
        RecordLink.objects.filter(
            object_mapping=om,
            pending_op=RecordLink.PendingOp.DELETE,
            remote_id__isnull=False,
            record__archived_at__isnull=False,
            dormant=False,  # outside the remote-side filter: nothing is sent
        ).order_by("pk")
    )


def push_deletes(run: CycleRunner, om: ObjectMapping) -> None:
    """Delete the remote twins of the records archived in Concord, in calls of the
    connector's batch size (200)."""
    with run.stage(SyncStage.Operation.PUSH_DELETES, om) as stage:
        if om.push_delete_rule != ObjectMapping.PushDeleteRule.DELETE:
            # A mark left from before the rule was turned off is not sent.
            stage.skipped += RecordLink.objects.filter(
                object_mapping=om, pending_op=RecordLink.PendingOp.DELETE
            ).update(pending_op=RecordLink.PendingOp.NONE)
            return
        links = guard.screen_stage(
            om, direction=HeldDelete.Direction.PUSH, links=pending_deletes(run, om), stage=stage
        )
        size = run.remote.batch_size
        for start in range(0, len(links), size):
            _delete_chunk(run, om, links[start : start + size], stage)
            run.renew_lease()


def _delete_chunk(
    run: CycleRunner, om: ObjectMapping, links: list[RecordLink], stage: SyncStage
) -> None:
    outcomes = run.connector.delete([link.remote_id for link in links])
    now = timezone.now()
    done: list[RecordLink] = []
    for link, outcome in zip(links, outcomes, strict=False):
        if outcome.success:
            done.append(link)
            stage.deleted += 1
        else:
            # The mark stays: the delete is sent again next cycle.
            stage.failed += 1
            errors.push_error(run, om, run.usable[om.pk], link, link.record_id, outcome)
    with transaction.atomic():
        update_links(
            ["remote_deleted_at", "pending_op", "synced_at"],
            [(link.pk, now, RecordLink.PendingOp.NONE, now) for link in done],
        )
        # Restored while its delete was on its way (the restore found no delete sent yet and
        # called the mark off): the twin is gone now, so it is brought back like any restore.
        RecordLink.objects.filter(
            pk__in=[link.pk for link in done], record__archived_at__isnull=True
        ).update(pending_op=RecordLink.PendingOp.RESTORE)
    resolve_record_errors(
        integration=run.integration,
        record_ids=[link.record_id for link in done],
        direction=SyncError.Direction.PUSH,
    )
    if done:
        echoes.overwrote(run, om)
