import datetime as dt

import pytest
from django.utils import timezone

from crm import hooks, sources
from crm.errors import BatchValidationError, CrmError, RecordValidationError
from crm.models import AuditEvent, Record
from crm.services.records import (
    RecordInput,
    archive_records,
    create_record,
    purge_expired_records,
    restore_records,
    update_record,
    write_records,
)


@pytest.fixture
def captured_changes():
    events = []
    listener = hooks.on_records_changed(events.append)
    yield events
    hooks.unsubscribe(listener)


def test_create_coerces_values_stamps_changes_and_audits(contacts, user, captured_changes):
    record = create_record(
        object_type=contacts,
        actor=user,
        source=sources.API,
        properties={"email": "Ada@Example.com", "firstname": "Ada", "lifecyclestage": "lead"},
    )

    assert record.properties == {
        "email": "ada@example.com",
        "firstname": "Ada",
        "lifecyclestage": "lead",
    }
    assert record.property_changes["email"]["source"] == "api"
    event = AuditEvent.objects.get(target_id=record.pk)
    assert (event.verb, event.actor, event.source) == ("create", user, "api")
    assert [(e.kind, e.record_ids, e.changed_properties) for e in captured_changes] == [
        ("created", (record.pk,), frozenset({"email", "firstname", "lifecyclestage"}))
    ]


def test_bad_values_name_each_property_and_write_nothing(contacts):
    with pytest.raises(RecordValidationError) as excinfo:
        create_record(
            object_type=contacts,
            source=sources.API,
            properties={
                "email": "nope",
                "lifecyclestage": "king",
                "shoe_size": 44,
                "firstname": "Ok",
            },
        )

    assert excinfo.value.errors == {
        "email": ["'nope' is not a valid email address"],
        "lifecyclestage": [excinfo.value.errors["lifecyclestage"][0]],
        "shoe_size": ["unknown property of contacts"],
    }
    assert "'king' is not an option" in excinfo.value.errors["lifecyclestage"][0]
    assert Record.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_update_records_only_what_changed(contacts, captured_changes):
    record = create_record(
        object_type=contacts,
        source=sources.API,
        properties={"email": "a@example.com", "firstname": "Ada"},
    )
    first_stamp = record.property_changes["email"]

    update_record(
        record=record,
        source="integration:7",
        properties={"email": "a@example.com", "firstname": "Augusta", "phone": None},
    )

    record.refresh_from_db()
    assert record.properties == {"email": "a@example.com", "firstname": "Augusta"}
    assert record.property_changes["email"] == first_stamp
    assert record.property_changes["firstname"]["source"] == "integration:7"
    update = AuditEvent.objects.get(verb="update")
    assert update.detail == {"changes": {"firstname": ["Ada", "Augusta"]}}
    assert captured_changes[-1].changed_properties == frozenset({"firstname"})
    assert captured_changes[-1].source == "integration:7"


def test_empty_value_clears_a_property(contacts):
    record = create_record(
        object_type=contacts,
        source=sources.API,
        properties={"email": "a@example.com", "phone": "+1 555 0100"},
    )
    update_record(record=record, source=sources.API, properties={"phone": ""})
    record.refresh_from_db()
    assert "phone" not in record.properties


def test_unique_property_cannot_be_shared(contacts):
    create_record(object_type=contacts, source=sources.API, properties={"email": "a@example.com"})
    with pytest.raises(RecordValidationError, match="already used by record"):
        create_record(
            object_type=contacts, source=sources.API, properties={"email": "A@example.com"}
        )
    assert Record.objects.count() == 1


def test_read_only_property_refuses_users_but_not_concord(contacts):
    prop = contacts.property_definitions.get(name="company")
    prop.read_only = True
    prop.save()
    with pytest.raises(RecordValidationError, match="company: is read-only"):
        create_record(object_type=contacts, source=sources.API, properties={"company": "Acme"})
    record = create_record(
        object_type=contacts, source="sync_property:1", properties={"company": "Acme"}
    )
    assert record.properties["company"] == "Acme"


def test_restricted_property_is_editable_only_by_chosen_users(contacts, user, staff_user):
    from tests.factories import UserFactory

    prop = contacts.property_definitions.get(name="jobtitle")
    prop.restricted = True
    prop.save()
    allowed = UserFactory()
    prop.restricted_users.add(allowed)

    with pytest.raises(RecordValidationError, match="permission"):
        create_record(
            object_type=contacts, actor=user, source=sources.API, properties={"jobtitle": "CEO"}
        )
    assert create_record(
        object_type=contacts, actor=allowed, source=sources.API, properties={"jobtitle": "CEO"}
    ).properties == {"jobtitle": "CEO"}


