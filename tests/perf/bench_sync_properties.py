"""Benchmark sync properties on PostgreSQL with a real Celery worker on Redis (issue 6).

Figures, one a line:
- backfill of a new sync property over 100,000 contacts (target ≤ 10 s);
- latency from the commit of a source change to the target value visible, median and p95 over
  200 changes (target p95 ≤ 1 s);
- fan-out: one company renamed with 10,000 associated contacts, until all show it (≤ 2 s).

Run from the project root: `.venv/bin/python tests/perf/bench_sync_properties.py`. Needs
DATABASE_URL (PostgreSQL; the benchmark uses its own database `concord_bench_sp` on that
server) and REDIS_URL; says it is skipped otherwise.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
DB_NAME = "concord_bench_sp"
CONTACTS = 100_000
FAN_OUT = 10_000
CHANGES = 200
FIGURES = [
    "sync property backfill 100k contacts",
    "sync property latency median",
    "sync property latency p95",
    "sync property fan-out 10k contacts",
]


def main() -> int:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")) or not os.environ.get("REDIS_URL"):
        for figure in FIGURES:
            print(f"{figure}: skipped (needs PostgreSQL and Redis: set DATABASE_URL, REDIS_URL)")
        return 0
    setup_database()
    worker, queue = start_worker()
    try:
        from config.celery import app

        app.conf.task_always_eager = False
        app.conf.task_default_queue = queue
        run(queue)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
    return 0


def setup_database() -> None:
    os.environ["CONCORD_EAGER_TASKS"] = "0"
    sys.path.insert(0, str(ROOT))
    from tests.perf._setup import use_benchmark_database

    use_benchmark_database(DB_NAME)


def start_worker() -> tuple[subprocess.Popen, str]:
    queue = f"bench-sp-{os.getpid()}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "info",
        ],
        cwd=ROOT,
        env={**os.environ},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ready = threading.Event()

    def drain():
        for line in worker.stdout:
            if " ready." in line:
                ready.set()
            if "Traceback" in line or "ERROR" in line:
                print(f"# worker: {line.rstrip()}", file=sys.stderr)

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(60):
        raise SystemExit("the Celery worker did not start within 60 s")
    return worker, queue


def run(queue: str) -> None:
    from crm.models import AssociationDefinition, ObjectType

    contacts = ObjectType.objects.get(name="contacts")
    companies = ObjectType.objects.get(name="companies")
    definition = AssociationDefinition.objects.get(
        from_object_type=contacts, to_object_type=companies, label=""
    )
    clean_slate()
    big, latency_companies, contact_ids = seed(contacts, companies, definition)
    measure_backfill(contacts)
    measure_latency(latency_companies, contact_ids)
    measure_fan_out(big, contact_ids)


def clean_slate() -> None:
    """The benchmark's own database, emptied of what an earlier run left."""
    from django.db import connection

    from crm.models import Property

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE crm_syncpropertypending, crm_syncpropertyconfig_definitions, "
            "crm_syncpropertyconfig, crm_association, crm_auditevent, crm_record CASCADE"
        )
    Property.objects.filter(type=Property.Type.PROPERTY_SYNC).delete()


