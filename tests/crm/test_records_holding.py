"""Who holds a property's values: an indexed property (email) and one without an index (sku)
looked up alike, only active records of the object type, locked or not, on both databases."""

import pytest
from django.db import transaction
from django.utils import timezone

from crm.models import ObjectType, Record
from crm.services.record_uniqueness import (
    INDEXED_PROPERTIES,
    active_records_holding,
    records_by_unique_value,
)


@pytest.fixture
def products(crm_schema):
    return ObjectType.objects.get(name="products")


def _record(object_type, **properties):
    now = timezone.now()
    return Record.objects.create(
        object_type=object_type, properties=properties, created_at=now, updated_at=now
    )


def test_email_is_looked_up_by_its_index_and_sku_is_not():
    # The choice of query rests on this: only email has an expression index.
    assert "email" in INDEXED_PROPERTIES
    assert "sku" not in INDEXED_PROPERTIES


def test_active_holders_of_an_indexed_property(contacts, companies):
    ada = _record(contacts, email="ada@example.com")
    bob = _record(contacts, email="bob@example.com")
    _record(contacts, email="eve@example.com")
    gone = _record(contacts, email="gone@example.com")
    gone.archived_at = timezone.now()
    gone.save()
    _record(companies, email="ada@example.com")  # another type holding the same value

    found = active_records_holding(
        contacts, "email", ["ada@example.com", "bob@example.com", "gone@example.com", "nobody@x"]
    )

    assert sorted(found) == sorted(
        [(ada.pk, {"email": "ada@example.com"}), (bob.pk, {"email": "bob@example.com"})]
    )


def test_active_holders_of_a_property_without_an_index(products, contacts):
    widget = _record(products, sku="W-1", name="Widget")
    _record(products, sku="G-2", name="Gadget")
    retired = _record(products, sku="R-3")
    retired.archived_at = timezone.now()
    retired.save()
    _record(contacts, sku="W-1")

    found = active_records_holding(products, "sku", ["W-1", "R-3", "X-9"])

    assert found == [(widget.pk, {"sku": "W-1", "name": "Widget"})]


@pytest.mark.parametrize("name, values", [("email", ["a@x.io", "b@x.io"]), ("sku", ["A", "B"])])
def test_locked_lookup_maps_each_value_to_its_record(products, contacts, name, values):
    object_type = contacts if name == "email" else products
    first, second = (_record(object_type, **{name: value}) for value in values)

    with transaction.atomic():
        holders = records_by_unique_value(object_type, name, [*values, "missing"])

    assert {value: holder.pk for value, holder in holders.items()} == {
        values[0]: first.pk,
        values[1]: second.pk,
    }
    assert holders[values[0]].properties == {name: values[0]}


def test_no_values_no_holders(contacts):
    _record(contacts, email="ada@example.com")

    assert active_records_holding(contacts, "email", []) == []
