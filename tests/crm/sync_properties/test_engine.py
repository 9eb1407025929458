"""Sync properties (SPEC P), the engine's recompute: each criterion and label choice, both
directions of a definition, non-text values.
"""

from __future__ import annotations

import pytest

from crm import sources
from crm.models import ObjectType, Property
from crm.services.associations import associate_records
from crm.services.records import RecordInput, write_records
from crm.services.schema import create_property
from tests.support.sync_properties import (
    company,
    contact,
    deal,
    definition,
    link,
    make_sync,
    set_created,
    value,
)

# --- criteria and labels ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criterion", "linked", "expected"),
    [
        # first_created copies from the oldest associated record, last_created the newest.
        ("first_created", ["New Co", "Old Co"], "Old Co"),
        ("last_created", ["Old Co", "New Co"], "New Co"),
    ],
)
def test_created_criteria_copy_from_the_oldest_or_newest_associated_record(
    crm_schema, commit, criterion, linked, expected
):
    with commit():
        ada = contact("ada@example.com")
        companies = {"Old Co": company("Old Co"), "New Co": company("New Co")}
        set_created(companies["Old Co"], days_ago=10)
        set_created(companies["New Co"], days_ago=1)
        for name in linked:
            link(ada, companies[name])
        make_sync(criterion=criterion)

    assert value(ada) == expected


def test_records_created_together_are_ordered_by_id(crm_schema, commit):
    companies = ObjectType.objects.get(name="companies")
    with commit():
        ada = contact("ada@example.com")
        # One statement: both companies have the same created_at.
        first, second = write_records(
            object_type=companies,
            inputs=[RecordInput(properties={"name": "A"}), RecordInput(properties={"name": "B"})],
            mode="create",
            source=sources.API,
        ).ids
        associate_records(
            definition=definition("contacts", "companies"),
            pairs=[(ada.pk, second), (ada.pk, first)],
            source=sources.API,
        )
        make_sync(name="first_name_copy", criterion="first_created")
        make_sync(name="last_name_copy", criterion="last_created")

    assert value(ada, "first_name_copy") == "A"
    assert value(ada, "last_name_copy") == "B"


def test_a_chosen_label_ignores_records_associated_with_other_labels(crm_schema, commit):
    with commit():
        ada = contact("ada@example.com")
        other, primary = company("Other Co"), company("Primary Co")
        set_created(other, days_ago=10)  # older, so "first created" would pick it among all
        link(ada, other)
        link(ada, primary, "Primary")
        make_sync(name="primary_company", labels=["Primary"])
        make_sync(name="any_company", labels="all")

    assert value(ada, "primary_company") == "Primary Co"
    assert value(ada, "any_company") == "Other Co"


def test_labels_can_be_chosen_by_definition(crm_schema, commit):
    with commit():
        ada = contact("ada@example.com")
        link(ada, company("Unlabelled Co"))
        prop = create_property(
            object_type=ObjectType.objects.get(name="contacts"),
            name="company_name",
            label="Company (sync)",
            type=Property.Type.PROPERTY_SYNC,
            sync={
                "source_object_type": "companies",
                "source_property": "name",
                "definitions": [definition("contacts", "companies", "Primary").pk],
            },
            source=sources.USER,
        )

    assert not prop.sync_config.all_labels
    assert value(ada) is None


def test_it_works_in_the_other_direction_of_a_definition(crm_schema, commit):
    """companies ← deals.dealname: the definition runs deals → companies."""
    with commit():
        acme = company("Acme")
        deal("Big deal", linked_to=acme)
        make_sync(
            target="companies",
            name="latest_deal",
            source_type="deals",
            source_property="dealname",
            criterion="last_created",
        )

    assert value(acme, "latest_deal") == "Big deal"


def test_non_text_values_are_copied_as_stored(crm_schema, commit):
    with commit():
        ada = contact("ada@example.com")
        link(ada, company("Acme", annualrevenue="1500000.5", numberofemployees=12))
        make_sync(name="company_revenue", source_property="annualrevenue")
        make_sync(name="company_size", source_property="numberofemployees")

    assert value(ada, "company_revenue") == 1500000.5
    assert value(ada, "company_size") == 12
