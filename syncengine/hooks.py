"""The sync engine's hooks: how other apps learn of its events without syncengine importing them.

Listeners subscribe in their AppConfig.ready() (notifications does). Events are sent after the
transaction that caused them commits; a failing listener is logged and never breaks a sync.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from syncengine.models import Integration, ObjectMapping

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IntegrationNeedsReconnect:
    """The remote system refused the stored tokens: sync is paused until an admin reconnects."""

    integration: Integration
    reason: str

    @property
    def remote_name(self) -> str:
        """The remote system that refused, as staff know it ("Salesforce", "Google Contacts")."""
        return self.integration.get_kind_display()


NeedsReconnectListener = Callable[[IntegrationNeedsReconnect], None]
_needs_reconnect_listeners: list[NeedsReconnectListener] = []


def on_integration_needs_reconnect(listener: NeedsReconnectListener) -> NeedsReconnectListener:
    """Subscribe to integrations needing reconnection; usable as a decorator; twice is a no-op."""
    if listener not in _needs_reconnect_listeners:
        _needs_reconnect_listeners.append(listener)
    return listener


@dataclass(frozen=True, slots=True)
class MassDeleteHeld:
    """The mass-delete guard held a stage's deletes: an admin must confirm or discard them."""

    integration: Integration
    object_mapping: ObjectMapping
    direction: str  # "pull" (the remote deleted) or "push" (Concord archived)
    count: int  # deletes held by this stage

    @property
    def remote_name(self) -> str:
        """The remote system, as staff know it ("Salesforce", "Google Contacts")."""
        return self.integration.get_kind_display()


MassDeleteHeldListener = Callable[[MassDeleteHeld], None]
_mass_delete_listeners: list[MassDeleteHeldListener] = []


def on_mass_delete_held(listener: MassDeleteHeldListener) -> MassDeleteHeldListener:
    """Subscribe to held mass deletes; usable as a decorator; twice is a no-op."""
    if listener not in _mass_delete_listeners:
        _mass_delete_listeners.append(listener)
    return listener


@dataclass(frozen=True, slots=True)
class SyncHealthViewed:
    """A user opened an integration's sync health page: its current errors are no longer new
    to them."""

    integration: Integration
    user: object  # the signed-in user (settings.AUTH_USER_MODEL)
    at: datetime.datetime


SyncHealthViewedListener = Callable[[SyncHealthViewed], None]
_health_viewed_listeners: list[SyncHealthViewedListener] = []


def on_sync_health_viewed(listener: SyncHealthViewedListener) -> SyncHealthViewedListener:
    """Subscribe to views of the sync health page; usable as a decorator; twice is a no-op."""
    if listener not in _health_viewed_listeners:
        _health_viewed_listeners.append(listener)
    return listener


def unsubscribe(listener: Callable) -> None:
    """Stop sending events to a listener (tests)."""
    for listeners in (_needs_reconnect_listeners, _mass_delete_listeners, _health_viewed_listeners):
        if listener in listeners:
            listeners.remove(listener)


def emit_integration_needs_reconnect(event: IntegrationNeedsReconnect) -> None:
    """Tell every listener; one that fails is logged, the others still hear of it."""
    _tell(_needs_reconnect_listeners, event)


def emit_mass_delete_held(event: MassDeleteHeld) -> None:
    """Tell every listener of held deletes; one that fails is logged, the others still hear."""
    _tell(_mass_delete_listeners, event)


def emit_sync_health_viewed(event: SyncHealthViewed) -> None:
    """Tell every listener that a user saw an integration's sync health page."""
    _tell(_health_viewed_listeners, event)


def _tell(
    listeners: list[Callable], event: IntegrationNeedsReconnect | MassDeleteHeld | SyncHealthViewed
) -> None:
    for listener in list(listeners):
        try:
            listener(event)
        except Exception:  # a notification must never break the sync engine
            logger.exception(
                "listener %r failed for integration %s", listener, event.integration.pk
            )
