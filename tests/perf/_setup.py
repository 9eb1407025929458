"""Shared set-up of the benchmarks: a dedicated, migrated PostgreSQL database."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def use_benchmark_database(name: str) -> bool:
    """Point Django at DATABASE_URL's server, database `name`, migrated. False without PG.

    CONCORD_BENCH_DB_PREFIX, when set, replaces the "concord_bench_" the names start with, so
    several people benchmarking on one server do not truncate each other's tables.
    """
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return False
    prefix = os.environ.get("CONCORD_BENCH_DB_PREFIX")
    if prefix and name.startswith("concord_bench_"):
        name = prefix + name.removeprefix("concord_bench_")
    server = url.rsplit("/", 1)[0]
    os.environ["DATABASE_URL"] = f"{server}/{name}"
    # tests.settings: test-only secrets, inherited by the servers and workers benchmarks start.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    sys.path.insert(0, str(ROOT))
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return True


def skip(figure: str, reason: str = "needs PostgreSQL: set DATABASE_URL") -> None:
    print(f"{figure}: skipped ({reason})")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, check=True, **kwargs)
