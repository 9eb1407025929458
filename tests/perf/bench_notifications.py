"""Sync-error digest benchmark on PostgreSQL (database concord_bench_notif on DATABASE_URL's
server): 1,000 users' daily digests over 100,000 open errors, built, rendered and sent.

The digests go out as production sends them: in batches of `tasks.DIGEST_BATCH` recipients
(`send_sync_error_digests`: claim, build, render, one SMTP connection per batch) to a real SMTP
server (aiosmtpd, in its own process, discarding what it receives). Prints one figure a line:
the total for the 1,000 digests, the median per digest (a batch's time over its size; the
first batch also builds the window's aggregate, once for everyone), and the queries of one
user's digest at 1,000 and at 100,000 errors (target: the same) and once the window is shared.
The window's aggregates are shared through the cache (Redis when REDIS_URL is set, as in
production): the total starts with none cached, so it includes the one build of the window.

Run from the repository root: .venv/bin/python tests/perf/bench_notifications.py
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
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

    from notifications.models import DigestRun, NotificationSetting
    from notifications.selectors import window_share_key
    from notifications.services import send_sync_error_digest, send_sync_error_digests
    from notifications.tasks import DIGEST_BATCH
    from syncengine.models import Integration, SyncError

    caches = {}
    if os.environ.get("REDIS_URL"):
        redis = {"BACKEND": "django.core.cache.backends.redis.RedisCache"}
        caches = {"CACHES": {"default": {**redis, "LOCATION": os.environ["REDIS_URL"]}}}
    port, smtp = _start_smtp_sink()
    override_settings(
        **caches,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_USE_TLS=False,
        EMAIL_USE_SSL=False,
    ).enable()
    try:
        now = dt.datetime(2027, 1, 15, 8, tzinfo=dt.UTC)
        integrations = _reset(Integration, SyncError, get_user_model(), NotificationSetting, now)

        def forget() -> None:
            """No digest sent yet, and no window shared."""
            DigestRun.objects.filter(user__username__startswith="bench").delete()
            start = now - dt.timedelta(days=1)
            cache.delete_many([window_share_key(i.pk, start, now) for i in integrations])

        def send_one(user) -> list:
            with CaptureQueriesContext(connection) as queries:
                run = send_sync_error_digest(user_id=user.pk, frequency="daily", now=now)
            assert run is not None and run.status == "sent", run
            return queries.captured_queries

        users = list(get_user_model().objects.filter(username__startswith="bench").order_by("pk"))
        _seed_errors(SyncError, integrations, 0, 1_000, now)
        forget()
        small = send_one(users[0])
        _seed_errors(SyncError, integrations, 1_000, ERRORS, now)
        forget()
        large = send_one(users[0])
        shared = send_one(users[1])
        forget()
        per_digest = []
        started = time.perf_counter()
        for i in range(0, len(users), DIGEST_BATCH):
            batch = [u.pk for u in users[i : i + DIGEST_BATCH]]
            t = time.perf_counter()
            runs = send_sync_error_digests(user_ids=batch, frequency="daily", now=now)
            per_digest.append((time.perf_counter() - t) / len(batch))
            assert [r.status for r in runs] == ["sent"] * len(batch)
        total = time.perf_counter() - started
        # The same again without SMTP (Django's in-memory outbox): what building, rendering
        # and claiming cost apart from the wire.
        forget()
        unsent = []
        unsent_started = time.perf_counter()
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            for i in range(0, len(users), DIGEST_BATCH):
                batch = [u.pk for u in users[i : i + DIGEST_BATCH]]
                t = time.perf_counter()
                send_sync_error_digests(user_ids=batch, frequency="daily", now=now)
                unsent.append((time.perf_counter() - t) / len(batch))
        unsent_total = time.perf_counter() - unsent_started
    finally:
        smtp.terminate()
        smtp.wait()
    print(
        f"digest_build_total_1000_users: {total:.1f} s ({ERRORS:,} open errors; built, "
        f"rendered and sent over SMTP in batches of {DIGEST_BATCH})"
    )
    print(f"digest_build_median: {median(per_digest) * 1000:.1f} ms per digest")
    print(
        f"digest_build_unsent_median: {median(unsent) * 1000:.1f} ms per digest "
        f"(built, rendered and claimed; {unsent_total:.1f} s "
        "for 1,000 users)"
    )
    print(f"digest_queries_1k_errors: {len(small)} queries per digest")
    print(
        f"digest_queries_100k_errors: {len(large)} queries per digest "
        "(target: equal to the 1k figure)"
    )
    print(f"digest_queries_shared_window: {len(shared)} queries per digest")
    return 0


def _start_smtp_sink() -> tuple[int, subprocess.Popen]:
    """A real SMTP server in its own process that accepts and discards every message."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-c",
            "aiosmtpd.handlers.Sink",
            "-l",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return port, server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("the SMTP sink did not start")


def _reset(Integration, SyncError, User, NotificationSetting, now):
    SyncError.objects.filter(integration__name__startswith="bench").delete()
    Integration.objects.filter(name__startswith="bench").delete()
    User.objects.filter(username__startswith="bench").delete()
    integrations = [Integration.objects.create(name=f"bench {i}") for i in range(INTEGRATIONS)]
    users = User.objects.bulk_create(
        # Superusers: staff who may see sync errors, so who receive their digests.
        User(
            username=f"bench{i}",
            email=f"bench{i}@example.com",
            is_staff=True,
            is_superuser=True,
        )
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
