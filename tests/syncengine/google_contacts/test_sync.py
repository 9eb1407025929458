"""Two-way Google Contacts sync against the People API sandbox (SPEC G-1…G-4, G-6)."""

from __future__ import annotations

import pytest

from crm.models import Record
from crm.services.records import update_record
from syncengine.models import FieldMapping, Integration, ObjectMapping, RecordLink, SyncCycle
from tests.support.google_sandbox import cid, google_contact, google_people, person
from tests.support.sync import concord_contact
from tests.support.sync import person_stage_of as stage_of

pytestmark = pytest.mark.django_db


def test_connecting_goes_through_consent_and_creates_the_locked_default_mappings(integration):
    assert integration.kind == Integration.Kind.GOOGLE_CONTACTS
    assert integration.status == Integration.Status.ACTIVE
    assert integration.remote_user_id == "sandbox.user@gmail.com"
    assert integration.refresh_token_encrypted and "ya29" not in integration.access_token_encrypted
    om = ObjectMapping.objects.get(integration=integration)
    assert (om.object_type.name, om.remote_object) == ("contacts", "Person")
    defaults = FieldMapping.objects.filter(object_mapping=om, is_default=True)
    assert sorted(defaults.values_list("remote_field", flat=True)) == sorted(
        [
            "givenName", "familyName", "email", "phone", "mobilePhone", "fax", "company",
            "jobTitle", "streetAddress", "city", "postalCode",
        ]
    )  # fmt: skip


def test_first_two_way_sync_creates_both_ways_and_merges_matches_by_email(
    integration, google, contacts, run
):
    only_here = concord_contact(contacts, firstname="Grace", lastname="Hopper", email="grace@x.io")
    both = concord_contact(
        contacts, firstname="Ada", lastname="Lovelace", email="ada@x.io", jobtitle="CTO"
    )
    google.ok("POST", "contacts", json=person("Alan", "Turing", "alan@x.io"))
    google.ok(
        "POST",
        "contacts",
        json=person(
            "Adaline", "Lovelace", "ADA@x.io", phoneNumbers=[{"value": "+44 1", "type": "home"}]
        ),
    )
    cycle = run()
    assert cycle.status == SyncCycle.Status.SUCCESS, cycle.message
    assert stage_of(cycle, "pull_updates").new == 1  # Alan
    assert stage_of(cycle, "push_new").new == 1  # Grace
    people = google_people(google)
    # Concord's spelling of the shared address won the conflict like any other field.
    assert set(people) == {"alan@x.io", "ada@x.io", "grace@x.io"}
    # Grace carries her Concord id, so a lost create answer cannot duplicate her.
    assert {"key": "concordId", "value": str(only_here.pk)} in [
        {"key": d["key"], "value": d["value"]} for d in people["grace@x.io"]["clientData"]
    ]
    # Matched by email (case-insensitively) and merged: Concord wins the conflict (the
    # default), empty fields are filled from whichever side has a value.
    both.refresh_from_db()
    assert both.properties["firstname"] == "Ada"
    assert both.properties["phone"] == "+44 1"
    ada = people["ada@x.io"]
    assert ada["names"][0]["givenName"] == "Ada"
    assert ada["organizations"][0]["title"] == "CTO"
    alan = Record.objects.get(object_type=contacts, properties__email="alan@x.io")
    assert alan.properties["firstname"] == "Alan"
    assert RecordLink.objects.filter(integration=integration).count() == 3
    # A second cycle finds nothing to do.
    again = run()
    assert stage_of(again, "pull_updates").new == 0
    assert stage_of(again, "push_updates").updated == 0
    assert len(google_people(google)) == 3


def test_google_wins_conflicts_when_chosen_but_never_clears_with_a_blank(
    integration, google, contacts, run
):
    from syncengine.services.google_contacts import configure_sync

    configure_sync(integration=integration, sync_rule="two_way", conflict_winner="google")
    record = concord_contact(
        contacts, firstname="Ada", lastname="Lovelace", email="ada@x.io", city="London"
    )
    google.ok("POST", "contacts", json=person("Adaline", "Byron", "ada@x.io"))
    assert run().status == SyncCycle.Status.SUCCESS
    record.refresh_from_db()
    assert (record.properties["firstname"], record.properties["lastname"]) == ("Adaline", "Byron")
    # Google has no city: Concord's is kept and sent.
    assert record.properties["city"] == "London"
    assert google_people(google)["ada@x.io"]["addresses"][0]["city"] == "London"


