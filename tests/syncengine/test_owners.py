"""Owners synced with Salesforce users (issue 19): the Users stage matches users to owners by
email, OwnerId is pulled and pushed through those links, and owners Salesforce cannot take
become sync errors with their resolution steps. Against the sandbox over HTTPS."""

from __future__ import annotations

import math
import uuid

import pytest
from django.urls import reverse

from crm.models import Owner, Record
from crm.services.records import RecordInput, create_record, update_record, write_records
from syncengine.health.info import info_for
from syncengine.models import FieldMapping, RecordLink, RemoteOwner, SyncError
from tests.support.sync import stage_of

pytestmark = pytest.mark.django_db

INTEGRATION_USER = "005RS000000001AYAQ"
SALES_USER = "005RS000000002AYAQ"
INACTIVE_USER = "005RS000000003AYAQ"  # the default org's deactivated user (Fran Former)
GHOST_USER = "005RS00000000ZZYAY"  # a well-formed user id no user of the org has


def users_stage(cycle):
    return stage_of(cycle, "pull_users", "User")


def new_user(sandbox, *, email: str | None = None, name: str = "Una Newhire", active=True) -> str:
    """A user added in Salesforce's Setup (the sandbox's control API); returns its id."""
    tag = uuid.uuid4().hex[:8]
    first, last = name.split(" ", 1)
    return sandbox.create(
        "User",
        Username=f"{tag}@users.example.com",
        FirstName=first,
        LastName=last,
        Email=email or f"{tag}@users.example.com",
        IsActive=active,
    )


def link_of(record) -> RecordLink:
    return RecordLink.objects.get(record=record)


def owner_of(integration, remote_id: str) -> Owner:
    return RemoteOwner.objects.get(integration=integration, remote_id=remote_id).owner


# --- users → owners -------------------------------------------------------------------------


def test_users_are_matched_to_owners_by_email_and_missing_ones_created(integration, sandbox, run):
    # Given an owner whose email is Sam's in another case, with an outdated name
    sam = Owner.objects.create(name="Samuel S.", email="sam.sales@example.com")
    # When a cycle runs
    cycle = run()
    # Then Sam's user is linked to that owner, whose name follows Salesforce's
    assert cycle.status == "success", cycle.message
    sam.refresh_from_db()
    assert owner_of(integration, SALES_USER) == sam and sam.name == "Sam Sales"
    # And the users without an owner got one, with their active flag
    integration_owner = owner_of(integration, INTEGRATION_USER)
    assert (integration_owner.email, integration_owner.is_active) == (
        "integration@example.com",
        True,
    )
    former = owner_of(integration, INACTIVE_USER)
    assert (former.name, former.email, former.is_active) == (
        "Fran Former",
        "fran.former@example.com",
        False,
    )
    assert not RemoteOwner.objects.get(remote_id=INACTIVE_USER).is_active
    stage = users_stage(cycle)
    assert (stage.status, stage.new, stage.updated, stage.skipped) == ("success", 3, 0, 0)
    assert stage.api_calls == 1
    assert stage.message == "3 users linked to owners (2 owners created), 0 owners updated, " \
        "0 unchanged."  # fmt: skip
    # And the next cycle reads only the users changed since (none but the overlap's)
    again = users_stage(run())
    assert (again.new, again.updated) == (0, 0) and again.api_calls == 1


def test_email_matching_ignores_case(integration, sandbox, run):
    # Given a Salesforce user whose email has capitals, and the owner with it in lower case
    owner = Owner.objects.create(name="Dee Mixed", email="dee.mixed@example.com")
    user_id = new_user(sandbox, email="Dee.Mixed@Example.com", name="Dee Mixed")
    # When a cycle runs, they are matched: no second owner
    run()
    assert owner_of(integration, user_id) == owner
    assert Owner.objects.filter(email__iexact="dee.mixed@example.com").count() == 1


def test_a_new_user_and_a_deactivation_arrive_on_a_later_cycle(integration, sandbox, run):
    run()
    # Given a user hired in Salesforce, and Sam deactivated and renamed, after the first cycle
    user_id = new_user(sandbox, name="Nia Newhire")
    sandbox.update("User", SALES_USER, IsActive=False, LastName="Sales-Left")
    # When the next cycle runs
    cycle = run()
    # Then the new user has an owner, and Sam's owner is inactive with the new name
    newcomer = owner_of(integration, user_id)
    assert (newcomer.name, newcomer.is_active) == ("Nia Newhire", True)
    sam = owner_of(integration, SALES_USER)
    assert (sam.name, sam.is_active) == ("Sam Sales-Left", False)
    stage = users_stage(cycle)
    assert (stage.new, stage.updated) == (1, 1)


