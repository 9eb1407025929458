"""Owners: the services, the owner value check on every write path, and /api/v1/owners/."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm import sources
from crm.errors import BatchValidationError, OwnerError, RecordValidationError, ValueCode
from crm.models import AuditEvent, Owner, Property, Record
from crm.services import owners as owner_services
from crm.services.property_values import set_property_values
from crm.services.records import RecordInput, create_record, update_record, write_records
from tests.factories import OwnerFactory, UserFactory

RECORDS = "/api/v1/objects/contacts/records/"
OWNERS = "/api/v1/owners/"


_emails = itertools.count()


def contact(contacts, **properties) -> Record:
    # A counter, not id(): a freed dict's address comes back, and with it the same email.
    return create_record(
        object_type=contacts,
        properties={"email": f"contact-{next(_emails)}@example.com", **properties},
        source=sources.API,
    )


# Services


def test_create_owner_normalises_the_email_and_audits(db):
    owner = owner_services.create_owner(
        name="  Ada   Lovelace ", email=" Ada@Example.COM ", source=sources.API
    )

    assert (owner.name, owner.email, owner.is_active) == ("Ada Lovelace", "ada@example.com", True)
    event = AuditEvent.objects.get(verb="create_owner")
    assert event.target_id == owner.pk and event.detail["email"] == "ada@example.com"


@pytest.mark.parametrize(
    ("name", "email", "field"),
    [("", "a@example.com", "name"), ("Ada", "not an email", "email"), ("Ada", "", "email")],
)
def test_create_owner_refuses_bad_input_and_writes_nothing(db, name, email, field):
    with pytest.raises(OwnerError) as refused:
        owner_services.create_owner(name=name, email=email, source=sources.API)

    assert refused.value.field == field
    assert not Owner.objects.exists() and not AuditEvent.objects.exists()


def test_an_email_differing_only_in_case_is_taken(db):
    OwnerFactory(email="ada@example.com")

    with pytest.raises(OwnerError, match=r"Another owner has the email ada@example\.com"):
        owner_services.create_owner(name="Ada", email="ADA@example.com", source=sources.API)


def test_a_login_is_the_owner_of_one_owner_only(db):
    user = UserFactory()
    OwnerFactory(user=user)

    with pytest.raises(OwnerError) as refused:
        owner_services.create_owner(name="B", email="b@example.com", user=user, source=sources.API)
    assert refused.value.field == "user"


def test_update_and_deactivate_owner_audit_old_and_new(db):
    owner = OwnerFactory(name="Ada", email="ada@example.com")

    owner_services.update_owner(
        owner=owner, changes={"email": "ADA@new.example"}, source=sources.USER
    )
    owner_services.deactivate_owner(owner=owner, source=sources.USER)

    owner.refresh_from_db()
    assert owner.email == "ada@new.example" and owner.is_active is False
    changes = [
        e.detail["changes"] for e in AuditEvent.objects.filter(verb="update_owner").order_by("pk")
    ]
    assert changes == [
        {"email": ["ada@example.com", "ada@new.example"]},
        {"is_active": [True, False]},
    ]


# The owner value on every write path


def test_a_record_takes_an_active_owner_and_can_be_cleared(contacts):
    owner = OwnerFactory()

    record = contact(contacts, owner=str(owner.pk))
    assert record.properties["owner"] == owner.pk  # stored as the integer id

    update_record(record=record, properties={"owner": None}, source=sources.API)
    record.refresh_from_db()
    assert "owner" not in record.properties


@pytest.mark.parametrize("state", ["unknown", "inactive"])
def test_an_unknown_or_inactive_owner_is_refused_naming_the_property(contacts, state):
    owner = OwnerFactory(is_active=state != "inactive")
    owner_id = owner.pk if state == "inactive" else owner.pk + 1000

    with pytest.raises(RecordValidationError) as refused:
        create_record(
            object_type=contacts,
            properties={"email": "a@example.com", "owner": owner_id},
            source=sources.API,
        )

    assert refused.value.errors == {"owner": [f"no active owner with id {owner_id}"]}
    assert refused.value.codes == {"owner": ValueCode.NO_OWNER}
    assert not Record.objects.exists()


def test_a_record_keeps_an_owner_who_left_when_other_values_change(contacts):
    owner = OwnerFactory()
    record = contact(contacts, owner=owner.pk, firstname="Ada")
    owner_services.deactivate_owner(owner=owner, source=sources.USER)

    # The API sends the whole record back, the owner unchanged: that is not a reassignment.
    update_record(
        record=record, properties={"owner": owner.pk, "firstname": "Augusta"}, source=sources.API
    )

    record.refresh_from_db()
    assert record.properties["owner"] == owner.pk
    assert record.properties["firstname"] == "Augusta"


def test_a_bulk_write_checks_owners_in_one_query(contacts):
    owners = OwnerFactory.create_batch(3)
    inputs = [
        RecordInput({"email": f"c{i}@example.com", "owner": owners[i % 3].pk}) for i in range(30)
    ]

    with CaptureQueriesContext(connection) as queries:
        write_records(object_type=contacts, inputs=inputs, mode="create", source=sources.API)

    owner_queries = [q for q in queries.captured_queries if '"crm_owner"' in q["sql"]]
    assert len(owner_queries) == 1
    assert Record.objects.filter(properties__owner=owners[0].pk).count() == 10


def test_a_bulk_write_with_one_gone_owner_writes_nothing(contacts):
    good, gone = OwnerFactory(), OwnerFactory(is_active=False)
    inputs = [
        RecordInput({"email": "a@example.com", "owner": good.pk}),
        RecordInput({"email": "b@example.com", "owner": gone.pk}),
    ]

    with pytest.raises(BatchValidationError) as refused:
        write_records(object_type=contacts, inputs=inputs, mode="create", source=sources.API)

    assert refused.value.errors == {1: {"owner": [f"no active owner with id {gone.pk}"]}}
    assert not Record.objects.exists()


def test_setting_owners_set_wise_refuses_gone_owners_per_record(contacts):
    good, gone = OwnerFactory(), OwnerFactory(is_active=False)
    first, second = contact(contacts), contact(contacts)

    result = set_property_values(
        object_type=contacts,
        name="owner",
        values={first.pk: good.pk, second.pk: gone.pk},
        source=sources.USER,
    )

    assert [item.errors for item in result.items] == [
        {},
        {"owner": [f"no active owner with id {gone.pk}"]},
    ]
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.properties["owner"] == good.pk and "owner" not in second.properties


@pytest.mark.parametrize("value", [True, "abc", "0", 0, -3, 1.5, [1], "9" * 40])
def test_an_owner_value_that_is_no_id_is_refused(contacts, value):
    with pytest.raises(RecordValidationError) as refused:
        contact(contacts, owner=value)

    assert "expected an owner id" in refused.value.errors["owner"][0]


# The records API


def test_api_create_with_a_gone_owner_is_a_400_naming_the_property(api_client, contacts):
    gone = OwnerFactory(is_active=False)

    response = api_client.post(
        RECORDS, {"properties": {"email": "a@example.com", "owner": gone.pk}}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"]["properties"] == {
        "owner": [f"no active owner with id {gone.pk}"]
    }
    assert not Record.objects.exists()


def test_api_patch_and_batch_refuse_unknown_owners(api_client, contacts):
    owner = OwnerFactory()
    record = contact(contacts, owner=owner.pk)

    patched = api_client.patch(
        f"{RECORDS}{record.pk}/", {"properties": {"owner": 999999}}, format="json"
    )
    batch = api_client.post(
        f"{RECORDS}batch/",
        {"action": "update", "inputs": [{"id": record.pk, "properties": {"owner": 999999}}]},
        format="json",
    )

    assert patched.status_code == 400 and batch.status_code == 400
    assert batch.json()["errors"] == [
        {"index": 0, "errors": {"owner": ["no active owner with id 999999"]}}
    ]
    record.refresh_from_db()
    assert record.properties["owner"] == owner.pk


def test_api_bulk_reassignment_is_audited_and_marks_records_changed(api_client, contacts):
    old, new = OwnerFactory(), OwnerFactory()
    ids = [contact(contacts, owner=old.pk).pk for _ in range(3)]

    response = api_client.post(
        f"{RECORDS}batch/",
        {"action": "update", "inputs": [{"id": i, "properties": {"owner": new.pk}} for i in ids]},
        format="json",
    )

    assert response.status_code == 200 and response.json()["updated"] == 3
    for record in Record.objects.filter(pk__in=ids):
        assert record.properties["owner"] == new.pk
        assert record.property_changes["owner"]["source"] == "api"
    events = AuditEvent.objects.filter(verb="update", target_id__in=ids, source="api")
    assert {tuple(e.detail["changes"]["owner"]) for e in events} == {(old.pk, new.pk)}


# /api/v1/owners/


def test_owners_api_lists_filters_and_counts_records(api_client, contacts):
    ada = OwnerFactory(name="Ada", email="ada@example.com")
    OwnerFactory(name="Bob", email="bob@example.com", is_active=False)
    contact(contacts, owner=ada.pk)
    contact(contacts, owner=ada.pk)

    listed = api_client.get(OWNERS).json()["results"]
    active = api_client.get(OWNERS, {"active": "true"}).json()["results"]
    by_email = api_client.get(OWNERS, {"email": "ADA@example.com"}).json()["results"]

    assert {o["name"] for o in listed} == {"Ada", "Bob"}
    assert [o["name"] for o in active] == ["Ada"]
    assert [(o["id"], o["records_owned"]) for o in by_email] == [(ada.pk, 2)]


def test_owners_api_create_update_need_permission(api_client, staff_api_client, db):
    refused = api_client.post(OWNERS, {"name": "Ada", "email": "a@example.com"}, format="json")
    created = staff_api_client.post(
        OWNERS, {"name": "Ada", "email": "Ada@Example.com"}, format="json"
    )
    duplicate = staff_api_client.post(
        OWNERS, {"name": "Ada 2", "email": "ada@example.com"}, format="json"
    )
    patched = staff_api_client.patch(
        f"{OWNERS}{created.json()['id']}/", {"is_active": False}, format="json"
    )

    assert refused.status_code == 403
    assert created.status_code == 201 and created.json()["email"] == "ada@example.com"
    assert duplicate.status_code == 400 and "email" in duplicate.json()["errors"]
    assert patched.status_code == 200 and patched.json()["is_active"] is False
    assert Owner.objects.get().is_active is False
    assert AuditEvent.objects.filter(verb__in=["create_owner", "update_owner"]).count() == 2


def test_owners_api_counts_only_records_whose_owner_the_user_may_see(
    api_client, contacts, companies
):
    ada = OwnerFactory(name="Ada", email="ada@example.com")
    contact(contacts, owner=ada.pk)
    create_record(
        object_type=companies, properties={"name": "Acme", "owner": ada.pk}, source=sources.API
    )
    # Companies' owner is restricted to people the user is not among
    Property.objects.filter(object_type=companies, name="owner").update(restricted=True)

    (listed,) = api_client.get(OWNERS).json()["results"]

    assert listed["records_owned"] == 1  # the contact: the company's owner is not theirs to see
