"""Sync properties (SPEC P) in the admin: the record form shows them disabled; create, refusals
on their field, backfill progress and "Used in", delete refused, the recompute action.
"""

from __future__ import annotations

from django.urls import reverse

from crm.models import AuditEvent, ObjectType, Property, Record
from tests.support.sync_properties import company, contact, definition, link, make_sync, value

# --- read-only -------------------------------------------------------------------------------


def test_the_admin_record_form_shows_it_disabled(synced, client, staff_user):
    ada, _, _ = synced
    client.force_login(staff_user)

    page = client.get(reverse("admin:crm_record_change", args=[ada.pk]))
    field = page.context["adminform"].form.fields["company_name"]
    assert field.disabled
    assert page.context["adminform"].form.initial["company_name"] == "Acme"

    # A forged POST cannot change it: disabled fields keep their initial value.
    form_data = {"email": "ada@example.com", "company_name": "Forged", "_save": "Save"}
    client.post(reverse("admin:crm_record_change", args=[ada.pk]), form_data)
    assert value(ada) == "Acme"


# --- admin -----------------------------------------------------------------------------------


def admin_add_form(contacts: ObjectType, **sync) -> dict:
    return {
        "object_type": contacts.pk,
        "name": "company_name",
        "label": "Company name (sync)",
        "type": "property_sync",
        "group": "information",
        "display_order": 0,
        "options-TOTAL_FORMS": 0,
        "options-INITIAL_FORMS": 0,
        **sync,
    }


def test_staff_create_a_sync_property_in_the_admin(staff_client, contacts, commit):
    companies = ObjectType.objects.get(name="companies")
    with commit():
        ada = contact("ada@example.com")
        link(ada, company("Acme"), "Primary")
    primary = definition("contacts", "companies", "Primary")
    name = Property.objects.get(object_type=companies, name="name")

    page = staff_client.get("/admin/crm/property/add/").content.decode()
    assert "Source property" in page and "When several records qualify" in page
    with commit():
        response = staff_client.post(
            "/admin/crm/property/add/",
            admin_add_form(
                contacts,
                sync_source_object_type=companies.pk,
                sync_source_property=name.pk,
                sync_definitions=[primary.pk],
                sync_criterion="last_created",
            ),
        )

    assert response.status_code == 302, response.content.decode()[:3000]
    prop = Property.objects.get(object_type=contacts, name="company_name")
    assert prop.read_only and prop.is_sync
    assert list(prop.sync_config.definitions.all()) == [primary]
    assert prop.sync_config.criterion == "last_created"
    assert value(ada) == "Acme"


def test_the_admin_shows_a_refused_source_on_its_field(staff_client, contacts):
    companies = ObjectType.objects.get(name="companies")
    domain = Property.objects.get(object_type=companies, name="domain")
    Property.objects.filter(pk=domain.pk).update(restricted=True)

    response = staff_client.post(
        "/admin/crm/property/add/",
        admin_add_form(
            contacts, sync_source_object_type=companies.pk, sync_source_property=domain.pk
        ),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "restricted" in errors["sync_source_property"][0]
    assert not Property.objects.filter(name="company_name").exists()


def test_the_property_page_shows_backfill_progress_and_used_in(synced, staff_client):
    _, _, prop = synced
    name = Property.objects.get(object_type__name="companies", name="name")

    sync_page = staff_client.get(f"/admin/crm/property/{prop.pk}/change/").content.decode()
    source_page = staff_client.get(f"/admin/crm/property/{name.pk}/change/").content.decode()

    assert "Done: 1 of 1 records (100%)" in sync_page
    assert "Used in" in source_page
    assert f'href="/admin/crm/property/{prop.pk}/change/"' in source_page
    assert "Sync property contacts.company_name" in source_page


def test_the_admin_refuses_to_delete_a_used_property(synced, staff_client, commit):
    companies = ObjectType.objects.get(name="companies")
    domain = Property.objects.get(object_type=companies, name="domain")
    Property.objects.filter(pk=domain.pk).update(is_builtin=False)
    with commit():
        make_sync(name="company_domain", source_property="domain")

    response = staff_client.post(f"/admin/crm/property/{domain.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert response.url == f"/admin/crm/property/{domain.pk}/change/"
    followed = staff_client.get(response.url).content.decode()
    assert "is used, so it cannot be deleted" in followed
    assert Property.objects.filter(pk=domain.pk).exists()


def test_the_admin_action_recomputes_a_sync_property(synced, staff_client, commit):
    ada, _, prop = synced
    Record.objects.filter(pk=ada.pk).update(properties={"email": "ada@example.com"})

    with commit():
        response = staff_client.post(
            "/admin/crm/property/",
            {"action": "recompute_sync_properties", "_selected_action": [prop.pk]},
        )

    assert response.status_code == 302
    assert value(ada) == "Acme"
    assert AuditEvent.objects.filter(verb="recompute_sync_property", target_id=prop.pk).exists()
