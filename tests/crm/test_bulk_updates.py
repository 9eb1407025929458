"""Bulk updates are planned and applied set-based: one statement per set of changed properties
merges just the changed values into the stored documents. What a record ends up with, its change
stamps, the audit and the change hook are the same as a whole-document rewrite gave."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm import hooks, sources
from crm.errors import BatchValidationError, ValueCode
from crm.models import AuditEvent, Record
from crm.services.records import RecordInput, write_records


@pytest.fixture
def captured_changes():
    events = []
    listener = hooks.on_records_changed(events.append)
    yield events
    hooks.unsubscribe(listener)


def create(contacts, *rows):
    result = write_records(
        object_type=contacts,
        mode="create",
        source=sources.API,
        inputs=[RecordInput(properties=row) for row in rows],
    )
    return result.ids


def snapshot(contacts):
    """Every record's stored state, and how many audit events there are."""
    records = {
        r.pk: (r.properties, r.property_changes, r.updated_at)
        for r in Record.objects.filter(object_type=contacts)
    }
    return records, AuditEvent.objects.count()


def test_each_property_set_is_patched_and_other_stamps_are_kept(contacts, captured_changes):
    ada, bob, cy = create(
        contacts,
        {"email": "ada@example.com", "firstname": "Ada", "lastname": "L", "city": "Oslo"},
        {"email": "bob@example.com", "firstname": "Bob", "city": "Lyon"},
        {"email": "cy@example.com", "firstname": "Cy", "lastname": "Old"},
    )
    created_stamps = {r.pk: r.property_changes for r in Record.objects.all()}
    captured_changes.clear()

    result = write_records(
        object_type=contacts,
        mode="update",
        source=sources.IMPORT,
        inputs=[
            RecordInput(id=ada, properties={"firstname": "Ann", "city": None}),
            RecordInput(id=bob, properties={"firstname": "Rob", "city": ""}),
            # firstname is what Cy has already: only lastname changes
            RecordInput(id=cy, properties={"firstname": "Cy", "lastname": "New"}),
        ],
    )

    assert [item.action for item in result.items] == ["updated", "updated", "updated"]
    records = {r.pk: r for r in Record.objects.all()}
    assert records[ada].properties == {
        "email": "ada@example.com",
        "firstname": "Ann",
        "lastname": "L",
    }
    assert records[bob].properties == {"email": "bob@example.com", "firstname": "Rob"}
    assert records[cy].properties == {
        "email": "cy@example.com",
        "firstname": "Cy",
        "lastname": "New",
    }
    # the changed properties are stamped by this write, the others keep their stamps
    for pk, changed in (
        (ada, {"firstname", "city"}),
        (bob, {"firstname", "city"}),
        (cy, {"lastname"}),
    ):
        stamps = records[pk].property_changes
        assert {n for n, s in stamps.items() if s["source"] == "import"} == changed
        assert {n: s for n, s in stamps.items() if n not in changed} == {
            n: s for n, s in created_stamps[pk].items() if n not in changed
        }
    audit = {
        e.target_id: e.detail["changes"]
        for e in AuditEvent.objects.filter(verb="update", source="import")
    }
    assert audit == {
        ada: {"city": ["Oslo", None], "firstname": ["Ada", "Ann"]},
        bob: {"city": ["Lyon", None], "firstname": ["Bob", "Rob"]},
        cy: {"lastname": ["Old", "New"]},
    }
    assert sorted(
        (e.kind, e.record_ids, e.changed_properties, e.source) for e in captured_changes
    ) == [
        ("updated", (ada, bob), frozenset({"firstname", "city"}), "import"),
        ("updated", (cy,), frozenset({"lastname"}), "import"),
    ]


def test_unchanged_values_are_no_ops(contacts, captured_changes):
    create(contacts, {"email": "ada@example.com", "firstname": "Ada"})
    before = snapshot(contacts)
    captured_changes.clear()

    result = write_records(
        object_type=contacts,
        mode="upsert",
        id_property="email",
        source=sources.IMPORT,
        # the same values once coerced: the email's case, an absent property cleared
        inputs=[RecordInput({"email": "ADA@example.com", "firstname": "Ada", "city": None})],
    )

    assert result.items[0].action == "unchanged"
    assert snapshot(contacts) == before
    assert captured_changes == []


def test_a_unique_value_another_record_holds_refuses_the_batch(contacts, captured_changes):
    ada, bob = create(
        contacts,
        {"email": "ada@example.com", "firstname": "Ada"},
        {"email": "bob@example.com", "firstname": "Bob"},
    )
    before = snapshot(contacts)
    captured_changes.clear()

    with pytest.raises(BatchValidationError) as excinfo:
        write_records(
            object_type=contacts,
            mode="update",
            source=sources.API,
            inputs=[
                RecordInput(id=ada, properties={"firstname": "Ann"}),
                RecordInput(id=bob, properties={"email": "Ada@Example.com"}),
            ],
        )

    assert list(excinfo.value.errors) == [1]
    assert excinfo.value.errors[1].codes == {"email": ValueCode.DUPLICATE}
    assert f"already used by record {ada}" in excinfo.value.errors[1]["email"][0]
    assert snapshot(contacts) == before
    assert captured_changes == []


def test_one_new_unique_value_given_to_two_records_refuses_the_batch(contacts, captured_changes):
    ada, bob = create(contacts, {"email": "ada@example.com"}, {"email": "bob@example.com"})
    before = snapshot(contacts)
    captured_changes.clear()

    with pytest.raises(BatchValidationError) as excinfo:
        write_records(
            object_type=contacts,
            mode="update",
            source=sources.API,
            inputs=[
                RecordInput(id=ada, properties={"email": "new@example.com"}),
                RecordInput(id=bob, properties={"email": "new@example.com"}),
            ],
        )

    assert excinfo.value.errors[1].codes == {"email": ValueCode.REPEATED}
    assert snapshot(contacts) == before
    assert captured_changes == []


def test_an_invalid_value_refuses_the_batch_with_nothing_changed(contacts, captured_changes):
    ada, bob = create(
        contacts, {"email": "ada@example.com", "firstname": "Ada"}, {"email": "bob@example.com"}
    )
    before = snapshot(contacts)
    captured_changes.clear()

    with pytest.raises(BatchValidationError) as excinfo:
        write_records(
            object_type=contacts,
            mode="update",
            source=sources.API,
            inputs=[
                RecordInput(id=ada, properties={"firstname": "Ann"}),
                RecordInput(id=bob, properties={"lifecyclestage": "king"}),
            ],
        )

    assert excinfo.value.errors[1].codes == {"lifecyclestage": ValueCode.INVALID}
    assert snapshot(contacts) == before
    assert captured_changes == []


@pytest.mark.postgres
def test_one_statement_per_property_set_however_many_records(contacts):
    def update_all(n):
        ids = create(contacts, *[{"email": f"p{n}-{i}@example.com"} for i in range(n)])
        with CaptureQueriesContext(connection) as queries:
            write_records(
                object_type=contacts,
                mode="update",
                source=sources.IMPORT,
                inputs=[
                    RecordInput(id=pk, properties={"firstname" if i % 2 else "city": f"V{i}"})
                    for i, pk in enumerate(ids)
                ],
            )
        return [q["sql"] for q in queries]

    few, many = update_all(2), update_all(40)

    assert len(many) == len(few)
    updates = [sql for sql in many if sql.startswith('UPDATE "crm_record"')]
    assert len(updates) == 2  # {firstname} and {city}
