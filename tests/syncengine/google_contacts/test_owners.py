"""Google Contacts has no owners (issue 19): a contact keeps its Concord owner through every
Google pull, no Users stage runs, and the settings page says so."""

from __future__ import annotations

import pytest

from crm.models import Owner
from syncengine.models import RemoteOwner
from tests.support.google_sandbox import cid, google_contact, person
from tests.support.sync import concord_contact
from tests.support.sync import person_stage_of as stage_of

pytestmark = pytest.mark.django_db


def test_a_google_pull_keeps_the_concord_owner(integration, google, contacts, run):
    # Given a contact owned in Concord and synced to Google
    owner = Owner.objects.create(name="Olga Owner", email="olga@example.com")
    record = concord_contact(
        contacts, firstname="Ada", lastname="Lovelace", email="ada@x.io", owner=owner.pk
    )
    run()
    # When the contact is changed in Google and pulled
    [remote] = [
        c for c in google.ok("GET", "contacts")["contacts"]
        if c["emailAddresses"][0]["value"] == "ada@x.io"
    ]  # fmt: skip
    google.ok("PATCH", f"contacts/{cid(remote)}", json={
        "names": [{"givenName": "Augusta", "familyName": "Lovelace"}],
        "emailAddresses": remote["emailAddresses"],
    })  # fmt: skip
    cycle = run()
    # Then the change arrives and the owner stays
    assert stage_of(cycle, "pull_updates").updated == 1
    record.refresh_from_db()
    assert record.properties["firstname"] == "Augusta"
    assert record.properties["owner"] == owner.pk
    # And no Users stage ran: Google has no users to read
    assert not cycle.stages.filter(operation="pull_users").exists()
    assert not RemoteOwner.objects.exists()


def test_a_contact_from_google_has_no_owner(integration, google, contacts, run):
    google_contact(google, person("Alan", "Turing", "alan@x.io"))
    run()
    record = contacts.records.get(properties__email="alan@x.io")
    assert "owner" not in record.properties


def test_the_settings_page_says_owners_do_not_sync(integration, admin_client):
    page = admin_client.get(f"/admin/syncengine/integration/{integration.pk}/google-sync/")
    html = page.content.decode()
    note = html[html.index('id="owners-note"') :]
    assert "Google Contacts has no record owners, so owners do not sync" in note
    assert "never clear or change a contact" in note
