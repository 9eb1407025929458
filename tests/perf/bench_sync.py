"""Benchmark of the sync engine against the Salesforce sandbox: API calls and throughput.

Run from the project root: ``.venv/bin/python tests/perf/bench_sync.py``. Uses DATABASE_URL's
PostgreSQL server (database concord_bench_sync) when set, else a temporary SQLite file.
BENCH_SYNC_N sets the number of contacts of the API-call figures (default 10,000);
BENCH_SYNC_CONTACTS the size of the initial two-way sync throughput figure (default 100,000).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
N = int(os.environ.get("BENCH_SYNC_N", "10000"))
CHANGED = min(1000, N)
PULLED = min(2000, N)
TWO_WAY = int(os.environ.get("BENCH_SYNC_CONTACTS", "100000"))


def start_sandbox(tmp: Path) -> tuple[subprocess.Popen, str, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "syncengine.sandbox.salesforce", "--port", "0",
         "--state", str(tmp / "sf.sqlite3"), "--ca-dir", str(tmp / "ca")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    url = ca = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (url is None or ca is None):
        line = process.stdout.readline()
        if match := re.search(r"listening on (https://\S+)", line):
            url = match.group(1)
        if match := re.search(r"CA certificate: (\S+)", line):
            ca = match.group(1)
    if url is None or ca is None:
        process.kill()
        raise SystemExit("the sandbox did not start")
    return process, url, ca


def setup_django(tmp: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")  # test-only secrets
    os.environ["CONCORD_EAGER_TASKS"] = "0"
    from tests.perf._setup import use_benchmark_database

    if use_benchmark_database("concord_bench_sync"):
        return
    os.environ["CONCORD_VAR_DIR"] = str(tmp)  # a throwaway SQLite database, not the demo's
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        process, url, ca = start_sandbox(tmp)
        try:
            setup_django(tmp)
            run(url, ca)
        finally:
            process.terminate()
            process.wait(timeout=10)


def run(url: str, ca: str) -> None:
    from django.db import connection

    session, integration, contacts = start_bench_integration(url, ca)
    timed_cycle(integration)  # describe and empty pulls first, so the figures below are pushes
    ids = measure_new_pushes(integration, contacts)
    measure_changed_push(integration, ids)
    measure_idle_cycles(integration)
    measure_pull(session, url, integration)
    two_way_throughput(session, url, ca)
    print(f"sync benchmark database: {connection.vendor}")


def start_bench_integration(url: str, ca: str):
    """A sandbox session with a high API limit, and a new integration over no contacts."""
    import requests

    from crm.models import ObjectType, Record
    from syncengine.management.sandbox_connect import connect_sandbox_org
    from syncengine.models import Integration

    session = requests.Session()
    session.verify, session.trust_env = ca, False
    session.post(f"{url}/_sandbox/limits", json={"daily_api_limit": 1_000_000}, timeout=10)
    # A clean slate: the benchmark database may hold a previous run.
    Integration.objects.all().delete()
    contacts = ObjectType.objects.get(name="contacts")
    Record.objects.filter(object_type=contacts).delete()
    integration = connect_sandbox_org(
        login_url=url, client_id="concord", client_secret="sandbox-secret",
        username="integration@example.com", password="sandbox", ca_file=ca, name="Bench",
    )  # fmt: skip
    return session, integration, contacts


def timed_cycle(integration):
    """Run one manual cycle in process; the cycle, its wall time and the engine's CPU time."""
    from syncengine.engine.cycles import claim_cycle
    from syncengine.engine.runner import CycleRunner
    from syncengine.models import SyncCycle

    c = SyncCycle.objects.create(integration=integration, trigger="manual")
    runner = CycleRunner(claim_cycle(cycle_id=c.pk))
    wall, cpu = time.perf_counter(), time.process_time()
    runner.run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    c.refresh_from_db()
    assert c.status == "success", c.message
    return c, wall, cpu


def calls(c, *operations: str) -> int:
    """API calls of the cycle's stages of these operations."""
    return sum(s.api_calls for s in c.stages.filter(operation__in=operations))


def create_contacts(contacts, tag: str, count: int = N, label: str = "Contact") -> list[int]:
    """`count` new contacts in Concord, written 5,000 at a time."""
    from crm.services.records import RecordInput, write_records

    ids = []
    for start in range(0, count, 5000):
        ids += write_records(
            object_type=contacts,
            inputs=[
                RecordInput(properties={"email": f"{tag}{i}@example.com", "firstname": "Bench",
                                        "lastname": f"{label} {i}", "jobtitle": "Engineer"})
                for i in range(start, min(count, start + 5000))
            ],
            mode="create",
            source="api",
        ).ids  # fmt: skip
    return ids


def measure_new_pushes(integration, contacts) -> list[int]:
    """Push N new contacts through collections, then N more through Bulk API 2.0."""
    from syncengine.engine import push as push_module

    for label, tag, threshold in (
        ("collections", "coll", 10**9),
        ("Bulk API 2.0", "bulk", push_module.BULK_THRESHOLD),
    ):
        push_module.BULK_THRESHOLD = threshold
        ids = create_contacts(contacts, tag)
        c, wall, cpu = timed_cycle(integration)
        push = calls(c, "push_new")
        print(
            f"sync push {N:,} new contacts ({label}): {N / wall:,.0f} records/s, {push} API calls "
            f"(engine CPU {cpu / N * 1000:.2f} s per 1,000 records)"
        )
    return ids