def test_bulk_upsert_by_email_creates_updates_and_skips(contacts, captured_changes):
    existing = create_record(
        object_type=contacts,
        source=sources.API,
        properties={"email": "a@example.com", "firstname": "Ada"},
    )
    same = create_record(
        object_type=contacts,
        source=sources.API,
        properties={"email": "b@example.com", "firstname": "Bob"},
    )
    captured_changes.clear()

    result = write_records(
        object_type=contacts,
        mode="upsert",
        id_property="email",
        source=sources.IMPORT,
        inputs=[
            RecordInput({"email": "A@example.com", "firstname": "Augusta"}),
            RecordInput({"email": "b@example.com", "firstname": "Bob"}),
            RecordInput({"email": "c@example.com", "firstname": "Cy"}),
        ],
    )

    assert [i.action for i in result.items] == ["updated", "unchanged", "created"]
    assert result.items[0].id == existing.pk and result.items[1].id == same.pk
    assert Record.objects.get(pk=existing.pk).properties["firstname"] == "Augusta"
    assert {e.kind for e in captured_changes} == {"created", "updated"}


def test_batch_is_all_or_none_by_default(contacts):
    with pytest.raises(BatchValidationError) as excinfo:
        write_records(
            object_type=contacts,
            mode="create",
            source=sources.API,
            inputs=[
                RecordInput({"email": "ok@example.com"}),
                RecordInput({"email": "bad"}),
                RecordInput({"email": "ok@example.com"}),
            ],
        )
    assert set(excinfo.value.errors) == {1, 2}
    assert "appears twice in this batch" in excinfo.value.errors[2]["email"][0]
    assert Record.objects.count() == 0


def test_batch_can_write_the_valid_inputs(contacts):
    result = write_records(
        object_type=contacts,
        mode="create",
        source=sources.API,
        all_or_none=False,
        inputs=[RecordInput({"email": "ok@example.com"}), RecordInput({"email": "bad"})],
    )
    assert [i.action for i in result.items] == ["created", None]
    assert result.items[1].errors == {"email": ["'bad' is not a valid email address"]}
    assert Record.objects.count() == 1


def test_upsert_needs_a_unique_id_property(contacts):
    with pytest.raises(CrmError, match="'firstname' is not a unique property"):
        write_records(
            object_type=contacts,
            mode="upsert",
            id_property="firstname",
            source=sources.API,
            inputs=[RecordInput({"firstname": "Ada"})],
        )


def test_update_of_a_missing_record_is_refused(contacts):
    with pytest.raises(BatchValidationError) as excinfo:
        write_records(
            object_type=contacts,
            mode="update",
            source=sources.API,
            inputs=[RecordInput({"firstname": "Ada"}, id=999_999)],
        )
    assert excinfo.value.errors[0] == {"id": ["no active Contact with this id"]}


def test_archive_and_restore_round_trip(contacts, captured_changes):
    record = create_record(
        object_type=contacts, source=sources.API, properties={"email": "a@example.com"}
    )
    assert archive_records(object_type=contacts, record_ids=[record.pk], source=sources.API) == 1
    record.refresh_from_db()
    assert record.archived_at is not None

    # An archived record's email is free again until it is restored.
    taker = create_record(
        object_type=contacts, source=sources.API, properties={"email": "a@example.com"}
    )
    with pytest.raises(CrmError, match=f"record {taker.pk} already has email"):
        restore_records(object_type=contacts, record_ids=[record.pk], source=sources.API)

    archive_records(object_type=contacts, record_ids=[taker.pk], source=sources.API)
    assert restore_records(object_type=contacts, record_ids=[record.pk], source=sources.API) == 1
    record.refresh_from_db()
    assert record.archived_at is None
    assert [e.kind for e in captured_changes][1:] == ["archived", "created", "archived", "restored"]


