"""What the records' sync timeline costs: the initial two-way sync of 100,000 contacts (half
in Concord, half in the Salesforce sandbox) with the timeline written and without it.

Run from the project root: ``.venv/bin/python tests/perf/bench_timeline.py``. Needs
DATABASE_URL's PostgreSQL server (database concord_bench_timeline). BENCH_TIMELINE_CONTACTS sets
the number of contacts (default 100,000), BENCH_TIMELINE_ROUNDS the rounds of one sync without
and one with the timeline (default 3, the order alternating; medians are printed: one round's
two syncs differed by up to 8 % of their time with the same code).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
CONTACTS = int(os.environ.get("BENCH_TIMELINE_CONTACTS", "100000"))
ROUNDS = int(os.environ.get("BENCH_TIMELINE_ROUNDS", "3"))
FIGURE = f"timeline cost, initial two-way sync {CONTACTS:,} contacts"


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")  # test-only secrets
    os.environ["CONCORD_EAGER_TASKS"] = "0"
    from tests.perf._setup import skip, use_benchmark_database

    if not use_benchmark_database("concord_bench_timeline"):
        skip(FIGURE)
        return
    from tests.perf.bench_sync import start_sandbox

    with tempfile.TemporaryDirectory() as tmpdir:
        process, url, ca = start_sandbox(Path(tmpdir))
        try:
            run(url, ca)
        finally:
            process.terminate()
            process.wait(timeout=10)


def run(url: str, ca: str) -> None:
    import requests
    from django.conf import settings

    from syncengine.engine import timeline

    # The writer's own time, besides the two wall times a shared machine makes noisy.
    writing = [0.0]
    write = timeline.write

    def timed_write(run, entries) -> None:
        started = time.perf_counter()
        write(run, entries)
        writing[0] += time.perf_counter() - started

    timeline.write = timed_write

    session = requests.Session()
    session.verify, session.trust_env = ca, False
    timings: dict[bool, list[float]] = {False: [], True: []}
    rows, in_writer = 0, []
    for round_ in range(ROUNDS):
        # Alternate which goes first: a machine that speeds up or slows down favours neither.
        for on in (False, True) if round_ % 2 == 0 else (True, False):
            settings.CONCORD_SYNC_TIMELINE = on
            writing[0] = 0.0
            wall, written = initial_two_way_sync(session, url, ca)
            timings[on].append(wall)
            if on:
                rows = written
                in_writer.append(writing[0])
    with_, without = statistics.median(timings[True]), statistics.median(timings[False])
    print(
        f"{FIGURE}: with {with_:.1f} s, without {without:.1f} s, ratio {with_ / without:.3f} "
        f"({rows:,} timeline rows; target <= 1.10)"
    )
    print(
        f"timeline writer time in the sync with it: {statistics.median(in_writer):.1f} s "
        f"({statistics.median(in_writer) / with_:.1%} of the sync's wall time)"
    )


def initial_two_way_sync(session, url: str, ca: str) -> tuple[float, int]:
    """A new integration over half the contacts in Concord and half in the sandbox: the wall
    time of its first cycle, and the timeline rows it wrote."""
    from django.db import connection

    from crm.models import ObjectType, Record
    from syncengine.management.sandbox_connect import connect_sandbox_org
    from syncengine.models import Integration, RecordLink, SyncTimelineEntry
    from tests.perf.bench_sync import create_contacts, create_remote_contacts, timed_cycle

    session.post(f"{url}/_sandbox/reset", timeout=60).raise_for_status()
    session.post(f"{url}/_sandbox/limits", json={"daily_api_limit": 1_000_000}, timeout=10)
    Integration.objects.all().delete()
    contacts = ObjectType.objects.get(name="contacts")
    Record.objects.filter(object_type=contacts).delete()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # both runs start from tables without dead rows
    local, remote = CONTACTS - CONTACTS // 2, CONTACTS // 2
    create_contacts(contacts, "local", count=local, label="Local")
    create_remote_contacts(session, url, remote)
    integration = connect_sandbox_org(
        login_url=url, client_id="concord", client_secret="sandbox-secret",
        username="integration@example.com", password="sandbox", ca_file=ca, name="Timeline",
    )  # fmt: skip
    _, wall, _ = timed_cycle(integration)
    synced = RecordLink.objects.filter(integration=integration, remote_id__isnull=False).count()
    assert synced == CONTACTS, (synced, CONTACTS)
    return wall, SyncTimelineEntry.objects.filter(integration=integration).count()


if __name__ == "__main__":
    main()
