"""The guided sync-property form: the choices carry what the script narrows by, the server
refuses a mismatch without the script, sections of other types are hidden; a copied value shows
its option label and the record it came from, in the record page, the list and its filters."""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from django.urls import reverse

from crm.models import AssociationDefinition, ObjectType, Property
from tests.support.sync_properties import company, contact, definition, link, make_sync, value


def add_form(contacts: ObjectType, **extra) -> dict:
    return {
        "object_type": contacts.pk,
        "name": "company_industry",
        "label": "Company industry",
        "type": "property_sync",
        "group": "information",
        "display_order": 0,
        "options-TOTAL_FORMS": 0,
        "options-INITIAL_FORMS": 0,
        **extra,
    }


def test_each_choice_names_its_object_types_for_the_script(staff_client, crm_schema):
    page = staff_client.get("/admin/crm/property/add/").content.decode()
    assert "crm/property_form.js" in page
    industry = Property.objects.get(object_type__name="companies", name="industry")
    assert re.search(
        rf'<option value="{industry.pk}" data-object-type="{industry.object_type_id}"', page
    )
    primary = definition("contacts", "companies", "Primary")
    types = f"{primary.from_object_type_id} {primary.to_object_type_id}"
    assert re.search(rf'data-types="{types}"[^>]*value="{primary.pk}"', page) or re.search(
        rf'value="{primary.pk}"[^>]*data-types="{types}"', page
    )
    for section in ("property-sync", "property-rules", "property-access"):
        assert f'class="module aligned {section}"' in page


def test_without_the_script_the_server_refuses_a_mismatched_source(staff_client, crm_schema):
    contacts = ObjectType.objects.get(name="contacts")
    companies = ObjectType.objects.get(name="companies")
    deal_name = Property.objects.get(object_type__name="deals", name="dealname")
    response = staff_client.post(
        "/admin/crm/property/add/",
        add_form(contacts, sync_source_object_type=companies.pk, sync_source_property=deal_name.pk),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "is not a property of companies" in " ".join(errors["sync_source_property"])
    assert not Property.objects.filter(name="company_industry").exists()


def test_without_the_script_the_server_refuses_labels_of_other_types(staff_client, crm_schema):
    contacts = ObjectType.objects.get(name="contacts")
    companies = ObjectType.objects.get(name="companies")
    industry = Property.objects.get(object_type=companies, name="industry")
    deals_to_companies = AssociationDefinition.objects.filter(
        from_object_type__name="deals", to_object_type__name="companies"
    ).first()
    response = staff_client.post(
        "/admin/crm/property/add/",
        add_form(
            contacts,
            sync_source_object_type=companies.pk,
            sync_source_property=industry.pk,
            sync_definitions=[deals_to_companies.pk],
        ),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "does not link contacts and companies" in " ".join(errors["sync_definitions"])
    assert not Property.objects.filter(name="company_industry").exists()


def test_access_rules_sent_for_a_sync_property_are_ignored(staff_client, crm_schema, commit):
    contacts = ObjectType.objects.get(name="contacts")
    companies = ObjectType.objects.get(name="companies")
    industry = Property.objects.get(object_type=companies, name="industry")
    someone = User.objects.create_user("someone")
    with commit():
        response = staff_client.post(
            "/admin/crm/property/add/",
            add_form(
                contacts,
                sync_source_object_type=companies.pk,
                sync_source_property=industry.pk,
                restricted="on",
                restricted_users=[someone.pk],
            ),
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    prop = Property.objects.get(object_type=contacts, name="company_industry")
    assert not prop.restricted and not prop.restricted_users.exists()


def test_a_saved_sync_property_shows_only_the_sections_that_apply(synced, staff_client):
    _, _, prop = synced
    page = staff_client.get(reverse("admin:crm_property_change", args=[prop.pk]))
    form = page.context["adminform"].form
    assert "sensitive" in form.fields
    for name in ("restricted", "restricted_users", "unique", "read_only"):
        assert name not in form.fields
    assert page.context["inline_admin_formsets"] == []  # no options
    assert "Restricted access" not in page.content.decode()


def test_a_copied_value_shows_its_label_and_where_it_came_from(staff_client, crm_schema, commit):
    with commit():
        ada = contact("ada@example.com")
        globex = company("Globex", industry="REAL_ESTATE")
        link(ada, globex, "Primary")
        make_sync(name="company_industry", source_property="industry")
        contacts = ObjectType.objects.get(name="contacts")
        contacts.list_properties = [*contacts.list_properties, "company_industry"]
        contacts.save()
    assert value(ada, "company_industry") == "REAL_ESTATE"

    page = staff_client.get(reverse("admin:crm_record_change", args=[ada.pk])).content.decode()
    globex_url = reverse("admin:crm_record_change", args=[globex.pk])
    assert (
        f'Real estate <span class="help">(copied from Company <a href="{globex_url}">Globex</a>'
        " · Industry)</span>" in page
    )
    assert "REAL_ESTATE" not in page

    listing = staff_client.get("/admin/crm/record/?type=contacts").content.decode()
    assert '<td class="field-property_company_industry">Real estate</td>' in listing
    # The list filters on it by label too; the value stays in the link.
    assert "p_company_industry=REAL_ESTATE" in listing
    filtered = staff_client.get(
        "/admin/crm/record/?type=contacts&p_company_industry=REAL_ESTATE"
    ).content.decode()
    assert "ada@example.com" in filtered


def test_a_copy_with_no_source_says_so(staff_client, synced):
    lone = contact("lone@example.com")
    page = staff_client.get(reverse("admin:crm_record_change", args=[lone.pk])).content.decode()
    assert "no associated company to copy Company name from" in page