def measure_changed_push(integration, ids: list[int]) -> None:
    """Change CHANGED of the contacts just pushed and push the updates."""
    from crm.models import Record
    from crm.services.records import update_record

    changed = Record.objects.filter(pk__in=ids[:CHANGED])
    for record in changed:
        update_record(record=record, properties={"jobtitle": "Director"}, source="api")
    c, wall, _ = timed_cycle(integration)
    stage = c.stages.get(operation="push_updates", remote_object="Contact")
    print(
        f"sync push {CHANGED:,} changed contacts: {calls(c, 'push_updates')} API calls, "
        f"{CHANGED / wall:,.0f} records/s (target <= 7 calls, >= 1,000 records/s; the push "
        f"stage alone {CHANGED / (stage.ended_at - stage.started_at).total_seconds():,.0f} "
        f"records/s; the cycle took {wall:.2f} s in all, the rest its pulls and idle stages)"
    )


def measure_idle_cycles(integration) -> None:
    """A cycle with nothing changed right after the pushes, and one in the steady state."""
    from syncengine.engine.pull import OVERLAP
    from syncengine.models import ObjectMapping

    c, wall, _ = timed_cycle(integration)
    print(
        f"sync cycle with nothing changed, right after the pushes: {c.api_calls} API calls, "
        f"{calls(c, 'push_new', 'push_updates', 'update_foreign_keys')} push calls "
        f"({wall:.2f} s; target <= 9 calls: the records Concord created are not read back)"
    )
    # Steady state: nothing changed for longer than the overlap window. Moving the watermarks
    # forward by the overlap stands for the minutes that pass between scheduled cycles.
    for om in ObjectMapping.objects.filter(integration=integration, watermark__isnull=False):
        om.watermark += OVERLAP
        om.save(update_fields=["watermark"])
    c, wall, _ = timed_cycle(integration)
    print(
        f"sync cycle with nothing changed (steady state): {c.api_calls} API calls, "
        f"{calls(c, 'push_new', 'push_updates', 'update_foreign_keys')} push calls "
        f"({wall:.2f} s; pull queries only)"
    )


def measure_pull(session, url: str, integration) -> None:
    """Salesforce-side contacts created through collections, then one cycle pulls them."""
    create_remote_contacts(session, url, PULLED)
    c, wall, cpu = timed_cycle(integration)
    pulled = sum(s.new for s in c.stages.filter(operation="pull_updates"))
    print(
        f"sync pull {pulled:,} new contacts: {pulled / wall:,.0f} records/s, "
        f"{calls(c, 'pull_updates')} API calls (engine CPU {cpu / max(pulled, 1) * 1000:.2f} s "
        f"per 1,000 records)"
    )


def create_remote_contacts(session, url: str, count: int) -> None:
    """Create contacts in Salesforce as a sales user would (changes Concord must pull)."""
    token = session.post(
        f"{url}/services/oauth2/token",
        data={"grant_type": "password", "client_id": "concord", "client_secret": "sandbox-secret",
              "username": "sales@example.com", "password": "sandbox"},
        timeout=10,
    ).json()  # fmt: skip
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    for start in range(0, count, 200):
        records = [
            {"attributes": {"type": "Contact"}, "LastName": f"Remote {i}",
             "Email": f"remote{i}@example.com", "Title": "Buyer"}
            for i in range(start, min(count, start + 200))
        ]  # fmt: skip
        session.post(
            f"{url}/services/data/v62.0/composite/sobjects",
            json={"allOrNone": False, "records": records},
            headers=headers,
            timeout=120,
        ).raise_for_status()


def two_way_throughput(session, url: str, ca: str) -> None:
    """Initial two-way sync: half the contacts in Concord, half in Salesforce, a new integration."""
    from crm.models import ObjectType, Record
    from syncengine.management.sandbox_connect import connect_sandbox_org
    from syncengine.models import Integration, RecordLink

    session.post(f"{url}/_sandbox/reset", timeout=60).raise_for_status()
    session.post(f"{url}/_sandbox/limits", json={"daily_api_limit": 1_000_000}, timeout=10)
    Integration.objects.all().delete()
    contacts = ObjectType.objects.get(name="contacts")
    Record.objects.filter(object_type=contacts).delete()
    local, remote = TWO_WAY - TWO_WAY // 2, TWO_WAY // 2
    create_contacts(contacts, "local", count=local, label="Local")
    # The sandbox's own collection rate, on the same machine at the same moment: the ceiling
    # the engine's rate is a fraction of (it also writes Concord's side).
    started = time.perf_counter()
    create_remote_contacts(session, url, remote)
    sandbox_rate = remote / (time.perf_counter() - started)
    integration = connect_sandbox_org(
        login_url=url, client_id="concord", client_secret="sandbox-secret",
        username="integration@example.com", password="sandbox", ca_file=ca, name="Bench 2-way",
    )  # fmt: skip
    c, wall, cpu = timed_cycle(integration)
    synced = RecordLink.objects.filter(integration=integration, remote_id__isnull=False).count()
    assert synced == TWO_WAY, (synced, TWO_WAY)
    print(
        f"sync initial two-way sync of {TWO_WAY:,} contacts ({local:,} pushed, {remote:,} "
        f"pulled): {TWO_WAY / wall:,.0f} records/s, {c.api_calls} API calls, engine CPU "
        f"{cpu / TWO_WAY * 1000:.2f} s per 1,000 records (target <= 0.5 s)"
    )
    print(
        f"sync initial two-way sync / sandbox's own collection rate: "
        f"{TWO_WAY / wall / sandbox_rate:.2f} ({TWO_WAY / wall:,.0f} / {sandbox_rate:,.0f} "
        f"records/s; target >= 0.6)"
    )


if __name__ == "__main__":
    main()
