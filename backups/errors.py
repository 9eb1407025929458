"""Refusals of the backup and restore services: each says what to do instead."""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

from crm.errors import CrmError

if TYPE_CHECKING:
    from backups.models import Restore


class BackupError(CrmError):
    """A refused backup or restore request (400). Nothing was changed."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class BackupTooSoon(BackupError):
    """The plan's backup frequency limit is reached (429)."""

    def __init__(self, message: str, *, next_allowed_at: dt.datetime):
        super().__init__(message)
        self.next_allowed_at = next_allowed_at


class BackupUnavailable(BackupError):
    """The backup's file cannot be had: not written yet, failed, or expired (410 when expired)."""

    def __init__(self, message: str, *, expired: bool):
        super().__init__(message)
        self.expired = expired


class RestoreInProgress(BackupError):
    """Another restore is pending or running (409): one restore at a time."""

    def __init__(self, message: str, *, active: Restore | None):
        super().__init__(message)
        self.active = active


class VerificationFailed(BackupError):
    """The second factor was wrong (403)."""


class VerificationThrottled(VerificationFailed):
    """Too many wrong codes in a row: django-otp checks no other code until `locked_until` (429)."""

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
        )