# --- OwnerId on records ---------------------------------------------------------------------


def test_owner_id_is_pulled_onto_records(integration, sandbox, run, contacts, companies):
    # Given Salesforce records owned by Sam (a contact, an account)
    contact_id = sandbox.create("Contact", LastName="Pulled", OwnerId=SALES_USER)
    account_id = sandbox.create("Account", Name="Pulled Inc", OwnerId=SALES_USER)
    # When a cycle runs
    cycle = run()
    # Then their Concord records are owned by Sam's owner
    sam = owner_of(integration, SALES_USER)
    contact = RecordLink.objects.get(remote_id=contact_id).record
    account = RecordLink.objects.get(remote_id=account_id).record
    assert contact.properties["owner"] == sam.pk and account.properties["owner"] == sam.pk
    assert cycle.status == "success"
    # And a reassignment in Salesforce follows on the next cycle
    sandbox.update("Contact", contact_id, OwnerId=INTEGRATION_USER)
    run()
    contact.refresh_from_db()
    assert contact.properties["owner"] == owner_of(integration, INTEGRATION_USER).pk


def test_owner_is_pushed_as_owner_id(integration, sandbox, run, contacts):
    # Given the users are linked, and Concord contacts owned by Sam's owner (new, then reassigned)
    run()
    sam = owner_of(integration, SALES_USER)
    contact = create_record(
        object_type=contacts,
        properties={"lastname": "Owned", "email": "owned@x.com", "owner": sam.pk},
        source="user",
    )
    # When a cycle runs, Salesforce's contact is Sam's
    run()
    assert sandbox.get("Contact", link_of(contact).remote_id)["OwnerId"] == SALES_USER
    # And a reassignment in Concord is pushed
    me = owner_of(integration, INTEGRATION_USER)
    update_record(record=contact, properties={"owner": me.pk}, source="user")
    run()
    assert sandbox.get("Contact", link_of(contact).remote_id)["OwnerId"] == INTEGRATION_USER
    assert not link_of(contact).dirty


def test_an_owner_without_an_active_user_is_an_error_and_the_rest_is_pushed(
    integration, sandbox, run, contacts, admin_client
):
    # Given a synced contact owned by Sam, then reassigned in Concord to Dana with a new title,
    # Dana's Salesforce user deactivated meanwhile; and another to an owner Salesforce has no
    # user for
    dana_user = new_user(sandbox, email="dana.departing@example.com", name="Dana Departing")
    run()
    sam, dana = owner_of(integration, SALES_USER), owner_of(integration, dana_user)
    stranger = Owner.objects.create(name="Stan Stranger", email="stan@elsewhere.example.com")
    contact = create_record(
        object_type=contacts,
        properties={"lastname": "Kept", "email": "kept@x.com", "owner": sam.pk},
        source="user",
    )
    run()
    update_record(record=contact, properties={"owner": dana.pk, "jobtitle": "CFO"}, source="user")
    sandbox.update("User", dana_user, IsActive=False)
    other = create_record(
        object_type=contacts,
        properties={"lastname": "Strange", "email": "strange@x.com", "owner": stranger.pk},
        source="user",
    )
    # When a cycle runs
    cycle = run()
    # Then the title is pushed and Salesforce keeps Sam as the owner: no wrong owner
    remote = sandbox.get("Contact", link_of(contact).remote_id)
    assert (remote["Title"], remote["OwnerId"]) == ("CFO", SALES_USER)
    # And the new contact is created (owned by the integration user, Salesforce's default)
    assert sandbox.get("Contact", link_of(other).remote_id)["OwnerId"] == INTEGRATION_USER
    # And each owner is a Permissions error of the record, with its resolution steps
    errors = {
        e.record_id: e
        for e in SyncError.objects.filter(code="OWNER_HAS_NO_ACTIVE_USER", status="open")
    }
    assert set(errors) == {contact.pk, other.pk}
    assert {e.category for e in errors.values()} == {"permissions"}
    assert errors[contact.pk].message.startswith(
        "Dana Departing <dana.departing@example.com> is inactive in Salesforce"
    )
    assert errors[other.pk].message.startswith(
        "Stan Stranger <stan@elsewhere.example.com> is not a user in Salesforce"
    )
    assert errors[contact.pk].remote_field == "OwnerId"
    steps = info_for("permissions", "OWNER_HAS_NO_ACTIVE_USER")["steps"]
    assert any("activate the owner's user" in step for step in steps)
    assert cycle.status == "success"
    assert stage_of(cycle, "push_updates", "Contact").updated == 1
    # And the health page's Permissions card counts them and says what to do about owners
    health = admin_client.get(
        reverse("admin:syncengine_integration_health", args=[integration.pk])
    ).content.decode()
    card = health[health.index("Permissions") :]
    assert "For an owner error: activate the owner&#x27;s Salesforce user" in card
    # And once the owner is reassigned to an owner with an active user, it is sent and resolves
    me = owner_of(integration, INTEGRATION_USER)
    update_record(record=contact, properties={"owner": me.pk}, source="user")
    run()
    assert sandbox.get("Contact", link_of(contact).remote_id)["OwnerId"] == INTEGRATION_USER
    errors[contact.pk].refresh_from_db()
    assert errors[contact.pk].status == "resolved"


