"""Push and pull against the sandbox over HTTPS with simple-salesforce: creates, updates,
idempotent upserts, deletes, matching, associations, lead conversion and echo prevention."""

from __future__ import annotations

import pytest

from crm.models import Association, AssociationDefinition, Record
from crm.services.associations import associate
from crm.services.records import RecordInput, create_record, update_record, write_records
from syncengine.models import ObjectMapping, RecordLink
from tests.support.sync import stage_of

pytestmark = pytest.mark.django_db


def primary(from_name: str, to_name: str) -> AssociationDefinition:
    return AssociationDefinition.objects.get(
        from_object_type__name=from_name, to_object_type__name=to_name, label="Primary"
    )


def link_of(record) -> RecordLink:
    return RecordLink.objects.get(record=record)


def test_push_new_records_with_their_company(integration, sandbox, run, contacts, companies):
    # Given a company and a contact whose primary company it is
    company = create_record(
        object_type=companies,
        properties={"name": "Acme", "domain": "acme.com", "industry": "BANKING"},
        source="user",
    )
    contact = create_record(
        object_type=contacts,
        properties={"email": "ada@acme.com", "firstname": "Ada", "lastname": "Lovelace"},
        source="user",
    )
    associate(
        definition=primary("contacts", "companies"),
        from_record=contact,
        to_record=company,
        source="user",
    )
    # When a cycle runs
    cycle = run()
    # Then both exist in Salesforce, keyed by their Concord ids, the contact under its account
    assert cycle.status == "success"
    account = sandbox.get("Account", link_of(company).remote_id)
    remote = sandbox.get("Contact", link_of(contact).remote_id)
    assert account["Name"] == "Acme" and account["Industry"] == "Banking"
    assert account["Concord_Id__c"] == str(company.pk)
    assert remote["Email"] == "ada@acme.com" and remote["LastName"] == "Lovelace"
    assert remote["AccountId"] == account["Id"]
    push_new = stage_of(cycle, "push_new", "Contact")
    assert (push_new.new, push_new.api_calls) == (1, 1)
    assert not link_of(contact).dirty


def test_push_update_sends_only_changed_records(integration, sandbox, run, contacts):
    records = write_records(
        object_type=contacts,
        inputs=[
            RecordInput(properties={"email": f"u{i}@x.com", "lastname": f"U{i}"}) for i in range(5)
        ],
        mode="create",
        source="api",
    ).ids
    run()
    # When one contact's mapped property and another's unmapped property change
    first = Record.objects.get(pk=records[0])
    update_record(record=first, properties={"jobtitle": "CTO"}, source="user")
    second = Record.objects.get(pk=records[1])
    update_record(record=second, properties={"lifecyclestage": "lead"}, source="user")
    cycle = run()
    # Then one collection call updates the one changed contact; the other costs nothing
    stage = stage_of(cycle, "push_updates", "Contact")
    assert (stage.updated, stage.api_calls, stage.failed) == (1, 1, 0)
    assert sandbox.get("Contact", link_of(first).remote_id)["Title"] == "CTO"
    assert not RecordLink.objects.filter(dirty=True).exists()


def test_retried_upsert_batch_creates_no_duplicate(integration, sandbox, run, contacts):
    # Given contacts pushed once
    ids = write_records(
        object_type=contacts,
        inputs=[
            RecordInput(properties={"email": f"r{i}@x.com", "lastname": "R"}) for i in range(3)
        ],
        mode="create",
        source="api",
    ).ids
    run()
    assert sandbox.count("Contact") == 3
    # When Concord forgets it got the answers (a crash after the call): the pull finds the
    # records by their Concord_Id__c and relinks them without a push
    # records by their Concord_Id__c and relinks them without a push. (Such a crash saves
    # neither the answers nor the mark of Concord's own write, which pulls would skip.)
    RecordLink.objects.filter(record_id__in=ids).update(remote_id=None, agreed={}, dirty=True)
    ObjectMapping.objects.filter(integration=integration).update(own_writes=[])
    cycle = run()
    assert sandbox.count("Contact") == 3
    assert stage_of(cycle, "push_new", "Contact").api_calls == 0
    # And with pulls off (push only), the retried upsert on Concord_Id__c updates the same
    # records instead of creating new ones
    ObjectMapping.objects.filter(integration=integration, remote_object="Contact").update(
        direction="to_remote"
    )
    RecordLink.objects.filter(record_id__in=ids).update(remote_id=None, agreed={}, dirty=True)
    cycle = run()
    assert sandbox.count("Contact") == 3
    stage = stage_of(cycle, "push_new", "Contact")
    assert (stage.new, stage.updated, stage.api_calls) == (0, 3, 1)
    assert RecordLink.objects.filter(record_id__in=ids, remote_id__isnull=False).count() == 3


