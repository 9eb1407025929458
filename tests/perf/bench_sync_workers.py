"""Two Celery workers against one: two integrations syncing in parallel.

What divides between workers is whole cycles: a cycle is one integration's run, claimed by one
worker (the lease in `engine/cycles.py`) and run stage by stage in that worker alone, so one
integration never goes faster with more workers, but several integrations sync side by side.
This benchmark connects two Salesforce orgs (two sandbox processes), gives each an initial sync
of the same BENCH_WORKERS_CONTACTS Concord contacts (default 5,000: a Bulk API 2.0 push each),
and times both cycles from queueing to the end of the later one, with one worker process and
then with two (`celery worker --pool=solo`, as many processes as workers), on PostgreSQL and
Redis. Prints the median of BENCH_WORKERS_ROUNDS rounds (default 2) of each and their ratio.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.perf._setup import skip, use_benchmark_database  # noqa: E402
from tests.perf.bench_sync import create_contacts, start_sandbox  # noqa: E402

CONTACTS = int(os.environ.get("BENCH_WORKERS_CONTACTS", "5000"))
ROUNDS = int(os.environ.get("BENCH_WORKERS_ROUNDS", "2"))
FIGURE = "sync workers: two integrations in parallel"


def main() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")) or not os.environ.get("REDIS_URL"):
        skip(FIGURE, "needs PostgreSQL and Redis: set DATABASE_URL and REDIS_URL")
        return
    os.environ["CONCORD_EAGER_TASKS"] = "0"
    use_benchmark_database("concord_bench_sync_workers")
    queue = f"bench-workers-{os.getpid()}"
    from config.celery import app

    app.conf.task_default_queue = queue  # the cycles go to this benchmark's workers only
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        sandboxes = []
        for i in (1, 2):
            (tmp / f"org{i}").mkdir()
            sandboxes.append(start_sandbox(tmp / f"org{i}"))
        try:
            seed()
            walls: dict[int, list[float]] = {1: [], 2: []}
            for _ in range(ROUNDS):
                for workers in (1, 2):
                    walls[workers].append(sync_round(sandboxes, workers, queue))
        finally:
            for process, _, _ in sandboxes:
                process.terminate()
                process.wait(timeout=10)
    one, two = statistics.median(walls[1]), statistics.median(walls[2])
    records = 2 * CONTACTS
    for workers, wall in ((1, one), (2, two)):
        print(
            f"{FIGURE}, {workers} worker{'s' if workers > 1 else ''}: {records / wall:,.0f} "
            f"records/s ({records:,} contacts pushed to two orgs in {wall:.1f} s, median of "
            f"{ROUNDS})"
        )
    print(f"{FIGURE}, 2 workers / 1 worker: {one / two:.2f}x (2.0 would be perfect division)")


def seed() -> None:
    from django.db import connection

    from crm.models import ObjectType

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE crm_record, syncengine_integration RESTART IDENTITY CASCADE")
    create_contacts(ObjectType.objects.get(name="contacts"), "workers", count=CONTACTS)


def sync_round(sandboxes, workers: int, queue: str) -> float:
    """Reset both orgs, connect each anew, queue both initial syncs; their wall time."""
    import requests

    from syncengine.engine.cycles import start_cycle
    from syncengine.management.sandbox_connect import connect_sandbox_org
    from syncengine.models import Integration, SyncCycle

    Integration.objects.all().delete()  # and with it every link: a fresh initial sync
    integrations = []
    for i, (_, url, ca) in enumerate(sandboxes):
        session = requests.Session()
        session.verify, session.trust_env = ca, False
        session.post(f"{url}/_sandbox/reset", timeout=60).raise_for_status()
        session.post(f"{url}/_sandbox/limits", json={"daily_api_limit": 1_000_000}, timeout=10)
        integrations.append(
            connect_sandbox_org(
                login_url=url, client_id="concord", client_secret="sandbox-secret",
                username="integration@example.com", password="sandbox", ca_file=ca,
                name=f"Org {i + 1}",
            )
        )  # fmt: skip
    processes = [start_worker(queue, n) for n in range(workers)]
    try:
        time.sleep(3)  # the workers are listening before anything is queued
        started = time.perf_counter()
        cycles = [start_cycle(integration=i, trigger="manual")[0] for i in integrations]
        ids = [c.pk for c in cycles]
        while SyncCycle.objects.filter(pk__in=ids, status__in=SyncCycle.ACTIVE).exists():
            if time.perf_counter() - started > 1800:
                raise SystemExit("the cycles did not end within 30 minutes")
            time.sleep(0.1)
        wall = time.perf_counter() - started
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
    for cycle in SyncCycle.objects.filter(pk__in=ids):
        assert cycle.status == SyncCycle.Status.SUCCESS, cycle.message
    return wall


def start_worker(queue: str, number: int) -> subprocess.Popen:
    """One `celery worker` process (solo pool: one cycle at a time) on the benchmark's queue."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
         "--concurrency=1", "-Q", queue, "-n", f"bench{number}@%h", "--without-heartbeat",
         "--without-gossip", "--without-mingle", "-l", "warning"],
        cwd=ROOT,
        env={**os.environ, "CONCORD_CELERY_QUEUE": queue},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


if __name__ == "__main__":
    main()