def test_salesforce_refusing_an_inactive_owner_is_an_error_with_steps(
    integration, sandbox, run, contacts
):
    # Given a user Concord saw active, deactivated in Salesforce in a way the Users stage has
    # not read yet (stamped before its window: as if between its read and the push)
    user_id = new_user(sandbox, name="Lee Leaving")
    run()
    leaving = owner_of(integration, user_id)
    contact = create_record(
        object_type=contacts,
        properties={"lastname": "Refused", "email": "refused@x.com", "owner": leaving.pk},
        source="user",
    )
    sandbox.control("POST", "clock", json={"held_at": "2020-01-01T00:00:00Z"})
    sandbox.update("User", user_id, IsActive=False)
    sandbox.control("DELETE", "clock")
    # When a cycle runs
    cycle = run()
    # Then Salesforce's refusal is a Permissions error on OwnerId, with its own steps
    error = SyncError.objects.get(record_id=contact.pk, status="open")
    assert (error.code, error.category, error.remote_field, error.property_name) == (
        "INACTIVE_OWNER_OR_USER",
        "permissions",
        "OwnerId",
        "owner",
    )
    assert error.message == "operation performed with inactive user"
    assert stage_of(cycle, "push_new", "Contact").failed == 1
    steps = info_for(error.category, error.code)["steps"]
    assert any("reactivate" in step for step in steps)
    assert link_of(contact).remote_id is None  # nothing of the record was written


def test_reassigning_owners_in_bulk_pushes_collections_of_200(integration, sandbox, run, contacts):
    # Given 450 synced contacts owned by the integration user
    run()
    me, sam = owner_of(integration, INTEGRATION_USER), owner_of(integration, SALES_USER)
    ids = write_records(
        object_type=contacts,
        inputs=[
            RecordInput(properties={"lastname": f"R{i}", "email": f"r{i}@x.com", "owner": me.pk})
            for i in range(450)
        ],
        mode="create",
        source="api",
    ).ids
    run()
    # When they are all reassigned to Sam in Concord
    write_records(
        object_type=contacts,
        inputs=[RecordInput(id=pk, properties={"owner": sam.pk}) for pk in ids],
        mode="update",
        source="api",
    )
    cycle = run()
    # Then the push sends them in sObject Collections of 200: ceil(450 / 200) = 3 calls
    stage = stage_of(cycle, "push_updates", "Contact")
    assert (stage.updated, stage.failed, stage.api_calls) == (450, 0, math.ceil(450 / 200))
    owners = {
        r["OwnerId"]
        for r in cycle.connector.query("SELECT OwnerId FROM Contact WHERE Concord_Id__c != null")
    }
    assert owners == {SALES_USER}
    assert not Record.objects.filter(pk__in=ids, properties__owner=me.pk).exists()


