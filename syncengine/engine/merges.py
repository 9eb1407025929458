"""Remote merges into Concord: the Pull merges stage, and conversions into a linked record.

A remote that merges records (Salesforce: Accounts, Contacts, Leads) deletes the losers and
points each at its master. Pull merges runs before Pull deletes, over the same window: the
Concord records of the losers are merged into the master's Concord record with the CRM merge
service, and the losers' links are marked remote-deleted in the same transaction, so Pull
deletes does not archive them a second time. A Lead converted into a Contact that Concord links
already is merged the same way (pull conversions calls `merge_converted`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from crm.errors import MergeError
from crm.models import Record
from crm.services.merge import merge_records
from syncengine.models import ObjectMapping, RecordLink, SyncRule, SyncStage

if TYPE_CHECKING:
    from syncengine.engine.runner import CycleRunner

logger = logging.getLogger(__name__)


def pull_merges(run: CycleRunner, om: ObjectMapping) -> None:
    """Merge the Concord records of remote records merged away since the last pull deletes."""
    from syncengine.engine.pull import OVERLAP  # the deletes' window, shared with pull deletes

    with run.stage(SyncStage.Operation.PULL_MERGES, om) as stage:
        since = om.delete_watermark - OVERLAP if om.delete_watermark else None
        merges = list(run.connector.pull_merges(om.remote_object, since))
        if not merges:
            return
        links = {
            link.remote_id: link
            for link in RecordLink.objects.filter(
                integration=run.integration,
                remote_object=om.remote_object,
                remote_id__in={m.remote_id for m in merges} | {m.master_id for m in merges},
            )
        }
        losers_by_master: dict[str, list[RecordLink]] = defaultdict(list)
        for m in merges:
            link = links.get(m.remote_id)
            if link is None or link.remote_deleted_at is not None:
                stage.skipped += 1  # not linked, or merged (or deleted) in an earlier cycle
            else:
                losers_by_master[m.master_id].append(link)
        unmerged = 0
        for master_id, loser_links in losers_by_master.items():
            master = links.get(master_id)
            if master is None or master.remote_deleted_at is not None:
                unmerged += len(loser_links)  # Pull deletes archives them as deletes
                continue
            if _merge_links(run, om, master, loser_links, stage):
                stage.updated += 1
                stage.deleted += len(loser_links)
            else:
                unmerged += len(loser_links)
        if unmerged:
            stage.skipped += unmerged
            stage.message = (
                f"{unmerged} merged {om.remote_object} record(s) have no linked, active master "
                "in Concord: Pull deletes treats them as deletes."
            )


def _merge_links(
    run: CycleRunner, om: ObjectMapping, master: RecordLink, losers: list[RecordLink], stage
) -> bool:
    """Merge the losers' records into the master's and mark their links; False if refused."""
    active = set(
        Record.objects.filter(
            pk__in=[link.record_id for link in losers],
            object_type=om.object_type,
            archived_at__isnull=True,
        ).values_list("pk", flat=True)
    )
    loser_ids = [link.record_id for link in losers if link.record_id in active]
    try:
        with transaction.atomic():
            if loser_ids:
                merge_records(
                    object_type=om.object_type,
                    winner_id=master.record_id,
                    loser_ids=loser_ids,
                    keep=_remote_decided(om),
                    source=run.source,
                )
            RecordLink.objects.filter(pk__in=[link.pk for link in losers]).update(
                remote_deleted_at=timezone.now(), dirty=False
            )
    except MergeError as exc:
        logger.info("merge into %s refused: %s", master, exc)
        stage.failed += 1
        return False
    return True


def _remote_decided(om: ObjectMapping) -> set[str]:
    """Properties whose value the remote's merge decided (the master's, pulled as it is):
    those are not filled from the losers; Concord-only ones are."""
    return {
        fm.property.name for fm in om.field_mappings.all() if fm.rule != SyncRule.ALWAYS_CONCORD
    }


def merge_converted(
    run: CycleRunner, om: ObjectMapping, link: RecordLink, target: RecordLink, stage
) -> bool:
    """A converted record (a Lead) became a record Concord links already (a Contact): merge the
    Lead's Concord record into the Contact's, and drop the Lead's link. False if not merged."""
    lead = Record.objects.filter(pk=link.record_id).only("object_type_id", "archived_at").first()
    contact = Record.objects.filter(pk=target.record_id).only("object_type_id").first()
    if lead is None or contact is None or lead.object_type_id != contact.object_type_id:
        stage.message = _note(
            stage.message,
            f"{om.remote_object} {link.remote_id} became {target.remote_object} "
            f"{target.remote_id}, linked to a record of another object type: not merged.",
        )
        link.delete()
        return False
    try:
        with transaction.atomic():
            if lead.archived_at is None:
                merge_records(
                    object_type=om.object_type,
                    winner_id=contact.pk,
                    loser_ids=[lead.pk],
                    source=run.source,
                )
            link.delete()
    except MergeError as exc:
        stage.message = _note(stage.message, f"{link.remote_id} not merged: {exc}")
        stage.failed += 1
        return False
    return True


def _note(message: str, line: str) -> str:
    return f"{message}\n{line}".strip()
