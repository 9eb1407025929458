"""An initial sync of 5,000 contacts through Bulk API 2.0 on a real worker and PostgreSQL, with
row locks and 503s injected all along: transient failures are retried, a failed push keeps its
dirty mark, and in the end every contact is in Salesforce exactly once."""

from __future__ import annotations

import pytest

from syncengine.models import RecordLink, SyncCycle, SyncStage
from tests.support.salesforce_sandbox import sales_user_headers
from tests.support.schema import ensure_standard_schema
from tests.support.sync import api_contacts
from tests.support.waiting import wait_until

pytestmark = pytest.mark.worker

CONTACTS = 5000  # over the 2,000-record threshold: the push goes through Bulk API 2.0


def bulk_jobs(sandbox) -> list[dict]:
    """Every ingest job the org has run (read as the admin would, through the API)."""
    response = sandbox.session().get(
        f"{sandbox.url}/services/data/v62.0/jobs/ingest",
        headers=sales_user_headers(sandbox),
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["records"]


def test_faulted_bulk_initial_sync_loses_no_contact(restartable_worker, sandbox):
    ensure_standard_schema()
    from syncengine.engine.cycles import start_cycle
    from tests.support.salesforce_sandbox import connect_org

    integration = connect_org(sandbox)
    ids = api_contacts({"email": f"bulk{i}@x.com", "lastname": f"B{i}"} for i in range(CONTACTS))
    # Faults on for the whole initial sync: one record in ten meets a row lock, one call in
    # ten a 503
    sandbox.control(
        "PATCH", "faults", json={"unable_to_lock_row_rate": 0.1, "server_unavailable_rate": 0.1}
    )
    restartable_worker.start()
    cycle, _ = start_cycle(integration=integration)
    wait_until(
        lambda: SyncCycle.objects.get(pk=cycle.pk).status not in SyncCycle.ACTIVE, timeout=600
    )
    push = SyncStage.objects.get(
        cycle=cycle, operation=SyncStage.Operation.PUSH_NEW, remote_object="Contact"
    )
    assert "Bulk API" in push.message
    sandbox.control("DELETE", "faults")
    # Row locks did happen inside the job results, and were sent again in later jobs
    jobs = bulk_jobs(sandbox)
    assert sum(job["numberRecordsFailed"] for job in jobs) > 0
    assert len(jobs) > 1
    # Whatever the faults left over is still to be pushed, never forgotten
    links = RecordLink.objects.filter(record_id__in=ids)
    assert links.filter(remote_id__isnull=True, dirty=False).count() == 0

    # Two later cycles without faults send what is left, if anything, and nothing twice
    for _ in range(2):
        later, _ = start_cycle(integration=integration)
        wait_until(
            lambda later=later: SyncCycle.objects.get(pk=later.pk).status not in SyncCycle.ACTIVE,
            timeout=300,
        )
    assert sandbox.count("Contact") == CONTACTS  # every contact there, none twice
    assert links.filter(remote_id__isnull=False).count() == CONTACTS
    assert len(set(links.values_list("remote_id", flat=True))) == CONTACTS
    assert not links.filter(dirty=True).exists()
