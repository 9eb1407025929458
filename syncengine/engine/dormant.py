"""Dormant links: records that left the remote-side filter (Google's SPEC G-3 filters).

A linked contact that a pull reads outside the filter (its membership of the chosen groups was
removed in Google) keeps its link, dormant: its remote changes are not pulled, Concord's are not
pushed, and neither side archives or deletes it. Only a contact that has been inside the filter
(pulled once) can leave it: one Concord created in Google, never added to the filter's groups
(filters add nothing to lists), keeps receiving Concord's changes. When a pull reads it inside
the filter again, its link resumes: the changes both sides made meanwhile are merged against the
values last agreed, by the usual rules, and no record is created on either side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from syncengine.models import ObjectMapping, RecordLink, SyncStage

if TYPE_CHECKING:
    from syncengine.engine.runner import CycleRunner


def leave(run: CycleRunner, om: ObjectMapping, remote_ids: list[str], stage: SyncStage) -> int:
    """Make dormant the links of records read outside the filter; how many went dormant."""
    if not remote_ids:
        return 0
    left = 0
    for start in range(0, len(remote_ids), 1000):
        left += RecordLink.objects.filter(
            integration=run.integration,
            remote_object=om.remote_object,
            remote_id__in=remote_ids[start : start + 1000],
            dormant=False,
            remote_modstamp__isnull=False,  # it was inside the filter once (pulled)
        ).update(dormant=True)
    if left:
        _note(stage, f"{left} left the filter: not synced until they are back in it.")
    return left


def resume(links: list[RecordLink], stage: SyncStage) -> None:
    """Wake the links of records read inside the filter again."""
    if not links:
        return
    RecordLink.objects.filter(pk__in=[link.pk for link in links]).update(dormant=False)
    for link in links:
        link.dormant = False
    _note(stage, f"{len(links)} came back into the filter: synced again.")


def _note(stage: SyncStage, text: str) -> None:
    stage.message = f"{stage.message} {text}".strip()
