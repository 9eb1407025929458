"""Refusals of the sync engine's services: each carries its HTTP status and a stable code.

They derive from config.errors.ConcordError, so the API's exception handler answers them and
the admin shows their message; no view catches them one by one, and none is a ValueError (a
ValueError is a bug, and a bug is a 500). Checks of many fields at once (settings, mappings)
raise Django's ValidationError, which the handler maps the same way.
(Sync errors recorded during a cycle, the SyncError rows, are syncengine/services/errors.py.)
"""

from __future__ import annotations

from config.errors import ConcordError


class SyncEngineError(ConcordError):
    """A refused sync engine request (400). Nothing was changed."""

    code = "sync_refused"


class IntegrationNotActive(SyncEngineError):
    """The integration is paused, disconnected or in error: it cannot sync now."""

    code = "integration_not_active"


class InvalidAllocation(SyncEngineError):
    """An API call allocation that cannot be set (negative)."""

    code = "invalid_allocation"

    def __init__(self, message: str, *, field: str = "allocated"):
        super().__init__(message, field=field)


class ResyncRefused(SyncEngineError):
    """A resync request that cannot be carried out (no, unknown or foreign errors)."""

    code = "resync_refused"

    def __init__(self, message: str, *, field: str = "ids"):
        super().__init__(message, field=field)


class TooManyToResync(ResyncRefused):
    """More errors than one resync may push at once."""

    code = "resync_over_limit"


class DeleteRuleRefused(SyncEngineError):
    """A delete rule that cannot be set: unknown, or deleting remotely without confirmation."""

    code = "delete_rule_refused"


class HeldDeleteRefused(SyncEngineError):
    """A confirm or discard that names no held deletes of the integration (400)."""

    code = "held_delete_refused"


class InvalidMassDeleteThreshold(SyncEngineError):
    """A mass-delete share or minimum out of range (400); nothing was changed."""

    code = "invalid_mass_delete_threshold"
