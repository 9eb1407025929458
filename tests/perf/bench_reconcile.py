"""Benchmark of reconciliation against the Salesforce sandbox: calls and seconds to compare
100,000 linked contacts with Salesforce's ids, when nothing was deleted and when 1,000 were
purged from the recycle bin (past the delete log, so only the id comparison finds them).

Run from the project root: ``.venv/bin/python tests/perf/bench_reconcile.py``. Needs PostgreSQL
(DATABASE_URL's server, database concord_bench_reconcile). BENCH_RECONCILE_N sets the number
of linked contacts (default 100,000).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
N = int(os.environ.get("BENCH_RECONCILE_N", "100000"))
PURGED = min(1000, N // 10)


def main() -> None:
    from tests.perf._setup import skip, use_benchmark_database
    from tests.perf.bench_sync import start_sandbox

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")  # test-only secrets
    os.environ["CONCORD_EAGER_TASKS"] = "0"
    if not use_benchmark_database("concord_bench_reconcile"):
        skip(f"reconcile {N:,} linked contacts")
        return
    with tempfile.TemporaryDirectory() as tmpdir:
        process, url, ca = start_sandbox(Path(tmpdir))
        try:
            run(url, ca)
        finally:
            process.terminate()
            process.wait(timeout=10)


def run(url: str, ca: str) -> None:
    import logging

    import requests

    # The refused getDeleted of the purge case is expected: only figures are printed.
    logging.getLogger("syncengine").setLevel(logging.WARNING)
    session = requests.Session()
    session.verify, session.trust_env = ca, False
    session.post(f"{url}/_sandbox/limits", json={"daily_api_limit": 10_000_000}, timeout=10)
    integration, remote_ids = linked_contacts(session, url, ca)
    stage = reconcile_now(integration)
    assert stage.deleted == 0, stage.message
    print(
        f"reconcile {N:,} linked contacts, nothing deleted: {stage.api_calls} API calls "
        f"({stage.api_calls / N * 100_000:.1f} per 100,000; target <= 3), "
        f"{seconds(stage):.1f} s"
    )
    headers = sales_headers(session, url)
    gone = remote_ids[:: max(1, len(remote_ids) // PURGED)][:PURGED]
    for start in range(0, len(gone), 200):
        session.delete(
            f"{url}/services/data/v62.0/composite/sobjects",
            params={"ids": ",".join(gone[start : start + 200]), "allOrNone": "false"},
            headers=headers,
            timeout=120,
        ).raise_for_status()
    session.post(f"{url}/_sandbox/recycle-bin/empty", timeout=120).raise_for_status()
    session.post(f"{url}/_sandbox/delete-log/purge", timeout=10).raise_for_status()
    stage = reconcile_now(integration, delete_log_read_at=dt.timedelta(hours=1))
    assert stage.deleted == PURGED, stage.message
    print(
        f"reconcile {N:,} linked contacts, {PURGED:,} purged from the recycle bin: "
        f"{stage.api_calls} API calls, {seconds(stage):.1f} s, {stage.deleted:,} found and "
        f"archived (getDeleted refused: the delete log was purged; ids compared)"
    )


def seconds(stage) -> float:
    return (stage.ended_at - stage.started_at).total_seconds()


def sales_headers(session, url: str) -> dict[str, str]:
    """A sales user's token: the contacts are made and deleted as a Salesforce user would."""
    token = session.post(
        f"{url}/services/oauth2/token",
        data={"grant_type": "password", "client_id": "concord", "client_secret": "sandbox-secret",
              "username": "sales@example.com", "password": "sandbox"},
        timeout=10,
    ).json()  # fmt: skip
    return {"Authorization": f"Bearer {token['access_token']}"}


def linked_contacts(session, url: str, ca: str):
    """N contacts in Salesforce, N in Concord, linked one to one (as after a first sync)."""
    from django.utils import timezone

    from crm.models import ObjectType, Record
    from crm.services.records import RecordInput, write_records
    from syncengine.management.sandbox_connect import connect_sandbox_org
    from syncengine.models import Integration, ObjectMapping, RecordLink

    Integration.objects.all().delete()
    contacts = ObjectType.objects.get(name="contacts")
    Record.objects.filter(object_type=contacts).delete()
    headers = sales_headers(session, url)
    remote_ids: list[str] = []
    for start in range(0, N, 200):
        records = [
            {"attributes": {"type": "Contact"}, "LastName": f"Remote {i}",
             "Email": f"remote{i}@example.com"}
            for i in range(start, min(N, start + 200))
        ]  # fmt: skip
        answer = session.post(
            f"{url}/services/data/v62.0/composite/sobjects",
            json={"allOrNone": False, "records": records},
            headers=headers,
            timeout=120,
        )
        answer.raise_for_status()
        remote_ids += [item["id"] for item in answer.json()]
    integration = connect_sandbox_org(
        login_url=url, client_id="concord", client_secret="sandbox-secret",
        username="integration@example.com", password="sandbox", ca_file=ca, name="Bench",
    )  # fmt: skip
    om = ObjectMapping.objects.get(integration=integration, remote_object="Contact")
    an_hour_ago = timezone.now() - dt.timedelta(hours=1)
    for start in range(0, N, 5000):
        ids = write_records(
            object_type=contacts,
            inputs=[
                RecordInput(properties={"email": f"remote{i}@example.com",
                                        "lastname": f"Remote {i}"})
                for i in range(start, min(N, start + 5000))
            ],
            mode="create",
            source="api",
        ).ids  # fmt: skip
        # The change hook linked the new records to be pushed: they are linked as pulled instead.
        RecordLink.objects.filter(integration=integration, record_id__in=ids).delete()
        RecordLink.objects.bulk_create(
            [
                RecordLink(integration=integration, object_mapping=om, record_id=record_id,
                           remote_object="Contact", remote_id=remote_id, dirty=False,
                           synced_at=an_hour_ago)
                for record_id, remote_id in zip(ids, remote_ids[start : start + 5000], strict=True)
            ],
            batch_size=5000,
        )  # fmt: skip
    return integration, remote_ids


def reconcile_now(integration, delete_log_read_at: dt.timedelta = dt.timedelta(minutes=1)):
    """One Reconcile stage of the contacts, its id comparison due (the last a day ago)."""
    from django.utils import timezone

    from syncengine.engine import reconcile
    from syncengine.engine.cycles import claim_cycle
    from syncengine.engine.runner import CycleRunner
    from syncengine.models import ObjectMapping, SyncCycle

    now = timezone.now()
    ObjectMapping.objects.filter(integration=integration, remote_object="Contact").update(
        reconciled_at=now - dt.timedelta(days=1), delete_log_until=now - delete_log_read_at
    )
    cycle = SyncCycle.objects.create(integration=integration, trigger="manual")
    runner = CycleRunner(claim_cycle(cycle_id=cycle.pk))
    om = next(m for m in runner.mappings if m.remote_object == "Contact")
    reconcile.reconcile(runner, om)
    runner.meter.flush()
    SyncCycle.objects.filter(pk=cycle.pk).update(
        status=SyncCycle.Status.SUCCESS, ended_at=timezone.now(), lease_until=None
    )
    return cycle.stages.get(operation="reconcile", remote_object="Contact")


if __name__ == "__main__":
    main()
