import pytest

from crm import hooks, sources
from crm.errors import AssociationError
from crm.models import Association, AssociationDefinition, AuditEvent
from crm.services.associations import associate, associate_records, dissociate
from crm.services.records import archive_records, create_record


@pytest.fixture
def pair(contacts, companies):
    contact = create_record(
        object_type=contacts, source=sources.API, properties={"email": "a@example.com"}
    )
    acme = create_record(object_type=companies, source=sources.API, properties={"name": "Acme"})
    globex = create_record(object_type=companies, source=sources.API, properties={"name": "Globex"})
    return contact, acme, globex


def primary(contacts, companies):
    return AssociationDefinition.objects.get(
        from_object_type=contacts, to_object_type=companies, label="Primary"
    )


def test_associate_is_idempotent_audited_and_announced(pair, contacts, companies):
    contact, acme, _ = pair
    events = []
    listener = hooks.on_associations_changed(events.append)
    try:
        definition = primary(contacts, companies)
        first = associate(
            definition=definition, from_record=contact, to_record=acme, source=sources.API
        )
        again = associate(
            definition=definition, from_record=contact, to_record=acme, source=sources.API
        )
    finally:
        hooks.unsubscribe(listener)
    assert first.pk == again.pk
    assert [(e.kind, e.pairs) for e in events] == [("added", ((contact.pk, acme.pk),))]
    assert AuditEvent.objects.filter(verb="associate").count() == 1


def test_limit_is_enforced_with_a_clear_error(pair, contacts, companies):
    contact, acme, globex = pair
    definition = primary(contacts, companies)
    associate(definition=definition, from_record=contact, to_record=acme, source=sources.API)
    with pytest.raises(
        AssociationError, match="would have 2 'Primary' associations with companies; the limit is 1"
    ):
        associate(definition=definition, from_record=contact, to_record=globex, source=sources.API)
    assert Association.objects.count() == 1


def test_wrong_types_and_archived_records_are_refused(pair, contacts, companies):
    contact, acme, _ = pair
    definition = primary(contacts, companies)
    with pytest.raises(AssociationError, match="not of the association's from object type"):
        associate_records(definition=definition, pairs=[(acme.pk, contact.pk)], source=sources.API)
    archive_records(object_type=companies, record_ids=[acme.pk], source=sources.API)
    with pytest.raises(AssociationError, match="is in the recycle bin"):
        associate_records(definition=definition, pairs=[(contact.pk, acme.pk)], source=sources.API)


def test_dissociate(pair, contacts, companies):
    contact, acme, _ = pair
    association = associate(
        definition=primary(contacts, companies),
        from_record=contact,
        to_record=acme,
        source=sources.API,
    )
    assert dissociate(associations=[association], source=sources.API) == 1
    assert not Association.objects.exists()


def test_api_create_list_and_delete(api_client, pair):
    contact, acme, _ = pair
    response = api_client.post(
        "/api/v1/associations/",
        {"from_record": contact.pk, "to_record": acme.pk, "label": "Primary"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["label"], body["from_object_type"], body["to_object_type"]) == (
        "Primary",
        "contacts",
        "companies",
    )
    listed = api_client.get(f"/api/v1/associations/?record={acme.pk}").json()["results"]
    assert [a["id"] for a in listed] == [body["id"]]
    assert api_client.delete(f"/api/v1/associations/{body['id']}/").status_code == 204
    assert not Association.objects.exists()


def test_api_bad_associations_are_400s(api_client, pair):
    contact, acme, globex = pair
    api_client.post(
        "/api/v1/associations/",
        {"from_record": contact.pk, "to_record": acme.pk, "label": "Primary"},
        format="json",
    )
    cases = [
        ({"from_record": contact.pk, "to_record": globex.pk, "label": "Primary"}, "the limit is 1"),
        (
            {"from_record": contact.pk, "to_record": acme.pk, "label": "Best friend"},
            "no association labelled 'Best friend'",
        ),
        ({"from_record": contact.pk, "to_record": 999_999}, "record 999999 does not exist"),
        ({"from_record": "x", "to_record": acme.pk}, "valid integer"),
    ]
    for body, message in cases:
        response = api_client.post("/api/v1/associations/", body, format="json")
        assert response.status_code == 400, body
        assert message in str(response.json()), response.json()
    assert Association.objects.count() == 1


def test_audit_events_api_is_staff_only_and_filterable(api_client, staff_api_client, pair):
    contact, _, _ = pair
    assert api_client.get("/api/v1/audit-events/").status_code == 403
    events = staff_api_client.get(
        f"/api/v1/audit-events/?object_type=contacts&target_id={contact.pk}"
    ).json()["results"]
    assert [(e["verb"], e["source"]) for e in events] == [("create", "api")]
