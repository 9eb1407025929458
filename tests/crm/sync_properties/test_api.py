"""Sync properties (SPEC P) through the REST API: read-only values, create, refusals naming
the field, a changed configuration, usage, delete, and the property list's query count.
"""

from __future__ import annotations

from crm import sources
from crm.models import ObjectType, Property
from crm.services.records import update_record
from crm.services.schema import create_property
from tests.support.sync_properties import company, contact, link, make_sync, value

# --- read-only -------------------------------------------------------------------------------


def test_the_api_refuses_writes_naming_the_property(synced, api_client):
    ada, _, _ = synced

    response = api_client.patch(
        f"/api/v1/objects/contacts/records/{ada.pk}/",
        {"properties": {"company_name": "Mine"}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"]["properties"] == {"company_name": ["is read-only"]}
    assert value(ada) == "Acme"


# --- API -------------------------------------------------------------------------------------


def test_staff_create_a_sync_property_through_the_api(crm_schema, staff_api_client, commit):
    with commit():
        ada = contact("ada@example.com")
        link(ada, company("Acme"), "Primary")

    with commit():
        response = staff_api_client.post(
            "/api/v1/object-types/contacts/properties/",
            {
                "name": "company_name",
                "label": "Company name (sync)",
                "type": "property_sync",
                "sync": {
                    "source_object_type": "companies",
                    "source_property": "name",
                    "association_labels": ["Primary"],
                    "criterion": "last_created",
                },
            },
            format="json",
        )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["read_only"] is True
    assert body["sync"]["source_object_type"] == "companies"
    assert body["sync"]["association_labels"] == ["Primary"]
    assert body["sync"]["criterion"] == "last_created"
    assert body["sync"]["backfill"]["status"] == "pending"  # the worker runs after the response
    assert value(ada) == "Acme"
    shown = staff_api_client.get("/api/v1/object-types/contacts/properties/company_name/").json()
    assert shown["sync"]["backfill"] | {"started_at": None, "finished_at": None} == {
        "status": "done",
        "total": 1,
        "done": 1,
        "started_at": None,
        "finished_at": None,
        "error": "",
    }
    assert (
        staff_api_client.get("/api/v1/object-types/contacts/properties/email/").json()["sync"]
        is None
    )


def test_the_api_refuses_a_bad_sync_configuration_naming_the_field(crm_schema, staff_api_client):
    companies = ObjectType.objects.get(name="companies")
    Property.objects.filter(object_type=companies, name="domain").update(restricted=True)

    response = staff_api_client.post(
        "/api/v1/object-types/contacts/properties/",
        {
            "name": "company_domain",
            "label": "Company domain (sync)",
            "type": "property_sync",
            "sync": {"source_object_type": "companies", "source_property": "domain"},
        },
        format="json",
    )
    missing = staff_api_client.post(
        "/api/v1/object-types/contacts/properties/",
        {"name": "company_x", "label": "X", "type": "property_sync"},
        format="json",
    )

    assert response.status_code == 400
    assert "restricted" in response.json()["errors"]["sync.source_property"][0]
    assert missing.status_code == 400 and "sync" in missing.json()["errors"]
    assert not Property.objects.filter(name__in=["company_domain", "company_x"]).exists()


def test_the_api_changes_the_configuration_and_recomputes(synced, staff_api_client, commit):
    ada, acme, _ = synced
    with commit():
        update_record(record=acme, properties={"domain": "acme.test"}, source=sources.API)

    with commit():
        response = staff_api_client.patch(
            "/api/v1/object-types/contacts/properties/company_name/",
            {"sync": {"source_object_type": "companies", "source_property": "domain"}},
            format="json",
        )

    assert response.status_code == 200, response.json()
    assert response.json()["sync"]["source_property"] == "domain"
    assert value(ada) == "acme.test"


def test_the_usage_endpoint_lists_where_a_property_is_used(synced, staff_api_client):
    # Usage names integrations and admin pages: staff only (the permission matrix pins who).
    api_client = staff_api_client
    response = api_client.get("/api/v1/object-types/companies/properties/name/usage/")

    assert response.status_code == 200
    assert response.json()["property"] == "companies.name"
    [usage] = response.json()["used_in"]
    assert usage["kind"] == "sync_property"
    assert usage["label"] == "Sync property contacts.company_name (Company name (sync))"
    unused = api_client.get("/api/v1/object-types/companies/properties/domain/usage/").json()
    assert unused["used_in"] == []


def test_the_api_refuses_to_delete_a_used_property_with_the_list(
    crm_schema, staff_api_client, commit
):
    companies = ObjectType.objects.get(name="companies")
    with commit():
        create_property(object_type=companies, name="tier", label="Tier", source=sources.API)
        make_sync(name="company_tier", source_property="tier")

    response = staff_api_client.delete("/api/v1/object-types/companies/properties/tier/")

    assert response.status_code == 400
    assert "is used" in response.json()["detail"]
    assert [u["label"] for u in response.json()["used_in"]] == [
        "Sync property contacts.company_tier (Company tier (sync))"
    ]
    assert Property.objects.filter(object_type=companies, name="tier").exists()


def test_the_property_list_does_not_query_per_sync_property(
    crm_schema, api_client, commit, django_assert_max_num_queries
):
    with commit():
        for name in ("a_copy", "b_copy", "c_copy"):
            make_sync(name=name, labels=["Primary"])

    with django_assert_max_num_queries(6):
        response = api_client.get("/api/v1/object-types/contacts/properties/")

    assert response.status_code == 200
    assert sum(1 for p in response.json() if p["sync"]) == 3
