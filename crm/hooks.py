"""The change hook: how other apps learn of CRM changes without crm importing them.

The record and association services call `emit_*` inside the writing transaction, so a listener
that records pending work (a dirty mark, an outbox row) commits or rolls back with the change
itself (DESIGN.md principle 1). Listeners subscribe in their AppConfig.ready().
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from crm.models import AssociationDefinition, ObjectType

RecordChangeKind = Literal["created", "updated", "archived", "restored", "purged"]


@dataclass(frozen=True, slots=True)
class RecordsChanged:
    object_type: ObjectType
    record_ids: tuple[int, ...]
    changed_properties: frozenset[str]
    source: str
    kind: RecordChangeKind


@dataclass(frozen=True, slots=True)
class AssociationsChanged:
    definition: AssociationDefinition
    pairs: tuple[tuple[int, int], ...]  # (from record id, to record id)
    source: str
    kind: Literal["added", "removed"]


RecordsListener = Callable[[RecordsChanged], None]
AssociationsListener = Callable[[AssociationsChanged], None]
_records_listeners: list[RecordsListener] = []
_associations_listeners: list[AssociationsListener] = []


def on_records_changed(listener: RecordsListener) -> RecordsListener:
    """Subscribe to record changes; usable as a decorator. Subscribing twice is a no-op."""
    if listener not in _records_listeners:
        _records_listeners.append(listener)
    return listener


def on_associations_changed(listener: AssociationsListener) -> AssociationsListener:
    """Subscribe to associations added or removed; usable as a decorator."""
    if listener not in _associations_listeners:
        _associations_listeners.append(listener)
    return listener


def unsubscribe(listener: Callable) -> None:
    for listeners in (_records_listeners, _associations_listeners):
        if listener in listeners:
            listeners.remove(listener)


def emit_records_changed(event: RecordsChanged) -> None:
    if event.record_ids:
        for listener in list(_records_listeners):
            listener(event)


def emit_associations_changed(event: AssociationsChanged) -> None:
    if event.pairs:
        for listener in list(_associations_listeners):
            listener(event)