def test_collections_carry_200_records_per_call(integration, sandbox, run, contacts):
    write_records(
        object_type=contacts,
        inputs=[
            RecordInput(properties={"email": f"b{i}@x.com", "lastname": "B"}) for i in range(450)
        ],
        mode="create",
        source="api",
    )
    cycle = run()
    stage = stage_of(cycle, "push_new", "Contact")
    assert (stage.new, stage.api_calls) == (450, 3)
    assert sandbox.count("Contact") == 450


def test_cycle_run_twice_is_a_no_op(integration, sandbox, run, contacts, companies):
    create_record(object_type=companies, properties={"name": "Once"}, source="user")
    create_record(
        object_type=contacts, properties={"email": "o@x.com", "lastname": "O"}, source="user"
    )
    run()
    records_before = Record.objects.count()
    cycle = run()
    # Nothing changed: only the pull queries are spent, nothing is written anywhere
    push_calls = sum(
        s.api_calls for s in cycle.stages.filter(operation__in=["push_new", "push_updates"])
    )
    assert push_calls == 0
    assert cycle.api_calls == 9  # the users, pull updates + pull deletes for 4 objects
    assert Record.objects.count() == records_before
    assert all(s.new == s.updated == s.deleted == 0 for s in cycle.stages.all())


def test_pull_creates_records_and_matches_existing_ones(integration, sandbox, run, contacts):
    # Given a Concord contact and Salesforce contacts, one with the same email
    mine = create_record(
        object_type=contacts, properties={"email": "same@x.com", "lastname": "Mine"}, source="user"
    )
    same_id = sandbox.create("Contact", LastName="Theirs", Email="Same@x.com", Title="VP")
    new_id = sandbox.create("Contact", LastName="New", FirstName="Nia", Email="nia@x.com")
    # When the first cycle runs
    cycle = run()
    # Then the matching contact is linked (no duplicate on either side) and merged
    assert sandbox.count("Contact") == 2
    assert Record.objects.filter(object_type=contacts, archived_at__isnull=True).count() == 2
    assert link_of(mine).remote_id == same_id
    mine.refresh_from_db()
    assert mine.properties["jobtitle"] == "VP"  # blank in Concord: Salesforce's value is taken
    pulled = Record.objects.get(pk=RecordLink.objects.get(remote_id=new_id).record_id)
    assert pulled.properties["firstname"] == "Nia"
    assert pulled.property_changes["firstname"]["source"] == f"integration:{integration.pk}"
    assert stage_of(cycle, "pull_updates", "Contact").new == 1


def test_pulled_change_is_not_echoed_back(integration, sandbox, run, contacts):
    record = create_record(
        object_type=contacts, properties={"email": "e@x.com", "lastname": "Echo"}, source="user"
    )
    run()
    remote_id = link_of(record).remote_id
    sandbox.update("Contact", remote_id, Title="Head of Echo")
    used_before = sandbox.api_used()
    cycle = run()
    record.refresh_from_db()
    assert record.properties["jobtitle"] == "Head of Echo"
    assert not link_of(record).dirty
    assert stage_of(cycle, "pull_updates", "Contact").updated == 1
    assert stage_of(cycle, "push_updates", "Contact").api_calls == 0
    assert sandbox.api_used() - used_before == cycle.api_calls == 9  # users, 2 pulls for 4 objects


def test_pull_deletes_archive_records(integration, sandbox, run, contacts):
    record = create_record(
        object_type=contacts, properties={"email": "d@x.com", "lastname": "Del"}, source="user"
    )
    run()
    sandbox.delete("Contact", link_of(record).remote_id)
    cycle = run()
    record.refresh_from_db()
    assert record.archived_at is not None
    assert stage_of(cycle, "pull_deletes", "Contact").deleted == 1
    assert link_of(record).remote_deleted_at is not None


