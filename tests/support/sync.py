"""Running sync cycles in a test: one full cycle now, in process, and its stages."""

from __future__ import annotations

from collections.abc import Iterable

from crm.models import AssociationDefinition, ObjectType, Record
from crm.services.associations import associate
from crm.services.records import RecordInput, create_record, write_records


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


def api_contacts(rows: Iterable[dict]) -> list[int]:
    """Contacts created in one write, as the API creates them; returns their ids."""
    return write_records(
        object_type=ObjectType.objects.get(name="contacts"),
        inputs=[RecordInput(properties=row) for row in rows],
        mode="create",
        source="api",
    ).ids


def member_of_a_refused_company(contacts, companies, *, email: str, lastname: str):
    """A contact whose primary company the sandbox org refuses (its trigger fails on "TRIGGER
    FAIL" names), so the contact's association cannot sync; returns (company, contact)."""
    company = create_record(
        object_type=companies, properties={"name": "TRIGGER FAIL Co"}, source="user"
    )
    contact = create_record(
        object_type=contacts, properties={"email": email, "lastname": lastname}, source="user"
    )
    definition = AssociationDefinition.objects.get(
        from_object_type=contacts, to_object_type=companies, label="Primary"
    )
    associate(definition=definition, from_record=contact, to_record=company, source="user")
    return company, contact


def refused_duplicate(integration, sandbox, contacts) -> Record:
    """A contact Salesforce's duplicate rule refuses: its email is there already, and the
    contacts only push (no pull matches the existing one first)."""
    from syncengine.models import ObjectMapping

    ObjectMapping.objects.filter(integration=integration, remote_object="Contact").update(
        direction="to_remote"
    )
    sandbox.create("Contact", LastName="Existing", Email="dupe@x.com")
    return create_record(
        object_type=contacts, properties={"email": "dupe@x.com", "lastname": "Dupe"}, source="user"
    )
