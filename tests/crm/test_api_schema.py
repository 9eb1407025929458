from crm.models import AuditEvent, ObjectType, Property


def test_lists_standard_object_types(api_client, crm_schema):
    names = [o["name"] for o in api_client.get("/api/v1/object-types/").json()]
    assert {
        "contacts",
        "companies",
        "deals",
        "tickets",
        "products",
        "calls",
        "conversations",
        "tasks",
    } <= set(names)


def test_staff_create_a_custom_object_type(staff_api_client, crm_schema):
    response = staff_api_client.post(
        "/api/v1/object-types/",
        {"name": "projects", "label_singular": "Project", "label_plural": "Projects"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["is_custom"] is True
    props = staff_api_client.get("/api/v1/object-types/projects/properties/").json()
    assert [p["name"] for p in props] == ["name", "owner"]  # every object type has an owner
    record = staff_api_client.post(
        "/api/v1/objects/projects/records/", {"properties": {"name": "Apollo"}}, format="json"
    )
    assert record.status_code == 201


def test_users_cannot_change_the_schema(api_client, crm_schema):
    response = api_client.post(
        "/api/v1/object-types/",
        {"name": "projects", "label_singular": "Project", "label_plural": "Projects"},
        format="json",
    )
    assert response.status_code == 403
    assert not ObjectType.objects.filter(name="projects").exists()


def test_object_type_bad_input(staff_api_client, crm_schema):
    taken = staff_api_client.post(
        "/api/v1/object-types/",
        {"name": "contacts", "label_singular": "C", "label_plural": "Cs"},
        format="json",
    )
    assert taken.status_code == 400
    assert "already exists" in taken.json()["errors"]["name"][0]
    bad = staff_api_client.post(
        "/api/v1/object-types/",
        {"name": "Bad Name", "label_singular": "C", "label_plural": "Cs"},
        format="json",
    )
    assert bad.status_code == 400
    assert ObjectType.objects.filter(is_custom=True).count() == 0


def test_property_crud_with_options(staff_api_client, contacts):
    url = "/api/v1/object-types/contacts/properties/"
    created = staff_api_client.post(
        url,
        {
            "name": "tier",
            "label": "Tier",
            "type": "enumeration",
            "options": [{"value": "gold", "label": "Gold"}, {"value": "silver"}],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["options"] == [
        {"value": "gold", "label": "Gold", "hidden": False},
        {"value": "silver", "label": "silver", "hidden": False},
    ]

    updated = staff_api_client.patch(
        f"{url}tier/",
        {"label": "Customer tier", "options": [{"value": "gold"}, {"value": "bronze"}]},
        format="json",
    )
    assert updated.status_code == 200, updated.json()
    assert [o["value"] for o in updated.json()["options"]] == ["gold", "bronze"]
    assert updated.json()["label"] == "Customer tier"

    assert staff_api_client.delete(f"{url}tier/").status_code == 204
    assert not Property.objects.filter(name="tier").exists()
    verbs = list(AuditEvent.objects.order_by("pk").values_list("verb", flat=True))
    assert verbs == ["create_property", "update_property", "delete_property"]


def test_property_bad_input_changes_nothing(staff_api_client, contacts):
    url = "/api/v1/object-types/contacts/properties/"
    before = Property.objects.count()
    cases = [
        ({"name": "email", "label": "Dup", "type": "text"}, "already has a property"),
        ({"name": "x", "label": "X", "type": "enumeration", "options": []}, "at least one option"),
        (
            {
                "name": "y",
                "label": "Y",
                "type": "enumeration",
                "options": [{"value": "a"}, {"value": "a"}],
            },
            "appears twice",
        ),
        ({"name": "z", "label": "Z", "type": "colour"}, "colour"),
    ]
    for body, message in cases:
        response = staff_api_client.post(url, body, format="json")
        assert response.status_code == 400, body
        assert message in str(response.json()), (body, response.json())
    assert Property.objects.count() == before


def test_builtin_property_cannot_be_deleted_or_retyped(staff_api_client, contacts):
    url = "/api/v1/object-types/contacts/properties/email/"
    response = staff_api_client.delete(url)
    assert response.status_code == 400 and "cannot be deleted" in response.json()["detail"]
    response = staff_api_client.patch(url, {"type": "text"}, format="json")
    assert response.status_code == 400 and "cannot change" in response.json()["detail"]
    assert Property.objects.get(object_type=contacts, name="email").type == "email"


def test_openapi_schema_and_docs(client, crm_schema):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in (
        "/api/v1/objects/{object_type}/records/batch/",
        "/api/v1/associations/",
        "/api/v1/audit-events/",
        "/api/v1/auth/token/",
    ):
        assert path in text
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
