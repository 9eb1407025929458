"""The sync errors CSV export at 100,000 and at 1,000,000 errors (PostgreSQL).

Each size runs in a process of its own (database concord_bench_export_<size> on DATABASE_URL's
server) so that its peak RSS is its own: memory that stays flat grows as much for 1,000,000
rows as for 100,000. Prints one figure a line: the median rows/s of 3 exports as the API
streams them (the whole request/response stack through Django's test client) and their peak
RSS growth, and the rows/s of the Python path (what SQLite uses) on 20,000 of the errors.

The messages are the "tricky" set: every tenth starts like a formula and has a comma, a quote,
a newline and non-ASCII text, so neutralising and quoting are part of what is measured.

Run from the repository root: .venv/bin/python tests/perf/bench_errors_export.py
"""

from __future__ import annotations

import os
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
PYTHON_PATH_UP_TO = 100_000  # measured once, at the small size
PYTHON_PATH_ROWS = 20_000  # at under 1,000 rows/s on a loaded machine, 20,000 are enough


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(chunks) -> tuple[int, float]:
    """Lines read from a stream of CSV chunks (header left out) and the seconds it took."""
    start = time.perf_counter()
    lines = 0
    for chunk in chunks:
        lines += chunk.count(b"\r\n" if isinstance(chunk, bytes) else "\r\n")
    return lines - 1, time.perf_counter() - start


def backend_cpu_seconds(pid: int) -> float:
    """CPU time of a PostgreSQL backend on this machine (its /proc stat), 0 when unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def measure_cpu(chunks) -> tuple[int, float, float]:
    """Lines of a streamed export, and the CPU seconds its database backend and this process
    spent on it from its first chunk on: on a shared machine, what the export itself costs."""
    from django.db import connection

    lines, pid, database, python = 0, None, 0.0, time.process_time()
    for chunk in chunks:
        if pid is None:  # the request has opened the connection the COPY runs on
            pid = connection.connection.info.backend_pid
            database = backend_cpu_seconds(pid)
        lines += chunk.count(b"\r\n")
    database = backend_cpu_seconds(pid) - database
    return lines - 1, database, time.process_time() - python


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
    rates, cpu_rates, databases, pythons = [], [], [], []
    for _ in range(RUNS):
        start = time.perf_counter()
        response = client.get("/api/v1/sync-errors/export/", {"integration": integration.pk})
        assert response.status_code == 200, response.status_code
        rows, database, python = measure_cpu(response.streaming_content)
        seconds = time.perf_counter() - start
        response.close()
        rates.append(rows / seconds)
        databases.append(database)
        pythons.append(python)
        cpu_rates.append(rows / max(database, python, 1e-9))
    growth = peak_rss_mb() - rss_before
    print(
        f"errors_export_rate_{size}: {median(rates):,.0f} rows/s "
        f"(median of {RUNS}, {rows:,} rows; runs {', '.join(f'{r:,.0f}' for r in rates)})"
    )
    print(
        f"errors_export_rate_unloaded_{size}: {median(cpu_rates):,.0f} rows/s (median; CPU "
        f"per export: database {median(databases):.1f} s, Python {median(pythons):.1f} s, which "
        "run side by side: the rate with a core each, whatever else the machine runs)"
    )
    print(f"errors_export_rss_growth_{size}: {growth:.0f} MB (peak RSS {peak_rss_mb():.0f} MB)")

    if errors <= PYTHON_PATH_UP_TO:
        python_path_rate(integration, size)
    return 0


def python_path_rate(integration, size: str) -> None:
    """The Python path's rate (the path SQLite takes) on the first 20,000 errors."""
    from syncengine.health import export
    from syncengine.health.selectors import list_errors

    first = integration.errors.order_by("pk").values_list("pk", flat=True).first()
    queryset = list_errors(integration=integration).filter(pk__lt=first + PYTHON_PATH_ROWS)
    python_path = getattr(export, "iter_errors_csv_python", export.iter_errors_csv)
    rows, seconds = measure(python_path(queryset))
    print(
        f"errors_export_python_path_rate: {rows / seconds:,.0f} rows/s "
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
