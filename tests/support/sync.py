"""Running sync cycles in a test: one full cycle now, in process, and its stages."""

from __future__ import annotations

from crm.models import Record
from crm.services.records import create_record


def no_sleep(seconds: float) -> None:
    """Backoff pauses are skipped in tests; the retries still happen."""


def run_cycle_now(integration):
    """Run one full cycle of the integration now, in process, and return it with its stages
    (whichever remote the integration is connected to)."""
    from syncengine.engine.cycles import claim_cycle
    from syncengine.engine.runner import CycleRunner
    from syncengine.models import SyncCycle
    from syncengine.services.integrations import build_connector

    integration.refresh_from_db()
    cycle = SyncCycle.objects.create(integration=integration, trigger="manual")
    cycle = claim_cycle(cycle_id=cycle.pk)
    runner = CycleRunner(cycle)
    runner._connector = build_connector(integration=integration, meter=runner.meter, sleep=no_sleep)
    runner.run()
    cycle.refresh_from_db()
    cycle.connector = runner._connector  # for tests that look at its retries and calls
    return cycle


def stage_of(cycle, operation: str, remote_object: str = ""):
    """The cycle's stage of one operation (on one remote object)."""
    return cycle.stages.get(operation=operation, remote_object=remote_object)


def person_stage_of(cycle, operation: str):
    """The cycle's stage of one operation on Google's contacts (Person)."""
    return stage_of(cycle, operation, "Person")


def concord_contact(contacts, **properties) -> Record:
    """A contact a user creates in Concord."""
    return create_record(object_type=contacts, properties=properties, source="user")