def test_the_dashboard_shows_the_users_stage(integration, sandbox, run, admin_client):
    # Given a cycle that read the org's users
    cycle = run()
    stage = users_stage(cycle)
    # When the sync status dashboard is opened
    html = admin_client.get("/admin/syncengine/syncstage/").content.decode()
    # Then the Users stage has its row in the cycle, with its counts and notes
    row = html[html.index(f'data-stage="{stage.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "Owners (User)" in row and "Pull users" in row
    assert '<td class="num">3</td>' in row  # new
    assert "3 users linked to owners" in row
    # And it ran first, before the pulls (after the schema check)
    operations = list(cycle.stages.order_by("started_at", "pk").values_list("operation", flat=True))
    assert operations[:3] == ["sync_schema", "pull_users", "pull_updates"]


def test_a_user_no_owner_can_take_is_an_error_and_the_record_keeps_its_owner(
    integration, sandbox, run, contacts
):
    # Given a second Salesforce user with Sam's email (Salesforce allows it): Sam's owner stays
    # linked to Sam, so this user has no owner
    run()
    twin = new_user(sandbox, email="sam.sales@example.com", name="Sam Twin")
    cycle = run()
    assert users_stage(cycle).skipped >= 1
    assert not RemoteOwner.objects.filter(remote_id=twin).exists()
    # When a contact owned by that user is pulled
    contact_id = sandbox.create("Contact", LastName="Twinned", OwnerId=twin)
    run()
    # Then the contact arrives without an owner, and the owner is a Permissions error
    record = RecordLink.objects.get(remote_id=contact_id).record
    assert "owner" not in record.properties
    error = SyncError.objects.get(code="OWNER_USER_UNKNOWN", status="open")
    assert (error.category, error.direction, error.remote_id) == ("permissions", "pull", contact_id)
    assert twin in error.message
    assert info_for(error.category, error.code)["steps"]


def test_any_refusal_of_the_owner_field_lands_on_the_permissions_card(
    integration, sandbox, run, contacts
):
    # Given an owner linked to a user id the org does not know (say, a refreshed sandbox org)
    run()
    ghost = Owner.objects.create(name="Gus Ghost", email="gus@example.com")
    RemoteOwner.objects.create(integration=integration, owner=ghost, remote_id=GHOST_USER)
    contact = create_record(
        object_type=contacts,
        properties={"lastname": "Haunted", "email": "haunted@x.com", "owner": ghost.pk},
        source="user",
    )
    # When the contact is pushed, Salesforce refuses the OwnerId as an invalid reference
    run()
    error = SyncError.objects.get(record_id=contact.pk, status="open")
    # Then it is an owner problem, on the Permissions card (not Associations)
    assert (error.code, error.remote_field, error.category) == (
        "INVALID_CROSS_REFERENCE_KEY",
        "OwnerId",
        "permissions",
    )


def test_no_users_are_read_when_no_mapping_syncs_an_owner(integration, sandbox, run):
    # Given staff removed every OwnerId mapping
    FieldMapping.objects.filter(
        object_mapping__integration=integration, remote_field="OwnerId"
    ).delete()
    # When a cycle runs, it spends no call on users and links none
    cycle = run()
    assert cycle.status == "success"
    assert not cycle.stages.filter(operation="pull_users").exists()
    assert not RemoteOwner.objects.exists()


def test_a_record_without_an_owner_takes_salesforces(integration, sandbox, run, contacts):
    # Given a Concord contact without an owner, created in Salesforce by the sync
    contact = create_record(
        object_type=contacts,
        properties={"lastname": "Ownerless", "email": "ownerless@x.com"},
        source="user",
    )
    run()
    remote_id = link_of(contact).remote_id
    # Then Salesforce gave it the connecting user, and Concord agrees on that (nothing to pull)
    assert sandbox.get("Contact", remote_id)["OwnerId"] == INTEGRATION_USER
    assert link_of(contact).agreed["OwnerId"] == INTEGRATION_USER
    # When someone reassigns it in Salesforce, the blank Concord owner does not compete
    sandbox.update("Contact", remote_id, OwnerId=SALES_USER)
    run()
    contact.refresh_from_db()
    assert contact.properties["owner"] == owner_of(integration, SALES_USER).pk
    assert sandbox.get("Contact", remote_id)["OwnerId"] == SALES_USER


def test_a_record_owned_by_someone_who_left_is_pulled_with_that_owner(
    integration, sandbox, run, contacts
):
    # Given a contact Sam owns in Salesforce, and Sam deactivated there afterwards (Salesforce
    # keeps a deactivated user's records theirs)
    remote_id = sandbox.create(
        "Contact", LastName="Legacy", Email="legacy@x.com", OwnerId=SALES_USER
    )
    sandbox.update("User", SALES_USER, IsActive=False)
    # When a cycle runs
    cycle = run()
    # Then the contact arrives owned by Sam, inactive in Concord too: a sync copies the owner
    sam = owner_of(integration, SALES_USER)
    assert not sam.is_active
    record = RecordLink.objects.get(remote_id=remote_id).record
    assert record.properties["owner"] == sam.pk
    assert not SyncError.objects.filter(status="open").exists()
    assert stage_of(cycle, "pull_updates", "Contact").failed == 0


def test_a_person_cannot_give_a_record_to_an_owner_who_left(integration, sandbox, run, contacts):
    run()
    fran = owner_of(integration, INACTIVE_USER)
    assert not fran.is_active
    contact = create_record(
        object_type=contacts, properties={"lastname": "Mine", "email": "mine@x.com"}, source="user"
    )
    with pytest.raises(Exception, match=f"owner: no active owner with id {fran.pk}"):
        update_record(record=contact, properties={"owner": fran.pk}, source="user")
    contact.refresh_from_db()
    assert "owner" not in contact.properties
