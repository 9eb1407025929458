"""Sync health with 1,000,000 sync errors over 200,000 records (PostgreSQL): the health API
and page, an error list page (admin and API), and the streamed CSV export of every error.

In process through Django's test client (the whole request/response stack, no network).
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))
from tests.perf._errors_data import ensure_errors  # noqa: E402
from tests.perf._setup import median, percentile, skip, use_benchmark_database  # noqa: E402

ERRORS = 1_000_000
RECORDS = 200_000
REQUESTS = 50


def ensure_data():
    """One integration, 200,000 contacts, 1,000,000 errors (95 % current), made once."""
    return ensure_errors("bench-health", records=RECORDS, errors=ERRORS)


def timed(client, url: str, params: dict | None = None) -> list[float]:
    times = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        response = client.get(url, params or {})
        assert response.status_code == 200, response.status_code
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> int:
    if not use_benchmark_database("concord_bench_health"):
        skip("health endpoint p95 ms")
        return 0
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from tests.support.schema import ensure_standard_schema

    settings.ALLOWED_HOSTS = ["*"]
    ensure_standard_schema()
    started = time.perf_counter()
    integration = ensure_data()
    print(f"data set up (s): {time.perf_counter() - started:.1f}")
    # One user across runs (the data, and so the users table, are reused).
    user, _ = get_user_model().objects.get_or_create(
        username="bench-health", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    page = reverse("admin:syncengine_integration_health", args=[integration.pk])
    cases = [
        ("health endpoint", f"/api/v1/integrations/{integration.pk}/health/", None),
        ("health page", page, None),
        ("error list page (admin)", page, {"type": "property_values"}),
        ("error list page (API)", "/api/v1/sync-errors/", {"type": "picklists"}),
    ]
    for label, url, params in cases:
        times = timed(client, url, params)
        print(f"{label} median ms: {median(times):.1f}")
        print(f"{label} p95 ms: {percentile(times, 95):.1f}")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    response = client.get("/api/v1/sync-errors/export/", {"integration": integration.pk})
    lines = sum(chunk.count(b"\n") for chunk in response.streaming_content) - 1
    seconds = time.perf_counter() - start
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"export rows: {lines}")
    print(f"export rows/s: {lines / seconds:.0f}")
    print(f"export peak RSS MB: {rss_after / 1024:.0f}")
    print(f"export RSS growth MB: {(rss_after - rss_before) / 1024:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