def test_restore_after_retention_is_refused_and_purge_deletes(contacts):
    record = create_record(
        object_type=contacts, source=sources.API, properties={"email": "old@example.com"}
    )
    Record.objects.filter(pk=record.pk).update(archived_at=timezone.now() - dt.timedelta(days=91))
    with pytest.raises(CrmError, match="more than 90 days ago"):
        restore_records(object_type=contacts, record_ids=[record.pk], source=sources.API)

    assert purge_expired_records() == 1
    assert purge_expired_records() == 0  # a second run has nothing left to do
    assert not Record.objects.filter(pk=record.pk).exists()
    assert AuditEvent.objects.filter(verb="purge", target_id=record.pk).exists()


def test_unknown_source_is_refused(contacts):
    with pytest.raises(ValueError, match="unknown change source"):
        create_record(object_type=contacts, source="somewhere", properties={})


def test_set_property_values_updates_clears_and_reports(contacts, user, captured_changes):
    from crm.services.property_values import set_property_values

    ada, bob, gone = (
        create_record(object_type=contacts, source=sources.API, properties=p)
        for p in (
            {"email": "ada@example.com", "firstname": "Ada", "jobtitle": "Analyst"},
            {"email": "bob@example.com", "jobtitle": "Builder"},
            {"email": "gone@example.com"},
        )
    )
    archive_records(object_type=contacts, record_ids=[gone.pk], source=sources.API)
    captured_changes.clear()

    result = set_property_values(
        object_type=contacts,
        name="jobtitle",
        values={ada.pk: "Countess", bob.pk: "Builder", gone.pk: "Ghost", 999_999: "Nobody"},
        actor=user,
        source="sync_property:5",
    )

    assert [(i.id, i.action) for i in result.items] == [
        (ada.pk, "updated"),
        (bob.pk, "unchanged"),
        (gone.pk, None),
        (999_999, None),
    ]
    assert result.items[2].errors == {"id": ["no active Contact with this id"]}
    ada.refresh_from_db()
    assert ada.properties["jobtitle"] == "Countess"
    assert ada.property_changes["jobtitle"]["source"] == "sync_property:5"
    event = AuditEvent.objects.get(verb="update", target_id=ada.pk)
    assert event.detail == {"changes": {"jobtitle": ["Analyst", "Countess"]}}
    assert event.target_repr == "Ada" and event.actor == user
    assert [(e.record_ids, e.changed_properties) for e in captured_changes] == [
        ((ada.pk,), frozenset({"jobtitle"}))
    ]

    set_property_values(
        object_type=contacts, name="jobtitle", values={ada.pk: None}, source=sources.API
    )
    ada.refresh_from_db()
    assert "jobtitle" not in ada.properties


def test_set_property_values_refuses_bad_values_per_item(contacts):
    from crm.services.property_values import set_property_values

    record = create_record(
        object_type=contacts, source=sources.API, properties={"email": "a@example.com"}
    )
    result = set_property_values(
        object_type=contacts, name="lifecyclestage", values={record.pk: "king"}, source=sources.API
    )
    assert "'king' is not an option" in result.items[0].errors["lifecyclestage"][0]
    record.refresh_from_db()
    assert "lifecyclestage" not in record.properties


def test_values_already_coerced_are_written_as_given_and_still_checked(contacts, user):
    # Given a record, and values a caller already coerced against the schema (a restore does)
    taken = create_record(
        object_type=contacts, source=sources.API, properties={"email": "taken@example.com"}
    )
    record = create_record(
        object_type=contacts, source=sources.API, properties={"email": "ada@example.com"}
    )
    other = create_record(object_type=contacts, source=sources.API, properties={})

    # When they are written as coerced
    result = write_records(
        object_type=contacts,
        mode="update",
        source=sources.API,
        actor=user,
        all_or_none=False,
        values_coerced=True,
        inputs=[
            RecordInput(id=record.pk, properties={"firstname": "Ada", "lastname": None}),
            RecordInput(id=record.pk + 1000, properties={"firstname": "Nobody"}),
            RecordInput(id=taken.pk, properties={"shoe_size": 44}),
            RecordInput(id=other.pk, properties={"email": "taken@example.com"}),
        ],
    )

    # Then the valid input is written, and the others refused as any write refuses them:
    # an unknown record, an unknown property and a value another record holds
    assert [item.action for item in result.items] == ["updated", None, None, None]
    assert [list(item.errors) for item in result.items[1:]] == [["id"], ["shoe_size"], ["email"]]
    record.refresh_from_db()
    assert record.properties == {"email": "ada@example.com", "firstname": "Ada"}
