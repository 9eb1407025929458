"""Sync-error digest benchmark on PostgreSQL (database concord_bench_notif on DATABASE_URL's
server): digest build for 1,000 users over 100,000 open errors.

Prints one figure a line: the total build time, the median per digest, and the queries per
digest at 1,000 and at 100,000 errors (target: the same, whatever the number of errors). The
window's aggregates are shared through the cache (Redis when REDIS_URL is set, as in
production): the total starts with none cached, so it includes the one build of the window.

Run from the repository root: .venv/bin/python tests/perf/bench_notifications.py
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from tests.perf._setup import median, skip, use_benchmark_database

USERS = 1_000
ERRORS = 100_000
INTEGRATIONS = 5


def main() -> int:
    if not use_benchmark_database("concord_bench_notif"):
        skip("digest_build_total_1000_users")
        return 0
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, override_settings

    from notifications.models import NotificationSetting
    from notifications.selectors import (
        build_digest,
        get_setting,
        integration_frequencies,
        window_share_key,
    )
    from syncengine.models import Integration, SyncError

    if os.environ.get("REDIS_URL"):
        redis = {"BACKEND": "django.core.cache.backends.redis.RedisCache"}
        override_settings(
            CACHES={"default": {**redis, "LOCATION": os.environ["REDIS_URL"]}}
        ).enable()
    now = dt.datetime(2027, 1, 15, 8, tzinfo=dt.UTC)
    integrations = _reset(Integration, SyncError, get_user_model(), NotificationSetting, now)

    def forget_shared() -> None:
        start = now - dt.timedelta(days=1)
        cache.delete_many([window_share_key(i.pk, start, now) for i in integrations])

    def build_for(user) -> None:
        setting = get_setting(user=user)
        frequencies = integration_frequencies(setting, [i.pk for i in integrations])
        mine = [i for i in integrations if frequencies[i.pk] == "daily"]
        build_digest(
            integrations=mine,
            frequency="daily",
            window_start=now - dt.timedelta(days=1),
            window_end=now,
        )

    users = list(get_user_model().objects.filter(username__startswith="bench").order_by("pk"))
    _seed_errors(SyncError, integrations, 0, 1_000, now)
    forget_shared()
    with CaptureQueriesContext(connection) as small:
        build_for(users[0])
    _seed_errors(SyncError, integrations, 1_000, ERRORS, now)
    forget_shared()
    with CaptureQueriesContext(connection) as large:
        build_for(users[0])
    with CaptureQueriesContext(connection) as shared:
        build_for(users[1])
    forget_shared()
    timings = []
    started = time.perf_counter()
    for user in users:
        t = time.perf_counter()
        build_for(user)
        timings.append(time.perf_counter() - t)
    total = time.perf_counter() - started
    print(f"digest_build_total_1000_users: {total:.1f} s ({ERRORS:,} open errors)")
    print(f"digest_build_median: {median(timings) * 1000:.1f} ms per digest")
    print(f"digest_queries_1k_errors: {len(small.captured_queries)} queries per digest")
    print(
        f"digest_queries_100k_errors: {len(large.captured_queries)} queries per digest "
        "(target: equal to the 1k figure)"
    )
    print(f"digest_queries_shared_window: {len(shared.captured_queries)} queries per digest")
    return 0


def _reset(Integration, SyncError, User, NotificationSetting, now):
    SyncError.objects.filter(integration__name__startswith="bench").delete()
    Integration.objects.filter(name__startswith="bench").delete()
    User.objects.filter(username__startswith="bench").delete()
    integrations = [Integration.objects.create(name=f"bench {i}") for i in range(INTEGRATIONS)]
    users = User.objects.bulk_create(
        User(username=f"bench{i}", email=f"bench{i}@example.com", is_staff=True)
        for i in range(USERS)
    )
    NotificationSetting.objects.bulk_create(NotificationSetting(user=u) for u in users)
    return integrations


def _seed_errors(SyncError, integrations, first: int, last: int, now) -> None:
    categories = SyncError.Category.values
    batch = []
    for n in range(first, last):
        seen = now - dt.timedelta(minutes=n % 4000)  # about a third are new in the window
        batch.append(
            SyncError(
                integration=integrations[n % len(integrations)],
                category=categories[n % len(categories)],
                code=f"CODE_{n % 50}",
                message="bench",
                key=f"bench{n}",
                first_seen_at=seen,
                last_seen_at=seen,
                occurrences=1 + n % 7,
            )
        )
        if len(batch) == 10_000:
            SyncError.objects.bulk_create(batch)
            batch = []
    SyncError.objects.bulk_create(batch)


if __name__ == "__main__":
    sys.exit(main())
