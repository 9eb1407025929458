"""Per-minute, per-user quotas answered with 429 RESOURCE_EXHAUSTED, as Google meters them.

Usage is a sliding 60-second window kept in memory (a restart forgets it, as a minute passing
would). Limits live in the settings table; 0 switches a quota off.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from .errors import ApiError


@dataclass(frozen=True)
class Quota:
    setting: str  # control API key
    metric: str  # as Google names it in the error message
    metric_id: str
    limit_id: str
    default: int


QUOTAS = {
    "read": Quota(
        "read_requests_per_minute",
        "Critical read requests (Contact and Profile Reads)",
        "people.googleapis.com/read_requests",
        "ReadRequestsPerMinutePerUser",
        180,
    ),
    "write": Quota(
        "write_requests_per_minute",
        "Critical write requests (Contact Creates and Updates)",
        "people.googleapis.com/write_requests",
        "WriteRequestsPerMinutePerUser",
        90,
    ),
    "group_read": Quota(
        "group_read_requests_per_minute",
        "Read requests (Contact Group Reads)",
        "people.googleapis.com/contact_group_read_requests",
        "ContactGroupReadRequestsPerMinutePerUser",
        90,
    ),
    "delete": Quota(
        "delete_requests_per_minute",
        "Write requests (Contact Deletes and Contact Group Writes)",
        "people.googleapis.com/contact_group_write_requests",
        "DeleteAndGroupWriteRequestsPerMinutePerUser",
        90,
    ),
}
WINDOW_SECONDS = 60.0
PROJECT_NUMBER = "0"


def quota_exceeded(quota: Quota) -> ApiError:
    return ApiError(
        429,
        "RESOURCE_EXHAUSTED",
        f"Quota exceeded for quota metric '{quota.metric}' and limit '{quota.metric} per minute "
        f"per user' of service 'people.googleapis.com' for consumer "
        f"'project_number:{PROJECT_NUMBER}'.",
        "RATE_LIMIT_EXCEEDED",
        domain="googleapis.com",
        metadata={
            "service": "people.googleapis.com",
            "quota_metric": quota.metric_id,
            "quota_limit": quota.limit_id,
            "consumer": f"projects/{PROJECT_NUMBER}",
        },
    )


class QuotaMeter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[tuple[str, str], deque[float]] = {}

    def charge(self, user: str, bucket: str, limit: int, now: float | None = None) -> None:
        """Count one call, or raise 429 when the user already made ``limit`` in the window."""
        now = time.monotonic() if now is None else now
        with self._lock:
            calls = self._calls.setdefault((user, bucket), deque())
            while calls and calls[0] <= now - WINDOW_SECONDS:
                calls.popleft()
            if limit > 0 and len(calls) >= limit:
                raise quota_exceeded(QUOTAS[bucket])
            calls.append(now)

    def usage(self, now: float | None = None) -> dict[str, int]:
        """Calls in the current window per bucket, all users together."""
        now = time.monotonic() if now is None else now
        totals = {bucket: 0 for bucket in QUOTAS}
        with self._lock:
            for (_, bucket), calls in self._calls.items():
                totals[bucket] += sum(1 for t in calls if t > now - WINDOW_SECONDS)
        return totals

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
