"""Delete rules and restores with Google Contacts (SPEC L-1, L-2), on the People API sandbox over
HTTP with google-api-python-client: remote deletes archive (or are ignored), Concord archives
move contacts to Google's Trash in batches of 200 (or are left alone, the default), a contact
already gone counts as deleted, and a restore in Concord re-creates the contact once."""

from __future__ import annotations

import pytest

from crm.models import Record
from crm.services.records import RecordInput, archive_records, restore_records, write_records
from syncengine.models import ObjectMapping, RecordLink, SyncError
from syncengine.services.mappings import set_delete_rules
from tests.support.google_sandbox import GoogleSandbox, connect_account, next_scheduled_cycle
from tests.support.sync import person_stage_of as stage_of
from tests.support.sync import run_cycle_now

pytestmark = pytest.mark.django_db


@pytest.fixture
def google(google_sandbox: GoogleSandbox) -> GoogleSandbox:
    return google_sandbox


@pytest.fixture
def integration(google: GoogleSandbox, crm_schema):
    return connect_account(google)


@pytest.fixture
def run(integration, google):
    """The next scheduled cycle (writes made meanwhile have reached Google's sync answers)."""

    def run_next():
        next_scheduled_cycle(google, integration)
        cycle = run_cycle_now(integration)
        assert cycle.status == "success", cycle.message
        return cycle

    return run_next


def person_mapping(integration) -> ObjectMapping:
    return ObjectMapping.objects.get(integration=integration, remote_object="Person")


def pushed_contacts(contacts, run, count: int) -> list[int]:
    ids = write_records(
        object_type=contacts,
        inputs=[
            RecordInput(properties={"email": f"g{i}@x.com", "lastname": f"G{i}"})
            for i in range(count)
        ],
        mode="create",
        source="user",
    ).ids
    run()
    assert RecordLink.objects.filter(record_id__in=ids, remote_id__isnull=False).count() == count
    return ids


def live_names(google) -> set[str]:
    return {c["resourceName"] for c in google.ok("GET", "contacts")["contacts"]}


def delete_in_google(integration) -> None:
    set_delete_rules(
        object_mapping=person_mapping(integration), push_delete_rule="delete", confirm_deletes=True
    )


def test_a_google_delete_archives_by_default_and_is_ignored_under_the_ignore_rule(
    integration, google, run, contacts
):
    first, second = pushed_contacts(contacts, run, 2)
    for record_id in (first, second):
        name = RecordLink.objects.get(record_id=record_id).remote_id
        google.ok("DELETE", f"contacts/{name.split('/')[-1]}")
        if record_id == first:
            cycle = run()
            assert Record.objects.get(pk=first).archived_at is not None
            assert stage_of(cycle, "pull_deletes").deleted == 1
        else:
            set_delete_rules(object_mapping=person_mapping(integration), pull_delete_rule="ignore")
            cycle = run()
            assert Record.objects.get(pk=second).archived_at is None
            assert stage_of(cycle, "pull_deletes").deleted == 0
        assert RecordLink.objects.get(record_id=record_id).remote_deleted_at is not None


def test_a_concord_archive_is_left_in_google_by_default(integration, google, run, contacts):
    ids = pushed_contacts(contacts, run, 2)

    archive_records(object_type=contacts, record_ids=ids, source="user")
    cycle = run()

    assert len(live_names(google)) == 2
    assert stage_of(cycle, "push_deletes").api_calls == 0


def test_a_concord_archive_moves_contacts_to_trash_in_batches_of_200(
    integration, google, run, contacts
):
    ids = pushed_contacts(contacts, run, 450)
    delete_in_google(integration)

    archive_records(object_type=contacts, record_ids=ids, source="user")
    cycle = run()

    stage = stage_of(cycle, "push_deletes")
    assert (stage.deleted, stage.failed) == (450, 0)
    assert cycle.connector.calls_by_method["people.people.batchDeleteContacts"] == 3  # 200+200+50
    assert live_names(google) == set()
    assert len(google.ok("GET", "trash")["contacts"]) == 450
    assert RecordLink.objects.filter(remote_deleted_at__isnull=False, pending_op="").count() == 450
    # Google reports the deletes back: nothing more happens.
    again = run()
    assert stage_of(again, "pull_deletes").deleted == 0
    assert stage_of(again, "push_deletes").api_calls == 0
    assert Record.objects.filter(object_type=contacts, archived_at__isnull=True).count() == 0


def test_a_contact_already_gone_counts_as_deleted(integration, google, contacts, run):
    first, second = pushed_contacts(contacts, run, 2)
    delete_in_google(integration)
    archive_records(object_type=contacts, record_ids=[first, second], source="user")
    # The user deleted one in Google too, so recently that the sync answer does not show it.
    gone = RecordLink.objects.get(record_id=first).remote_id
    google.ok("DELETE", f"contacts/{gone.split('/')[-1]}")

    cycle = run_cycle_now(integration)  # "Sync now": Google's sync answer lags the delete

    assert cycle.status == "success", cycle.message
    stage = stage_of(cycle, "push_deletes")
    assert (stage.deleted, stage.failed) == (2, 0)
    # The batch Google refused whole (404: one name unknown) was read and sent again.
    assert cycle.connector.calls_by_method["people.people.batchDeleteContacts"] == 2
    assert live_names(google) == set()
    assert not SyncError.objects.filter(integration=integration).exists()
    assert not RecordLink.objects.exclude(pending_op="").exists()


def test_a_restore_in_concord_recreates_the_google_contact_once(integration, google, run, contacts):
    (record_id,) = pushed_contacts(contacts, run, 1)
    delete_in_google(integration)
    old_name = RecordLink.objects.get(record_id=record_id).remote_id
    archive_records(object_type=contacts, record_ids=[record_id], source="user")
    run()
    assert live_names(google) == set()

    restore_records(object_type=contacts, record_ids=[record_id], source="user")
    cycle = run()

    assert stage_of(cycle, "push_restores").new == 1
    assert stage_of(cycle, "push_new").new == 1
    link = RecordLink.objects.get(record_id=record_id)
    assert link.remote_id != old_name and link.remote_deleted_at is None
    assert live_names(google) == {link.remote_id}
    again = run()
    assert stage_of(again, "pull_updates").new == 0
    assert live_names(google) == {link.remote_id}
    assert Record.objects.filter(object_type=contacts).count() == 1