@pytest.mark.parametrize(
    ("rule", "google_created_here", "concord_created_there"),
    [("to_google", False, True), ("from_google", True, False)],
)
def test_one_way_rules(
    integration, google, contacts, run, rule, google_created_here, concord_created_there
):
    from syncengine.services.google_contacts import configure_sync

    configure_sync(integration=integration, sync_rule=rule)
    concord_contact(contacts, firstname="Grace", email="grace@x.io")
    google.ok("POST", "contacts", json=person("Alan", "Turing", "alan@x.io"))
    assert run().status == SyncCycle.Status.SUCCESS
    assert Record.objects.filter(properties__email="alan@x.io").exists() is google_created_here
    assert ("grace@x.io" in google_people(google)) is concord_created_there


def test_sync_rules_are_validated_and_a_bad_choice_changes_nothing(integration):
    from django.core.exceptions import ValidationError

    from syncengine.services.google_contacts import configure_sync

    before = dict(integration.settings)
    for kwargs in (
        {"sync_rule": "sideways"},
        {"sync_rule": "filters", "filters": []},
        {"sync_rule": "filters", "filters": ["favourites"]},
        {"sync_rule": "two_way", "filters": ["starred"]},
        {"sync_rule": "two_way", "conflict_winner": "newest"},
    ):
        with pytest.raises(ValidationError):
            configure_sync(integration=integration, **kwargs)
    integration.refresh_from_db()
    assert integration.settings == before
    assert ObjectMapping.objects.get(integration=integration).direction == "two_way"


def test_starred_filter_syncs_only_starred_contacts_and_never_other_contacts_or_trash(
    integration, google, contacts, run
):
    from syncengine.services.google_contacts import configure_sync

    configure_sync(integration=integration, sync_rule="filters", filters=["starred"])
    google_contact(google, person("Star", "One", "star@x.io"), starred=True)
    google.ok("POST", "contacts", json=person("Plain", "Two", "plain@x.io"))
    trashed = google_contact(google, person("Gone", "T", "gone@x.io"), starred=True)
    google.ok("DELETE", f"contacts/{cid(trashed)}")
    google.ok("POST", "other-contacts", json=person("Other", "Three", "other@x.io"))
    cycle = run()
    assert cycle.status == SyncCycle.Status.SUCCESS, cycle.message
    emails = set(
        Record.objects.filter(object_type=contacts).values_list("properties__email", flat=True)
    )
    assert emails == {"star@x.io"}
    assert stage_of(cycle, "pull_updates").skipped >= 1  # "plain" was left out by the filter
    # Filters add nothing to lists: Concord's new contacts are not starred in Google.
    concord_contact(contacts, firstname="New", email="new@x.io")
    run()
    new = google_people(google)["new@x.io"]
    groups = {m["contactGroupMembership"]["contactGroupResourceName"] for m in new["memberships"]}
    assert "contactGroups/starred" not in groups


def test_my_contacts_filter_leaves_out_contacts_outside_the_contacts_group(
    integration, google, contacts, run
):
    from syncengine.services.google_contacts import configure_sync

    configure_sync(integration=integration, sync_rule="filters", filters=["my_contacts"])
    google.ok("POST", "contacts", json=person("In", "Contacts", "in@x.io"))
    group = google.service_for_token(google.mint_token()["access_token"]).contactGroups()
    label = group.create(body={"contactGroup": {"name": "Label only"}}).execute()
    outside = person("Label", "Only", "label@x.io")
    outside["memberships"] = [
        {"contactGroupMembership": {"contactGroupResourceName": label["resourceName"]}}
    ]
    google.ok("POST", "contacts", json=outside)
    assert run().status == SyncCycle.Status.SUCCESS
    emails = set(
        Record.objects.filter(object_type=contacts).values_list("properties__email", flat=True)
    )
    assert emails == {"in@x.io"}


def test_incremental_pull_reads_only_what_changed_and_an_expired_token_lists_again(
    integration, google, contacts, run
):
    google.ok("POST", "fill", json={"count": 30, "prefix": "seed"})
    first = run()
    assert stage_of(first, "pull_updates").new == 30
    om = ObjectMapping.objects.get(integration=integration)
    assert om.pull_cursor
    target = next(
        c for c in google.ok("GET", "contacts")["contacts"]
        if c["emailAddresses"][0]["value"] == "seed7@example.com"
    )  # fmt: skip
    google.ok("PATCH", f"contacts/{cid(target)}", json={
        "names": [{"givenName": "Renamed", "familyName": "00007"}],
        "emailAddresses": target["emailAddresses"],
    })  # fmt: skip
    second = run()
    pulled = stage_of(second, "pull_updates")
    assert (pulled.new, pulled.updated) == (0, 1)
    assert Record.objects.get(properties__email="seed7@example.com").properties["firstname"] == (
        "Renamed"
    )
    # An expired sync token: Google asks for a full listing; nothing is duplicated.
    google.ok("POST", "sync-tokens/expire")
    third = run()
    assert third.status == SyncCycle.Status.SUCCESS, third.message
    assert stage_of(third, "pull_updates").new == 0
    assert Record.objects.filter(object_type=contacts).count() == 30
    assert ObjectMapping.objects.get(pk=om.pk).pull_cursor != om.pull_cursor


