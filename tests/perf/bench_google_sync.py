"""Initial two-way Google Contacts sync of 25,000 contacts (PostgreSQL + the People API sandbox).

12,500 contacts in Concord and 12,500 in Google, 5,000 of them the same people (matched by
email). One cycle, in process, through google-api-python-client over HTTP: Google's 7,500 are
created in Concord, Concord's 7,500 in Google, and the 5,000 matches merged (Concord wins the
conflicting names, so each match is updated in Google). Prints the API calls per method against
the floor (pages of 1,000, batches of 200) and the wall time. BENCH_GOOGLE_N=1000 runs a small
version (1,000 a side, 400 matches) for a shared machine.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))
from tests.perf._setup import skip, use_benchmark_database  # noqa: E402

# BENCH_GOOGLE_N shrinks the run (contacts per side; the matches stay two fifths of them).
PER_SIDE = int(os.environ.get("BENCH_GOOGLE_N", "12500"))
MATCHING = PER_SIDE * 2 // 5


def seed_concord() -> None:
    from django.db import connection

    from crm.models import ObjectType
    from crm.services.records import RecordInput, write_records

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE crm_record, syncengine_integration RESTART IDENTITY CASCADE")
    contacts = ObjectType.objects.get(name="contacts")
    inputs = [
        RecordInput(
            properties={
                "firstname": "Concord",
                "lastname": f"{i:05d}",
                # The first 5,000 share Google's addresses (its fill names them g<i>@…).
                "email": f"g{i}@example.com" if i < MATCHING else f"c{i}@example.com",
                "jobtitle": "Engineer",
                "city": "Leeds",
            }
        )
        for i in range(PER_SIDE)
    ]
    write_records(object_type=contacts, inputs=inputs, mode="create", source="user")


def main() -> int:
    if not use_benchmark_database("concord_bench_google"):
        skip("google initial sync API calls")
        return 0
    from syncengine.engine.cycles import claim_cycle
    from syncengine.engine.runner import CycleRunner
    from syncengine.management.sandbox_connect import connect_sandbox_account
    from syncengine.models import Integration, SyncCycle
    from syncengine.services.integrations import build_connector
    from tests.support.google_sandbox import (
        CLIENT_ID,
        CLIENT_SECRET,
        QUOTAS_OFF,
        settle,
        start_sandbox,
        stop_sandbox,
    )
    from tests.support.schema import ensure_standard_schema

    ensure_standard_schema()
    with tempfile.TemporaryDirectory() as tmp:
        google = start_sandbox(Path(tmp) / "state.sqlite3")
        try:
            google.ok("PATCH", "quotas", json=QUOTAS_OFF)  # measure the sync, not the quota
            google.ok("POST", "fill", json={"count": PER_SIDE, "prefix": "g"})
            # Contacts the user had before connecting: past Google's sync propagation delay.
            settle(google)
            seed_concord()
            integration = connect_sandbox_account(
                oauth_url=google.url.rstrip("/"), client_id=CLIENT_ID, client_secret=CLIENT_SECRET
            )
            cycle = SyncCycle.objects.create(integration=integration, trigger="manual")
            cycle = claim_cycle(cycle_id=cycle.pk)
            runner = CycleRunner(cycle)
            runner._connector = build_connector(integration=integration, meter=runner.meter)
            started = time.perf_counter()
            runner.run()
            seconds = time.perf_counter() - started
            cycle.refresh_from_db()
            assert cycle.status == SyncCycle.Status.SUCCESS, cycle.message
            status = google.ok("GET", "")
            in_google = status["counts"]["contacts"]
            in_concord = integration.links.count()
            calls = runner._connector.calls_by_method
        finally:
            stop_sandbox(google)
    expected_total = 2 * PER_SIDE - MATCHING
    assert in_google == expected_total and in_concord == expected_total, (in_google, in_concord)
    floor = {
        "people.people.connections.list": math.ceil(PER_SIDE / 1000),
        "people.people.batchCreateContacts": math.ceil((PER_SIDE - MATCHING) / 200),
        "people.people.batchUpdateContacts": math.ceil(MATCHING / 200),
    }
    for method in sorted(set(calls) | set(floor)):
        used, least = calls.get(method, 0), floor.get(method, 0)
        print(f"google initial sync {method} calls: {used} (floor {least})")
    total = sum(calls.values())
    print(f"google initial sync API calls: {total} (floor {sum(floor.values())})")
    print(f"google initial sync contacts after sync (each side): {expected_total}")
    print(f"google initial sync wall time s: {seconds:.1f}")
    print(f"google initial sync contacts/s: {expected_total / seconds:.0f}")
    Integration.objects.all().delete()
    return 0


if __name__ == "__main__":
    sys.exit(main())
