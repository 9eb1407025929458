"""The sync errors CSV export at 100,000 and at 1,000,000 errors (PostgreSQL).

Each size runs in a process of its own (database concord_bench_export_<size> on DATABASE_URL's
server) so that its peak RSS is its own: memory that stays flat grows as much for 1,000,000
rows as for 100,000. Prints one figure a line: the median rows/s of 3 exports as the API
streams them (the whole request/response stack through Django's test client) and their peak
RSS growth, and, at 100,000 errors, the rows/s of the Python path (what SQLite uses).

The messages are the "tricky" set: every tenth starts like a formula and has a comma, a quote,
a newline and non-ASCII text, so neutralising and quoting are part of what is measured.

Run from the repository root: .venv/bin/python tests/perf/bench_errors_export.py
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from tests.perf._errors_data import ensure_errors  # noqa: E402
from tests.perf._setup import median, skip, use_benchmark_database  # noqa: E402

SIZES = {"100k": 100_000, "1m": 1_000_000}
RUNS = 3
PYTHON_PATH_UP_TO = 100_000  # the Python path at 1,000,000 rows alone took over 3 minutes


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(chunks) -> tuple[int, float]:
    """Lines read from a stream of CSV chunks (header left out) and the seconds it took."""
    start = time.perf_counter()
    lines = 0
    for chunk in chunks:
        lines += chunk.count(b"\r\n" if isinstance(chunk, bytes) else "\r\n")
    return lines - 1, time.perf_counter() - start


def run_size(size: str) -> int:
    errors = SIZES[size]
    if not use_benchmark_database(f"concord_bench_export_{size}"):
        skip(f"errors_export_rate_{size}")
        return 0
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from tests.support.schema import ensure_standard_schema

    settings.ALLOWED_HOSTS = ["*"]
    ensure_standard_schema()
    started = time.perf_counter()
    integration = ensure_errors(
        f"bench-export-{size}", records=max(errors // 5, 1000), errors=errors, tricky=True
    )
    print(f"errors_export_setup_{size}: {time.perf_counter() - started:.1f} s ({errors:,} errors)")
    user, _ = get_user_model().objects.get_or_create(
        username="bench-export", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    connection.close()  # the export opens its own connection state, as a request would

    rss_before = peak_rss_mb()
    rates = []
    for _ in range(RUNS):
        start = time.perf_counter()
        response = client.get("/api/v1/sync-errors/export/", {"integration": integration.pk})
        assert response.status_code == 200, response.status_code
        rows, _ = measure(response.streaming_content)
        seconds = time.perf_counter() - start
        rates.append(rows / seconds)
    growth = peak_rss_mb() - rss_before
    print(
        f"errors_export_rate_{size}: {median(rates):,.0f} rows/s "
        f"(median of {RUNS}, {rows:,} rows; runs {', '.join(f'{r:,.0f}' for r in rates)})"
    )
    print(f"errors_export_rss_growth_{size}: {growth:.0f} MB (peak RSS {peak_rss_mb():.0f} MB)")

    if errors <= PYTHON_PATH_UP_TO:
        python_path_rate(integration, size)
    return 0


def python_path_rate(integration, size: str) -> None:
    """The Python path's rate on the same rows (the path SQLite takes)."""
    from syncengine.health import export
    from syncengine.health.selectors import list_errors

    queryset = list_errors(integration=integration)
    python_path = getattr(export, "iter_errors_csv_python", export.iter_errors_csv)
    rows, seconds = measure(python_path(queryset))
    print(
        f"errors_export_python_path_rate_{size}: {rows / seconds:,.0f} rows/s "
        f"({rows:,} rows in {seconds:.1f} s)"
    )


def main(argv: list[str]) -> int:
    if argv:
        return run_size(argv[0])
    for size in SIZES:  # a process each: peak RSS is per process
        result = subprocess.run([sys.executable, __file__, size], cwd=ROOT)
        if result.returncode != 0:
            return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
