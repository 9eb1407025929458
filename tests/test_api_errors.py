"""One error body for every refusal, and a schema that documents each operation's refusals."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.factories import IntegrationFactory

ERROR_REF = "#/components/schemas/Error"


@pytest.fixture(scope="module")
def openapi() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(openapi: dict):
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            yield path, method.upper(), operation


def error_ref(response: dict) -> str | None:
    return response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")


def test_every_refusal_of_every_operation_has_the_error_body(openapi):
    refusals = 0
    for path, method, operation in operations(openapi):
        codes = {code for code in operation["responses"] if code >= "400"}
        assert codes, f"{method} {path} documents no error answer"
        for code in codes:
            assert error_ref(operation["responses"][code]) == ERROR_REF, (method, path, code)
            assert operation["responses"][code]["description"], (method, path, code)
            refusals += 1
    assert refusals > 4 * len(openapi["paths"])


def test_each_operation_documents_the_refusals_it_can_answer(openapi):
    for path, method, operation in operations(openapi):
        codes = set(operation["responses"])
        label = f"{method} {path}"
        if path != "/api/v1/auth/token/":  # the token endpoint is where credentials come from
            assert {"401", "403"} <= codes, label
        if "{" in path:
            assert "404" in codes, label
        if method in ("POST", "PUT", "PATCH"):
            assert {"400", "413"} <= codes, label
        if any(p["in"] == "query" for p in operation.get("parameters", [])):
            assert "400" in codes, label
        if any(p["name"] == "format" for p in operation.get("parameters", [])):
            assert "404" in codes, label  # DRF's answer to an unknown ?format=


def test_special_refusals_are_documented(openapi):
    paths = openapi["paths"]
    assert {"409", "410"} <= set(paths["/api/v1/backups/{id}/download/"]["get"]["responses"])
    assert "429" in paths["/api/v1/backups/"]["post"]["responses"]
    throttled = paths["/api/v1/auth/token/"]["post"]["responses"]["429"]
    assert throttled["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    assert {"403", "409"} <= set(paths["/api/v1/restores/{id}/confirm/"]["post"]["responses"])
    google = paths["/api/v1/integrations/{id}/google-sync-options/"]["get"]["responses"]
    assert "400" in google  # a Salesforce integration has no Google sync options


def test_the_error_schema(openapi):
    error = openapi["components"]["schemas"]["Error"]
    assert error["required"] == ["detail"]
    assert error["properties"]["detail"]["type"] == "string"
    assert {"errors", "used_in", "active_restore", "next_allowed_at", "retry_after"} <= set(
        error["properties"]
    )


def test_documented_success_codes_are_the_ones_answered(openapi):
    # These two answer 201 (a set-up started, a field mapping added), not 200.
    totp = openapi["paths"]["/api/v1/auth/totp/"]["post"]["responses"]
    assert {"200", "201"} <= set(totp)
    mappings = openapi["paths"]["/api/v1/integrations/{id}/mappings/"]
    assert "201" in mappings["post"]["responses"] and "200" not in mappings["post"]["responses"]
    assert "200" in mappings["patch"]["responses"]
    patch_body = mappings["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert patch_body["$ref"].endswith("FieldMappingRulesRequest")
    sync = openapi["paths"]["/api/v1/integrations/{id}/sync/"]["post"]["responses"]["202"]
    assert error_ref(sync).endswith("/SyncStarted")


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ("AuditEvent", "actor"),
        ("AuditEvent", "object_type"),
        ("SyncStage", "object_type"),
        ("NotificationSetting", "updated_at"),
        ("Backup", "requested_by"),
        ("Restore", "requested_by"),
    ],
)
def test_fields_that_can_be_null_say_so(openapi, component, field):
    assert openapi["components"]["schemas"][component]["properties"][field].get("nullable")


def test_blank_fields_are_not_declared_otherwise(openapi):
    schemas = openapi["components"]["schemas"]
    assert "format" not in schemas["Integration"]["properties"]["instance_url"]
    verified_by = schemas["Restore"]["properties"]["verified_by"]
    assert {"$ref": "#/components/schemas/BlankEnum"} in verified_by["oneOf"]


def test_a_validation_error_has_the_error_shape(api_client, crm_schema):
    response = api_client.post("/api/v1/objects/contacts/records/", {}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "properties: This field is required."
    assert body["errors"] == {"properties": ["This field is required."]}


def test_a_views_own_detail_is_a_sentence(staff_api_client, crm_schema):

    salesforce = IntegrationFactory(name="Salesforce")

    response = staff_api_client.get(f"/api/v1/integrations/{salesforce.pk}/google-sync-options/")

    assert response.status_code == 400
    assert response.json() == {"detail": "Salesforce is not a Google Contacts integration"}


def test_a_list_inputs_errors_are_item_by_item(staff_api_client, crm_schema):

    salesforce = IntegrationFactory(name="Salesforce")

    response = staff_api_client.patch(
        f"/api/v1/integrations/{salesforce.pk}/mappings/",
        {"field_mappings": [{"id": 1, "rule": "nonsense"}]},
        format="json",
    )

    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == 'field_mappings: "nonsense" is not a valid choice.'
    assert body["errors"] == {
        "field_mappings": {"0": {"rule": ['"nonsense" is not a valid choice.']}}
    }


def test_a_top_level_list_inputs_errors_are_keyed_by_item():
    from rest_framework import serializers

    from config.api import error_body

    class Item(serializers.Serializer):
        rule = serializers.ChoiceField(choices=["two_way"])

    items = Item(data=[{"rule": "two_way"}, {"rule": "nonsense"}], many=True)
    items.is_valid()

    body = error_body(items.errors)
    assert body["detail"] == 'item 1: "nonsense" is not a valid choice.'
    assert body["errors"] == {1: {"rule": ['"nonsense" is not a valid choice.']}}


def test_refusals_of_authentication_and_lookups_have_the_error_shape(client, user):
    anonymous = client.get("/api/v1/integrations/")
    client.force_login(user)  # the User role: may read its own notifications
    missing = client.get("/api/v1/notifications/999999/")

    assert anonymous.status_code in (401, 403) and set(anonymous.json()) == {"detail"}
    assert missing.status_code == 404 and set(missing.json()) == {"detail"}


def test_an_unrouted_api_path_answers_json(client, db):
    response = client.get("/api/v1/integrations/not-a-number/health/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}
    assert "text/html" in client.get("/no-such-page/")["Content-Type"]
