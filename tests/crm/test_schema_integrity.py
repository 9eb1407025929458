"""Schema changes that records depend on: unique on and off, removing options records hold."""

from __future__ import annotations

import re

import pytest

from crm import sources
from crm.models import AuditEvent, Property, Record
from crm.services import schema as schema_services
from crm.services.records import archive_records, create_record

PROPERTIES = "/api/v1/object-types/contacts/properties/"
RECORDS = "/api/v1/objects/contacts/records/"


def contact(contacts, **properties):
    return create_record(object_type=contacts, properties=properties, source=sources.API)


def option_property(contacts, name: str, type: str, values: list[str]):
    """A property of contacts with options, labelled after its name."""
    return schema_services.create_property(
        object_type=contacts,
        name=name,
        label=name.capitalize(),
        type=type,
        options=[{"value": value} for value in values],
    )


@pytest.fixture
def tier(contacts):
    return option_property(contacts, "tier", "enumeration", ["gold", "silver", "bronze"])


@pytest.fixture
def channels(contacts):
    return option_property(contacts, "channels", "multiselect", ["mail", "phone", "chat"])


# --- unique on ------------------------------------------------------------------------------


def test_a_property_becomes_unique_and_then_refuses_duplicates(staff_api_client, contacts):
    contact(contacts, email="ada@example.com", firstname="Ada")
    contact(contacts, email="bob@example.com", firstname="Bob")

    response = staff_api_client.patch(f"{PROPERTIES}firstname/", {"unique": True}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["unique"] is True
    refused = staff_api_client.post(
        RECORDS, {"properties": {"email": "x@example.com", "firstname": "Ada"}}, format="json"
    )
    assert refused.status_code == 400
    assert "already used by record" in str(refused.json()["errors"]["properties"]["firstname"])


def test_unique_is_refused_with_the_duplicate_values_while_records_collide(
    staff_api_client, contacts
):
    for i in range(3):
        contact(contacts, email=f"ada{i}@example.com", firstname="Ada")
    for i in range(2):
        contact(contacts, email=f"bob{i}@example.com", firstname="Bob")
    contact(contacts, email="cy@example.com", firstname="Cy")
    # An archived record does not collide: uniqueness holds among active records.
    gone = contact(contacts, email="gone@example.com", firstname="Cy")
    archive_records(object_type=contacts, record_ids=[gone.pk], source=sources.API)
    audit_before = AuditEvent.objects.count()

    response = staff_api_client.patch(f"{PROPERTIES}firstname/", {"unique": True}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["duplicates"] == [{"value": "Ada", "records": 3}, {"value": "Bob", "records": 2}]
    assert body["duplicate_values"] == 2
    assert "'Ada' (3 records)" in body["errors"]["unique"][0]
    assert Property.objects.get(object_type=contacts, name="firstname").unique is False
    assert AuditEvent.objects.count() == audit_before


# --- unique off -----------------------------------------------------------------------------


def test_unique_can_be_switched_off_again(staff_api_client, contacts):
    prop = Property.objects.get(object_type=contacts, name="firstname")
    schema_services.update_property(prop=prop, changes={"unique": True})

    response = staff_api_client.patch(f"{PROPERTIES}firstname/", {"unique": False}, format="json")

    assert response.status_code == 200, response.json()
    contact(contacts, email="ada@example.com", firstname="Ada")
    contact(contacts, email="ada2@example.com", firstname="Ada")
    assert Record.objects.filter(properties__firstname="Ada").count() == 2


def test_contact_email_stays_unique(staff_api_client, contacts):
    response = staff_api_client.patch(f"{PROPERTIES}email/", {"unique": False}, format="json")

    assert response.status_code == 400
    assert "stays unique" in response.json()["errors"]["unique"][0]
    assert Property.objects.get(object_type=contacts, name="email").unique is True
    contact(contacts, email="ada@example.com")
    again = staff_api_client.post(
        RECORDS, {"properties": {"email": "ada@example.com"}}, format="json"
    )
    assert again.status_code == 400


# --- removing options -----------------------------------------------------------------------


def test_removing_an_option_records_hold_is_refused_with_their_number(
    staff_api_client, contacts, tier
):
    for i in range(3):
        contact(contacts, email=f"g{i}@example.com", tier="gold")
    contact(contacts, email="s@example.com", tier="silver")
    audit_before = AuditEvent.objects.count()

    response = staff_api_client.patch(
        f"{PROPERTIES}tier/", {"options": [{"value": "silver"}]}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["options_in_use"] == [{"value": "gold", "records": 3}]
    assert "'gold' (3 records)" in body["errors"]["options"][0]
    assert sorted(tier.options.values_list("value", flat=True)) == ["bronze", "gold", "silver"]
    assert Record.objects.filter(properties__tier="gold").count() == 3
    assert AuditEvent.objects.count() == audit_before
    # An option nobody holds goes without more ado.
    unheld = staff_api_client.patch(
        f"{PROPERTIES}tier/", {"options": [{"value": "gold"}, {"value": "silver"}]}, format="json"
    )
    assert unheld.status_code == 200, unheld.json()
    assert [o["value"] for o in unheld.json()["options"]] == ["gold", "silver"]


def test_records_move_to_the_option_named_in_replace_with(staff_api_client, contacts, tier):
    golds = [contact(contacts, email=f"g{i}@example.com", tier="gold") for i in range(2)]
    archived = contact(contacts, email="old@example.com", tier="gold")
    archive_records(object_type=contacts, record_ids=[archived.pk], source=sources.API)
    silver = contact(contacts, email="s@example.com", tier="silver")

    response = staff_api_client.patch(
        f"{PROPERTIES}tier/",
        {"options": [{"value": "silver"}, {"value": "bronze"}], "replace_with": {"gold": "silver"}},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert [o["value"] for o in response.json()["options"]] == ["silver", "bronze"]
    moved = [*golds, archived]
    for record in moved:
        record.refresh_from_db()
        assert record.properties["tier"] == "silver"
        assert record.property_changes["tier"]["source"] == sources.API
    # The recycle bin moved too, so a restored record can be saved again.
    assert not Record.objects.filter(properties__tier="gold").exists()
    updates = AuditEvent.objects.filter(verb="update", target_id__in=[r.pk for r in moved])
    assert sorted(updates.values_list("target_id", flat=True)) == sorted(r.pk for r in moved)
    assert updates.first().detail == {"changes": {"tier": ["gold", "silver"]}}
    summary = AuditEvent.objects.get(verb="replace_options")
    assert summary.detail == {"replaced": {"gold": "silver"}, "records": 3}
    silver.refresh_from_db()
    assert "tier" not in silver.property_changes or silver.property_changes["tier"]["at"]
    listed = staff_api_client.get(RECORDS, {"property.tier": "silver"})
    assert listed.status_code == 200
    assert len(listed.json()["results"]) == 3
    resaved = staff_api_client.patch(
        f"{RECORDS}{golds[0].pk}/", {"properties": {"firstname": "Ada"}}, format="json"
    )
    assert resaved.status_code == 200, resaved.json()


def test_multiselect_values_move_without_repeating_an_option(staff_api_client, contacts, channels):
    both = contact(contacts, email="both@example.com", channels=["mail", "phone"])
    mail = contact(contacts, email="mail@example.com", channels=["chat", "mail"])
    only = contact(contacts, email="only@example.com", channels=["mail"])

    response = staff_api_client.patch(
        f"{PROPERTIES}channels/",
        {"options": [{"value": "phone"}, {"value": "chat"}], "replace_with": {"mail": "phone"}},
        format="json",
    )

    assert response.status_code == 200, response.json()
    for record in (both, mail, only):
        record.refresh_from_db()
    assert both.properties["channels"] == ["phone"]
    assert mail.properties["channels"] == ["chat", "phone"]
    assert only.properties["channels"] == ["phone"]


def test_replace_with_null_clears_the_value(staff_api_client, contacts, tier, channels):
    record = contact(contacts, email="a@example.com", tier="gold", channels=["mail"])

    for name, options in (("tier", ["silver"]), ("channels", ["phone"])):
        old = "gold" if name == "tier" else "mail"
        response = staff_api_client.patch(
            f"{PROPERTIES}{name}/",
            {"options": [{"value": v} for v in options], "replace_with": {old: None}},
            format="json",
        )
        assert response.status_code == 200, response.json()

    record.refresh_from_db()
    assert "tier" not in record.properties and "channels" not in record.properties


@pytest.mark.parametrize(
    "replace_with, message",
    [
        ({"gold": "platinum"}, "can move only to a kept option"),
        ({"gold": "gold"}, "can move only to a kept option"),
        ({"silver": "bronze"}, "is not an option this change removes"),
    ],
)
def test_bad_replace_with_changes_nothing(staff_api_client, contacts, tier, replace_with, message):
    record = contact(contacts, email="g@example.com", tier="gold")
    audit_before = AuditEvent.objects.count()

    response = staff_api_client.patch(
        f"{PROPERTIES}tier/",
        {"options": [{"value": "silver"}, {"value": "bronze"}], "replace_with": replace_with},
        format="json",
    )

    assert response.status_code == 400
    assert message in response.json()["errors"]["replace_with"][0]
    record.refresh_from_db()
    assert record.properties["tier"] == "gold"
    assert tier.options.count() == 3
    assert AuditEvent.objects.count() == audit_before


def test_replace_with_needs_options_and_a_property_that_has_them(staff_api_client, contacts, tier):
    without = staff_api_client.patch(
        f"{PROPERTIES}tier/", {"replace_with": {"gold": "silver"}}, format="json"
    )
    assert without.status_code == 400
    assert "replace_with" in without.json()["errors"]
    text = staff_api_client.patch(
        f"{PROPERTIES}firstname/", {"options": [], "replace_with": {}}, format="json"
    )
    assert text.status_code == 400
    assert "replace_with" in text.json()["errors"]


# --- the admin form -------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def _change_form(staff_client, prop) -> tuple[str, dict]:
    url = f"/admin/crm/property/{prop.pk}/change/"
    html = staff_client.get(url).content.decode()
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    data.update(
        label=prop.label, group=prop.group, display_order=prop.display_order, description=""
    )
    options = list(prop.options.all())
    data["options-TOTAL_FORMS"] = len(options)
    data["options-INITIAL_FORMS"] = len(options)
    for i, option in enumerate(options):
        data.update(
            {
                f"options-{i}-id": option.pk,
                f"options-{i}-property": prop.pk,
                f"options-{i}-value": option.value,
                f"options-{i}-label": option.label,
                f"options-{i}-display_order": option.display_order,
            }
        )
    return url, data


def test_admin_refuses_to_remove_an_option_in_use_and_moves_records_when_told(
    staff_client, contacts, tier
):
    record = contact(contacts, email="g@example.com", tier="gold")
    url, data = _change_form(staff_client, tier)
    data["options-0-DELETE"] = "on"  # gold

    refused = staff_client.post(url, data, follow=True)

    assert "&#x27;gold&#x27; (1 records)" in refused.content.decode()
    assert tier.options.filter(value="gold").exists()
    record.refresh_from_db()
    assert record.properties["tier"] == "gold"

    data["replace_removed_options_with"] = "bronze"
    moved = staff_client.post(url, data)

    assert moved.status_code == 302
    assert not tier.options.filter(value="gold").exists()
    record.refresh_from_db()
    assert record.properties["tier"] == "bronze"
    assert AuditEvent.objects.get(verb="replace_options").actor is not None


def test_admin_switches_unique_on_only_without_duplicates(staff_client, contacts, tier):
    contact(contacts, email="a@example.com", tier="gold")
    contact(contacts, email="b@example.com", tier="gold")
    url, data = _change_form(staff_client, tier)
    data["unique"] = "on"

    refused = staff_client.post(url, data, follow=True)

    assert "active records share values: &#x27;gold&#x27; (2 records)" in refused.content.decode()
    tier.refresh_from_db()
    assert tier.unique is False


# --- racing writers (PostgreSQL: concurrent transactions) -----------------------------------


def _schema_lock_waiters(object_type) -> int:
    """Sessions of this database waiting for the object type's schema lock (two-key form)."""
    from django.db import connection

    from crm.schema import SCHEMA_LOCK_KEY

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid = %s AND objid = %s AND objsubid = 2",
            [SCHEMA_LOCK_KEY, object_type.pk],
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_switching_unique_on_waits_for_a_writer_that_loaded_the_old_schema():
    import threading

    from django.db import connection, transaction

    from crm.errors import SchemaError
    from crm.models import ObjectType
    from tests.support.schema import ensure_standard_schema
    from tests.support.waiting import wait_until

    ensure_standard_schema()
    contacts = ObjectType.objects.get(name="contacts")
    contact(contacts, email="ada@example.com", firstname="Ada")
    wrote, release, outcome = threading.Event(), threading.Event(), {}

    def writer():
        # A write in progress: it loaded the schema (firstname not unique) and has not committed.
        try:
            with transaction.atomic():
                contact(contacts, email="ada2@example.com", firstname="Ada")
                wrote.set()
                release.wait(60)
        finally:
            connection.close()

    def switch():
        try:
            prop = Property.objects.get(object_type=contacts, name="firstname")
            schema_services.update_property(prop=prop, changes={"unique": True})
            outcome["result"] = "unique"
        except SchemaError as exc:
            outcome["result"] = exc
        finally:
            connection.close()

    writing = threading.Thread(target=writer)
    writing.start()
    assert wrote.wait(60)
    switching = threading.Thread(target=switch)
    switching.start()
    try:
        # The schema change waits for the writer instead of checking without its record.
        wait_until(lambda: _schema_lock_waiters(contacts) == 1, timeout=60)
    finally:
        release.set()
        writing.join(60)
        switching.join(60)

    assert isinstance(outcome["result"], SchemaError), outcome
    assert outcome["result"].extra["duplicates"] == [{"value": "Ada", "records": 2}]
    assert Property.objects.get(object_type=contacts, name="firstname").unique is False
