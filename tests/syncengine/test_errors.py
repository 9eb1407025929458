"""Permanent errors produced by the sandbox's org rules become classified SyncError rows;
records that later sync resolve them; repeats update one row."""

from __future__ import annotations

import pytest

from crm.models import Property, Record
from crm.services.records import create_record, update_record
from syncengine.connectors.salesforce.errors import classify
from syncengine.models import ObjectMapping, RecordLink, SyncError
from syncengine.services.mappings import check_field_mapping
from tests.factories import FieldMappingFactory
from tests.support.sync import member_of_a_refused_company, refused_duplicate, stage_of

pytestmark = pytest.mark.django_db


def open_error(**filters) -> SyncError:
    return SyncError.objects.get(status="open", **filters)


def test_required_field_missing_is_a_property_value_error_and_resolves(
    integration, sandbox, run, contacts
):
    record = create_record(
        object_type=contacts, properties={"email": "nolast@x.com"}, source="user"
    )
    cycle = run()
    error = open_error(record=record)
    assert (error.category, error.code) == ("property_values", "REQUIRED_FIELD_MISSING")
    assert error.remote_field == "LastName" and error.property_name == "lastname"
    assert stage_of(cycle, "push_new", "Contact").failed == 1
    # A failing record is not retried every cycle: no call until it changes; it stays dirty
    assert stage_of(run(), "push_new", "Contact").api_calls == 0
    assert RecordLink.objects.get(record=record).dirty
    # When staff fix the value, the record syncs and its error resolves (H-6)
    update_record(record=record, properties={"lastname": "Fixed"}, source="user")
    run()
    error.refresh_from_db()
    assert error.status == "resolved" and error.resolved_at is not None
    assert sandbox.count("Contact") == 1


def test_failed_link_never_marked_by_a_change_waits_too(integration, sandbox, run, contacts):
    # A link created dirty without a change behind it (a pull's match) has no dirty_at: its
    # failed push waits for a change like any other instead of costing a call every cycle
    record = create_record(object_type=contacts, properties={"email": "m@x.com"}, source="user")
    run()
    RecordLink.objects.filter(record=record).update(dirty_at=None)
    assert stage_of(run(), "push_new", "Contact").api_calls == 0
    link = RecordLink.objects.get(record=record)
    assert link.dirty and link.remote_id is None


