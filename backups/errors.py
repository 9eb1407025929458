"""Refusals of the backup and restore services: each says what to do instead.

Each carries its HTTP status and a stable code (config.errors.ConcordError); the API's exception
handler answers them, so neither the API views nor anything else translates them one by one.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

from config.errors import ConcordError

if TYPE_CHECKING:
    from backups.models import Restore


class BackupError(ConcordError):
    """A refused backup or restore request (400). Nothing was changed."""

    code = "backup_refused"


class BackupTooSoon(BackupError):
    """The plan's backup frequency limit is reached (429)."""

    status = 429
    code = "backup_too_soon"

    def __init__(self, message: str, *, next_allowed_at: dt.datetime):
        super().__init__(message, extra={"next_allowed_at": next_allowed_at})
        self.next_allowed_at = next_allowed_at


class BackupUnavailable(BackupError):
    """The backup's file cannot be had: not written yet, failed, or expired (410 when expired)."""

    status = 409
    code = "backup_unavailable"

    def __init__(self, message: str, *, expired: bool):
        super().__init__(message)
        self.expired = expired
        if expired:
            self.status, self.code = 410, "backup_expired"


class RestoreInProgress(BackupError):
    """Another restore is pending or running (409): one restore at a time."""

    status = 409
    code = "restore_in_progress"

    def __init__(self, message: str, *, active: Restore | None):
        super().__init__(message, extra={"active_restore": active.pk if active else None})
        self.active = active


class VerificationFailed(BackupError):
    """The second factor was wrong (403)."""

    status = 403
    code = "verification_failed"


class VerificationThrottled(VerificationFailed):
    """Too many wrong codes in a row: django-otp checks no other code until `locked_until` (429)."""

    status = 429
    code = "verification_throttled"

    def __init__(
        self, *, failures: int, locked_until: dt.datetime, now: dt.datetime, field: str | None
    ):
        self.locked_until = locked_until
        # Whole seconds, at least one: what Retry-After says and the message repeats.
        self.retry_after = max(1, math.ceil((locked_until - now).total_seconds()))
        unit = "second" if self.retry_after == 1 else "seconds"
        super().__init__(
            f"Too many wrong authenticator codes in a row ({failures}): try again in "
            f"{self.retry_after} {unit}. Nothing was changed.",
            field=field,
            extra={"retry_after": self.retry_after},
        )

    def headers(self) -> dict[str, str]:
        """Retry-After: the seconds until a code is checked again."""
        return {"Retry-After": str(self.retry_after)}