def test_pulled_reference_becomes_association(integration, sandbox, run, contacts, companies):
    account_id = sandbox.create("Account", Name="Globex", Website="https://www.globex.com")
    contact_id = sandbox.create("Contact", LastName="Hank", AccountId=account_id)
    run()
    company = Record.objects.get(pk=RecordLink.objects.get(remote_id=account_id).record_id)
    contact = Record.objects.get(pk=RecordLink.objects.get(remote_id=contact_id).record_id)
    assert Association.objects.filter(
        definition=primary("contacts", "companies"), from_record=contact, to_record=company
    ).exists()
    # When the contact moves to another account in Salesforce
    other_id = sandbox.create("Account", Name="Initech")
    sandbox.update("Contact", contact_id, AccountId=other_id)
    run()
    other = Record.objects.get(pk=RecordLink.objects.get(remote_id=other_id).record_id)
    targets = Association.objects.filter(
        definition=primary("contacts", "companies"), from_record=contact
    ).values_list("to_record_id", flat=True)
    assert list(targets) == [other.pk]


def test_companies_match_by_domain(integration, sandbox, run, companies):
    company = create_record(
        object_type=companies, properties={"name": "Acme Corp", "domain": "acme.io"}, source="user"
    )
    account_id = sandbox.create("Account", Name="ACME", Website="https://www.acme.io/about")
    run()
    assert link_of(company).remote_id == account_id
    assert sandbox.count("Account") == 1


def test_converted_lead_follows_its_contact(integration, sandbox, run, contacts):
    # Given the Lead mapping is on: new contacts become Leads
    ObjectMapping.objects.filter(integration=integration, remote_object="Lead").update(enabled=True)
    record = create_record(
        object_type=contacts,
        properties={"email": "lead@x.com", "lastname": "Lee", "company": "Leeds"},
        source="user",
    )
    run()
    lead_id = link_of(record).remote_id
    assert link_of(record).remote_object == "Lead" and lead_id.startswith("00Q")
    # When the Lead is converted in Salesforce
    result = sandbox.control("POST", f"leads/{lead_id}/convert", json={}).json()
    cycle = run()
    # Then the Concord contact is linked to the new Contact, and no duplicate appears
    link = link_of(record)
    assert (link.remote_object, link.remote_id) == ("Contact", result["contactId"])
    assert stage_of(cycle, "pull_conversions", "Lead").updated == 1
    assert Record.objects.filter(object_type=contacts, archived_at__isnull=True).count() == 1
    update_record(record=record, properties={"jobtitle": "Buyer"}, source="user")
    run()
    assert sandbox.get("Contact", result["contactId"])["Title"] == "Buyer"


def test_large_creates_go_through_bulk_api(integration, sandbox, run, contacts):
    inputs = [
        RecordInput(properties={"email": f"bulk{i}@x.com", "lastname": f"Bulk {i}"})
        for i in range(2100)
    ]
    inputs.append(RecordInput(properties={"email": "nolastname@x.com"}))
    ids = write_records(object_type=contacts, inputs=inputs, mode="create", source="api").ids
    cycle = run()
    stage = stage_of(cycle, "push_new", "Contact")
    # One job: create, upload, close, a few polls, job info and the two result files
    assert stage.new == 2100 and stage.failed == 1
    assert stage.api_calls <= 15 and "Bulk API" in stage.message
    assert sandbox.count("Contact") == 2100
    from syncengine.models import SyncError

    error = SyncError.objects.get(record_id=ids[-1])
    assert (error.category, error.code) == ("property_values", "REQUIRED_FIELD_MISSING")
    assert error.remote_field == "LastName"
    assert RecordLink.objects.filter(remote_id__isnull=False).count() == 2100
    # And nothing is left to do: the next cycle pushes nothing
    assert stage_of(run(), "push_new", "Contact").api_calls == 0


def test_large_updates_go_through_bulk_api(integration, sandbox, run, contacts, monkeypatch):
    from syncengine.engine import push

    ids = write_records(
        object_type=contacts,
        inputs=[RecordInput(properties={"email": f"bu{i}@x.com", "lastname": "Before",
                                        "jobtitle": "Old"}) for i in range(30)],
        mode="create",
        source="api",
    ).ids  # fmt: skip
    run()
    # A small threshold stands for a stage of more than 2,000 changed records
    monkeypatch.setattr(push, "BULK_THRESHOLD", 10)
    write_records(
        object_type=contacts,
        inputs=[RecordInput(id=pk, properties={"lastname": "After", "jobtitle": None})
                for pk in ids],
        mode="update",
        source="api",
    )  # fmt: skip
    cycle = run()
    stage = stage_of(cycle, "push_updates", "Contact")
    assert stage.updated == 30 and "Bulk API" in stage.message
    remote = sandbox.get("Contact", RecordLink.objects.get(record_id=ids[0]).remote_id)
    assert remote["LastName"] == "After" and remote["Title"] is None  # "#N/A" cleared it
