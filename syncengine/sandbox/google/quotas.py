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


# The critical-read ids are Google's, as a real 429 carries them (a public issue's captured
# body: quota_metric people.googleapis.com/critical_read_requests, quota_limit
# CriticalReadsPerMinutePerProjectPerUser); the others follow the same naming. The full-sync
# quota ("The first page of a full sync request has an additional quota … fixed and can not be
# increased") is documented without a name or a value: both are the sandbox's.
QUOTAS = {
    "read": Quota(
        "read_requests_per_minute",
        "Critical read requests (Contact and Profile Reads)",
        "people.googleapis.com/critical_read_requests",
        "CriticalReadsPerMinutePerProjectPerUser",
        180,
    ),
    "write": Quota(
        "write_requests_per_minute",
        "Critical write requests (Contact Creates and Updates)",
        "people.googleapis.com/critical_write_requests",
        "CriticalWritesPerMinutePerProjectPerUser",
        90,
    ),
    "group_read": Quota(
        "group_read_requests_per_minute",
        "Read requests (Contact Group Reads)",
        "people.googleapis.com/read_requests",
        "ReadRequestsPerMinutePerProjectPerUser",
        90,
    ),
    "delete": Quota(
        "delete_requests_per_minute",
        "Write requests (Contact Deletes and Contact Group Writes)",
        "people.googleapis.com/write_requests",
        "WriteRequestsPerMinutePerProjectPerUser",
        90,
    ),
    "full_sync": Quota(
        "full_sync_first_pages_per_minute",
        "Full sync requests (first pages)",
        "people.googleapis.com/full_sync_requests",
        "FullSyncRequestsPerMinutePerProjectPerUser",
        10,
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

    def charge(self, user: str, buckets: dict[str, int], now: float | None = None) -> None:
        """Count one call in each bucket (name → limit), or raise 429 for the first bucket the
        user already used ``limit`` times in the window (then nothing is counted)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            windows = []
            for bucket, limit in buckets.items():
                calls = self._calls.setdefault((user, bucket), deque())
                while calls and calls[0] <= now - WINDOW_SECONDS:
                    calls.popleft()
                if limit > 0 and len(calls) >= limit:
                    raise quota_exceeded(QUOTAS[bucket])
                windows.append(calls)
            for calls in windows:
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