def seed(contacts, companies, definition) -> tuple[int, list[int], list[int]]:
    """1 company with FAN_OUT contacts, CHANGES companies with one contact each (latency), and
    the rest of the contacts spread over companies of 100: (big company, latency companies,
    contact ids)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from crm import sources
    from crm.bulk_sql import insert_rows
    from crm.models import Association
    from crm.services.records import RecordInput, write_records

    rest = CONTACTS - FAN_OUT - CHANGES
    company_count = 1 + CHANGES + rest // 100
    company_ids = write_records(
        object_type=companies,
        inputs=[RecordInput(properties={"name": f"Company {i}"}) for i in range(company_count)],
        mode="create",
        source=sources.IMPORT,
    ).ids
    contact_ids = write_records(
        object_type=contacts,
        inputs=[
            RecordInput(properties={"email": f"c{i}@bench.example.com"}) for i in range(CONTACTS)
        ],
        mode="create",
        source=sources.IMPORT,
    ).ids
    big, latency_companies, others = (
        company_ids[0],
        company_ids[1 : 1 + CHANGES],
        company_ids[1 + CHANGES :],
    )
    pairs = [(pk, big) for pk in contact_ids[:FAN_OUT]]
    pairs += list(zip(contact_ids[FAN_OUT : FAN_OUT + CHANGES], latency_companies, strict=True))
    pairs += [
        (pk, others[i // 100 % len(others)])
        for i, pk in enumerate(contact_ids[FAN_OUT + CHANGES :])
    ]
    now = timezone.now()
    with transaction.atomic():
        insert_rows(
            Association,
            ["definition_id", "from_record_id", "to_record_id", "created_at"],
            [(definition.pk, a, b, now) for a, b in pairs],
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_record; ANALYZE crm_association")
    return big, latency_companies, contact_ids


def measure_backfill(contacts) -> None:
    """From the commit that creates the property until the worker reports done."""
    from django.db import transaction

    from crm import sources
    from crm.models import Property, Record, SyncPropertyConfig
    from crm.services.schema import create_property

    started = time.monotonic()
    with transaction.atomic():
        prop = create_property(
            object_type=contacts,
            name="company_name",
            label="Company name (sync)",
            type=Property.Type.PROPERTY_SYNC,
            sync={"source_object_type": "companies", "source_property": "name"},
            source=sources.USER,
        )
    config = SyncPropertyConfig.objects.get(property=prop)
    wait(
        lambda: SyncPropertyConfig.objects.filter(pk=config.pk, backfill_status="done").exists(),
        interval=0.05,
        timeout=600,
    )
    backfill = time.monotonic() - started
    filled = Record.objects.filter(
        object_type=contacts, properties__company_name__isnull=False
    ).count()
    print(
        f"sync property backfill 100k contacts: {backfill:.2f} s "
        f"({filled:,} of {CONTACTS:,} filled; target ≤ 10 s)",
        flush=True,
    )


def measure_latency(latency_companies: list[int], contact_ids: list[int]) -> None:
    """One source change at a time, timed from its commit to the copy being visible."""
    from crm import sources
    from crm.models import Record
    from crm.services.records import update_record

    latencies = []
    companies_by_id = {r.pk: r for r in Record.objects.filter(pk__in=latency_companies)}
    targets = dict(zip(latency_companies, contact_ids[FAN_OUT : FAN_OUT + CHANGES], strict=True))
    for n, company_id in enumerate(latency_companies):
        name = f"Renamed {n}"
        update_record(
            record=companies_by_id[company_id], properties={"name": name}, source=sources.USER
        )
        committed = time.monotonic()
        target = targets[company_id]
        wait(
            lambda t=target, v=name: Record.objects.filter(
                pk=t, properties__company_name=v
            ).exists(),
            interval=0.002,
            timeout=30,
        )
        latencies.append(time.monotonic() - committed)
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    print(
        f"sync property latency median: {statistics.median(latencies) * 1000:.0f} ms "
        f"({CHANGES} changes, commit to visible)",
        flush=True,
    )
    print(
        f"sync property latency p95: {p95 * 1000:.0f} ms (target ≤ 1000 ms; max "
        f"{ordered[-1] * 1000:.0f} ms)",
        flush=True,
    )


def measure_fan_out(big: int, contact_ids: list[int]) -> None:
    """One company with FAN_OUT contacts renamed, until every contact shows it."""
    from crm import sources
    from crm.models import Record
    from crm.services.records import update_record

    big_company = Record.objects.get(pk=big)
    update_record(record=big_company, properties={"name": "Big Co renamed"}, source=sources.USER)
    committed = time.monotonic()
    wait(
        lambda: (
            Record.objects.filter(
                pk__in=contact_ids[:FAN_OUT], properties__company_name="Big Co renamed"
            ).count()
            == FAN_OUT
        ),
        interval=0.02,
        timeout=120,
    )
    fan_out = time.monotonic() - committed
    print(
        f"sync property fan-out 10k contacts: {fan_out:.2f} s "
        f"(one company renamed, {FAN_OUT:,} contacts updated; target ≤ 2 s)",
        flush=True,
    )


def wait(predicate, *, interval: float, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout} s")
        time.sleep(interval)


if __name__ == "__main__":
    sys.exit(main())