def test_restricted_picklist_value_is_a_picklist_error(integration, sandbox, run, companies):
    record = create_record(
        object_type=companies,
        properties={"name": "Estates", "industry": "REAL_ESTATE"},
        source="user",
    )
    run()
    error = open_error(record=record)
    assert (error.category, error.code) == ("picklists", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")
    assert error.remote_field == "Industry" and error.property_name == "industry"


def test_unmatched_remote_picklist_value_is_a_picklist_error(integration, sandbox, run, companies):
    account_id = sandbox.create("Account", Name="Farm", Industry="Agriculture")
    run()
    error = open_error(remote_id=account_id)
    assert (error.category, error.code) == ("picklists", "PICKLIST_VALUE_UNMATCHED")
    assert error.direction == "pull" and error.details["value"] == "Agriculture"
    # The rest of the record still synced
    record = Record.objects.get(pk=RecordLink.objects.get(remote_id=account_id).record_id)
    assert record.properties["name"] == "Farm"


def test_duplicate_rule_is_a_duplicates_error(integration, sandbox, run, contacts):
    record = refused_duplicate(integration, sandbox, contacts)
    run()
    error = open_error(record=record)
    assert (error.category, error.code) == ("duplicates", "DUPLICATES_DETECTED")
    assert sandbox.count("Contact") == 1


@pytest.mark.parametrize(
    ("object_name", "properties", "code"),
    [
        ("companies", {"name": "TRIGGER FAIL Inc"}, "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"),
        ("companies", {"name": "Invalid Test Account"}, "FIELD_CUSTOM_VALIDATION_EXCEPTION"),
        (
            "deals",
            {"dealname": "FLOW FAIL deal", "dealstage": "closedwon", "closedate": "2030-01-01"},
            "CANNOT_EXECUTE_FLOW_TRIGGER",
        ),
    ],
)
def test_automation_failures_are_custom_code_errors(
    integration, sandbox, run, object_name, properties, code
):
    from crm.models import ObjectType

    object_type = ObjectType.objects.get(name=object_name)
    record = create_record(object_type=object_type, properties=properties, source="user")
    run()
    error = open_error(record=record)
    assert (error.category, error.code) == ("custom_code", code)
    assert error.message  # Salesforce's own text is kept for the card's details


def test_hidden_and_read_only_fields_are_permission_errors(integration, sandbox, run, contacts):
    salary = Property.objects.create(
        object_type=contacts, name="salary", label="Salary", type="number"
    )
    value = Property.objects.create(object_type=contacts, name="ltv", label="LTV", type="number")
    om = ObjectMapping.objects.get(integration=integration, remote_object="Contact")
    FieldMappingFactory(object_mapping=om, property=salary, remote_field="Salary__c")
    FieldMappingFactory(object_mapping=om, property=value, remote_field="Lifetime_Value__c")
    record = create_record(
        object_type=contacts,
        properties={"email": "p@x.com", "lastname": "Perm", "salary": 10, "ltv": 5},
        source="user",
    )
    cycle = run()
    hidden = open_error(remote_field="Salary__c")
    read_only = open_error(remote_field="Lifetime_Value__c")
    assert (hidden.category, hidden.code) == ("permissions", "FIELD_NOT_ACCESSIBLE")
    assert (read_only.category, read_only.code) == ("permissions", "FIELD_NOT_UPDATEABLE")
    # The rest of the record still syncs
    assert stage_of(cycle, "push_new", "Contact").new == 1
    assert sandbox.get("Contact", RecordLink.objects.get(record=record).remote_id)["LastName"] == (
        "Perm"
    )


def test_incompatible_mapping_is_refused_and_reported(integration, sandbox, run, contacts):
    run()  # describes the objects
    om = ObjectMapping.objects.get(integration=integration, remote_object="Contact")
    lastname = Property.objects.get(object_type=contacts, name="lastname")
    with pytest.raises(Exception, match="cannot sync with a date field"):
        check_field_mapping(object_mapping=om, prop=lastname, remote_field="Birthdate")
    # A mapping that became incompatible (saved around the check) is a property-mapping error
    FieldMappingFactory(object_mapping=om, property=lastname, remote_field="Birthdate")
    om.schema_checked_at = None
    om.save()
    run()
    error = open_error(remote_field="Birthdate")
    assert (error.category, error.code) == ("property_mappings", "INCOMPATIBLE_FIELD_TYPE")


def test_unsynced_company_blocks_its_contacts_as_an_association_error(
    integration, sandbox, run, contacts, companies
):
    company, contact = member_of_a_refused_company(
        contacts, companies, email="a@x.com", lastname="Assoc"
    )
    run()
    error = open_error(category="associations")
    assert error.code == "ASSOCIATED_RECORD_NOT_SYNCED"
    assert error.record_id == company.pk
    assert list(error.affected_records.values_list("pk", flat=True)) == [contact.pk]
    link = RecordLink.objects.get(record=contact)
    assert link.remote_id and link.pending_references  # synced without its AccountId
    # When the company is fixed, it syncs and the foreign key follows
    update_record(record=company, properties={"name": "Fine Co"}, source="user")
    run()
    account_id = RecordLink.objects.get(record=company).remote_id
    assert sandbox.get("Contact", link.remote_id)["AccountId"] == account_id
    link.refresh_from_db()
    assert not link.pending_references
    error.refresh_from_db()
    assert error.status == "resolved"


def test_repeated_error_updates_one_row(integration, sandbox, run, contacts):
    record = create_record(object_type=contacts, properties={"email": "r@x.com"}, source="user")
    run()
    update_record(record=record, properties={"firstname": "Still no last name"}, source="user")
    run()
    error = SyncError.objects.get(record=record)
    assert error.occurrences == 2 and error.last_seen_at > error.first_seen_at


def test_unknown_codes_are_other():
    assert classify("SOMETHING_NEW") == "other"
    assert classify("UNABLE_TO_LOCK_ROW") == "other"
    assert classify("DUPLICATE_VALUE") == "duplicates"
    assert classify("INSUFFICIENT_ACCESS_OR_READONLY") == "permissions"


def test_value_of_the_wrong_json_type_fails_alone(integration, sandbox):
    # Salesforce refuses the whole collection call (400 JSON_PARSER_ERROR); the connector
    # sends the records again in halves, so only the bad one fails, as a property-value error
    from syncengine.services.integrations import build_connector

    connector = build_connector(integration=integration)
    records = [{"Concord_Id__c": str(900 + i), "LastName": f"J{i}"} for i in range(5)]
    records[3]["Score__c"] = "not a number"
    outcomes = connector.upsert("Contact", "Concord_Id__c", records)
    assert [o.success for o in outcomes] == [True, True, True, False, True]
    (error,) = outcomes[3].errors
    assert error.code == "JSON_PARSER_ERROR" and "instance of double" in error.message
    assert classify(error.code) == "property_values"
    assert sandbox.count("Contact") == 4
    assert connector.calls == 7  # the whole call, then halves down to the bad record