def test_a_contact_deleted_in_google_goes_to_the_recycle_bin(integration, google, contacts, run):
    created = google.ok("POST", "contacts", json=person("Del", "Me", "del@x.io"))
    run()
    record = Record.objects.get(properties__email="del@x.io")
    google.ok("DELETE", f"contacts/{cid(created)}")
    cycle = run()
    assert stage_of(cycle, "pull_deletes").deleted == 1
    record.refresh_from_db()
    assert record.archived_at is not None
    link = RecordLink.objects.get(record=record)
    assert link.remote_deleted_at is not None


def test_concord_changes_are_pushed_onto_the_latest_contact(integration, google, contacts, run):
    record = concord_contact(contacts, firstname="Ada", email="ada@x.io")
    run()
    update_record(record=record, properties={"jobtitle": "Engineer"}, source="user")
    cycle = run()
    assert stage_of(cycle, "push_updates").updated == 1
    assert google_people(google)["ada@x.io"]["organizations"][0]["title"] == "Engineer"


def post_connect_google_form(admin_client, google):
    """Staff fill in the admin's connect-Google form for the sandbox and send it."""
    return admin_client.post(
        "/admin/syncengine/integration/connect-google/",
        {
            "name": "Team Google",
            "oauth_url": google.url.rstrip("/"),
            "api_endpoint": google.url,
            "client_id": "concord-sandbox.apps.googleusercontent.com",
            "client_secret": "sandbox-secret",
        },
    )


def test_staff_connect_google_from_the_admin_through_the_consent_page(
    google, crm_schema, admin_client
):
    from urllib.parse import parse_qs, urlparse

    form = admin_client.get("/admin/syncengine/integration/connect-google/")
    assert form.status_code == 200 and b"Continue to Google" in form.content
    answer = post_connect_google_form(admin_client, google)
    assert answer.status_code == 302
    consent_url = answer["Location"]
    params = {k: v[0] for k, v in parse_qs(urlparse(consent_url).query).items()}
    assert params["scope"] == "https://www.googleapis.com/auth/contacts"  # contacts only
    assert params["access_type"] == "offline"
    # The user allows access on Google's consent page, which sends the browser back.
    allowed = google.session().post(
        consent_url.split("?")[0], data={**params, "action": "allow"}, allow_redirects=False
    )
    back = urlparse(allowed.headers["Location"])
    done = admin_client.get(f"{back.path}?{back.query}")
    integration = Integration.objects.get(kind=Integration.Kind.GOOGLE_CONTACTS)
    assert done.status_code == 302 and done["Location"].endswith(f"/{integration.pk}/change/")
    assert integration.name == "Team Google" and integration.refresh_token_encrypted
    assert FieldMapping.objects.filter(object_mapping__integration=integration).count() == 11


def test_a_denied_consent_connects_nothing(google, crm_schema, admin_client):
    from urllib.parse import parse_qs, urlparse

    answer = post_connect_google_form(admin_client, google)
    params = {k: v[0] for k, v in parse_qs(urlparse(answer["Location"]).query).items()}
    denied = google.session().post(
        answer["Location"].split("?")[0], data={**params, "action": "deny"}, allow_redirects=False
    )
    back = urlparse(denied.headers["Location"])
    page = admin_client.get(f"{back.path}?{back.query}", follow=True)
    assert b"Google did not grant access" in page.content
    assert not Integration.objects.exists()


def test_a_refused_access_token_is_refreshed_through_the_token_store(integration, run, contacts):
    from syncengine import crypto

    Integration.objects.filter(pk=integration.pk).update(
        access_token_encrypted=crypto.encrypt("ya29.expired")
    )
    concord_contact(contacts, firstname="Ada", lastname="L", email="ada@x.io")
    cycle = run()
    assert cycle.status == "success", cycle.message
    integration.refresh_from_db()
    assert crypto.decrypt(integration.access_token_encrypted) not in ("", "ya29.expired")
    assert integration.status == "active"
    # The refreshed token is the one the next cycle uses: no second refresh needed
    assert run().status == "success"


def test_a_dead_refresh_token_needs_reconnection(integration, run, contacts):
    from syncengine import crypto

    Integration.objects.filter(pk=integration.pk).update(
        access_token_encrypted=crypto.encrypt("ya29.expired"),
        refresh_token_encrypted=crypto.encrypt("1//revoked"),
    )
    cycle = run()
    assert cycle.status == "failed"
    assert "authentication failed" in cycle.message
    integration.refresh_from_db()
    assert integration.status == "needs_reconnect"
