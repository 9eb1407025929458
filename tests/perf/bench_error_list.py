"""The admin's sync error list and the sync errors CSV export at 1,000,000 errors (PostgreSQL,
database concord_bench_errors on DATABASE_URL's server).

Prints one figure a line: the admin error list's median and p95 (first page unfiltered, first
page filtered by status and type, the next page), the export's rows/s and its memory growth.
In process through Django's test client (the whole request/response stack, no network).

Run from the repository root: .venv/bin/python tests/perf/bench_error_list.py
"""

from __future__ import annotations

import html
import re
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from tests.perf._errors_data import ensure_errors
from tests.perf._setup import median, percentile, skip, use_benchmark_database

ERRORS = 1_000_000
RECORDS = 200_000
REQUESTS = 50
LIST_URL = "/admin/syncengine/syncerror/"
# The keyset pages' "next" link, or Django's numbered second page where there is none.
NEXT_LINK = re.compile(r'<a href="(\?[^"]*)"[^>]*class="[^"]*\bnext-page\b')


def ensure_data():
    """One integration, 200,000 contacts, 1,000,000 errors (95 % current), made once."""
    return ensure_errors("bench-errors", records=RECORDS, errors=ERRORS, tricky=True)


def timed(client, url: str) -> tuple[list[float], list[float], list[float]]:
    """Each request's wall time, this process's CPU time, and its queries' time (ms).

    On a shared machine the wall time includes waiting for a core; the CPU and query times
    say what the request itself costs.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    walls, cpus, sqls = [], [], []
    for _ in range(REQUESTS):
        with CaptureQueriesContext(connection) as queries:
            start, cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            walls.append((time.perf_counter() - start) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
        assert response.status_code == 200, response.status_code
        sqls.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
    return walls, cpus, sqls


def next_page_url(client, url: str) -> str:
    body = client.get(url).content.decode()
    match = NEXT_LINK.search(body)
    return LIST_URL + html.unescape(match.group(1)) if match else f"{url}&p=2"


def main() -> int:
    if not use_benchmark_database("concord_bench_errors"):
        skip("error_list_p95_ms")
        return 0
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from tests.support.schema import ensure_standard_schema

    settings.ALLOWED_HOSTS = ["*"]
    ensure_standard_schema()
    started = time.perf_counter()
    integration = ensure_data()
    print(f"error_list_setup: {time.perf_counter() - started:.1f} s ({ERRORS:,} errors)")
    user, _ = get_user_model().objects.get_or_create(
        username="bench-errors", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    filtered = f"{LIST_URL}?status__exact=open&category__exact=picklists"
    cases = [
        ("error_list_unfiltered", f"{LIST_URL}?"),
        ("error_list_filtered", filtered),
        ("error_list_next_page", next_page_url(client, filtered)),
    ]
    for label, url in cases:
        walls, cpus, sqls = timed(client, url)
        print(
            f"{label}: median {median(walls):.1f} ms, p95 {percentile(walls, 95):.1f} ms "
            f"(median Python CPU {median(cpus):.1f} ms, SQL {median(sqls):.1f} ms)"
        )

    connection.close()  # the export opens its own connection state, as a request would
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    response = client.get("/api/v1/sync-errors/export/", {"integration": integration.pk})
    assert response.status_code == 200, response.status_code
    lines = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\r\n")
    seconds = time.perf_counter() - start
    rows = lines - 1
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"errors_export_rate: {rows / seconds:,.0f} rows/s ({rows:,} rows in {seconds:.1f} s)")
    print(f"errors_export_rss_growth: {(rss_after - rss_before) / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
