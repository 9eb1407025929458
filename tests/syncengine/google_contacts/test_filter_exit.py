"""A contact that leaves the Google-side filter (SPEC G-3) stops syncing both ways, its link kept
dormant; back in the filter it resumes, without a duplicate on either side. Against the People
API sandbox, where unstarring a contact puts it in the next sync answer with its memberships."""

from __future__ import annotations

import pytest

from crm.models import Record
from crm.services.records import update_record
from syncengine.models import ObjectMapping, RecordLink, SyncCycle
from syncengine.services.google_contacts import configure_sync
from tests.support.google_sandbox import cid, google_contact, google_people, person
from tests.support.sync import concord_contact
from tests.support.sync import person_stage_of as stage_of

pytestmark = pytest.mark.django_db


def google_title(google, email: str) -> str | None:
    orgs = google_people(google)[email].get("organizations") or [{}]
    return orgs[0].get("title")


def google_city(google, email: str) -> str | None:
    addresses = google_people(google)[email].get("addresses") or [{}]
    return addresses[0].get("city")


def test_a_contact_that_leaves_the_filter_is_left_alone_both_ways_until_it_comes_back(
    integration, google, contacts, run
):
    configure_sync(integration=integration, sync_rule="filters", filters=["starred"])
    ada = google_contact(google, person("Ada", "Lovelace", "ada@x.io"), starred=True)
    assert run().status == SyncCycle.Status.SUCCESS
    record = Record.objects.get(object_type=contacts, properties__email="ada@x.io")
    link = RecordLink.objects.get(record=record)
    assert not link.dormant

    # Unstarred in Google: the sync answer shows it with its memberships; it left the filter.
    google.ok("POST", f"contacts/{cid(ada)}/unstar")
    cycle = run()
    assert cycle.status == SyncCycle.Status.SUCCESS, cycle.message
    link.refresh_from_db()
    record.refresh_from_db()
    assert link.dormant and link.remote_deleted_at is None
    assert record.archived_at is None  # not archived in Concord
    assert "left the filter" in stage_of(cycle, "pull_updates").message

    # Edits on both sides while it is dormant: neither pulled nor pushed; nothing deleted.
    google.ok(
        "PATCH",
        f"contacts/{cid(ada)}",
        json={"organizations": [{"title": "Countess"}]},
    )
    update_record(record=record, properties={"city": "London"}, source="user")
    for _ in range(2):
        cycle = run()
        assert cycle.status == SyncCycle.Status.SUCCESS, cycle.message
        assert stage_of(cycle, "push_updates").updated == 0
    record.refresh_from_db()
    assert not record.properties.get("jobtitle")
    assert record.archived_at is None
    assert google_city(google, "ada@x.io") is None
    assert google_title(google, "ada@x.io") == "Countess"
    assert len(google_people(google)) == 1

    # Starred again: the link resumes and both sides' changes are merged; no duplicate.
    google.ok("POST", f"contacts/{cid(ada)}/star")
    cycle = run()
    assert cycle.status == SyncCycle.Status.SUCCESS, cycle.message
    assert "came back into the filter" in stage_of(cycle, "pull_updates").message
    link.refresh_from_db()
    record.refresh_from_db()
    assert not link.dormant
    assert record.properties["jobtitle"] == "Countess"
    assert google_city(google, "ada@x.io") == "London"
    assert Record.objects.filter(object_type=contacts, properties__email="ada@x.io").count() == 1
    assert RecordLink.objects.filter(integration=integration).count() == 1
    assert list(google_people(google)) == ["ada@x.io"]
    assert stage_of(cycle, "pull_updates").new == 0 and stage_of(cycle, "push_new").new == 0
    # And it syncs as before: a Concord change goes out again.
    update_record(record=record, properties={"city": "Paris"}, source="user")
    run()
    assert google_city(google, "ada@x.io") == "Paris"


def test_a_deleted_dormant_contact_archives_nothing_and_new_concord_contacts_keep_syncing(
    integration, google, contacts, run
):
    configure_sync(integration=integration, sync_rule="filters", filters=["starred"])
    grace = google_contact(google, person("Grace", "Hopper", "grace@x.io"), starred=True)
    run()
    google.ok("POST", f"contacts/{cid(grace)}/unstar")
    run()
    # Deleted in Google while outside the filter: nothing syncs, so nothing is archived.
    google.ok("DELETE", f"contacts/{cid(grace)}")
    assert run().status == SyncCycle.Status.SUCCESS
    record = Record.objects.get(object_type=contacts, properties__email="grace@x.io")
    assert record.archived_at is None
    assert RecordLink.objects.get(record=record).dormant
    # A contact Concord creates in Google is not starred (filters add nothing to lists) and
    # was never inside the filter: it keeps receiving Concord's changes.
    new = concord_contact(contacts, firstname="New", lastname="One", email="new@x.io")
    run()
    run()
    assert not RecordLink.objects.get(record=new).dormant
    update_record(record=new, properties={"city": "Oslo"}, source="user")
    run()
    assert google_city(google, "new@x.io") == "Oslo"


def test_choosing_filters_relists_so_contacts_outside_them_go_dormant(
    integration, google, contacts, run
):
    google_contact(google, person("Star", "One", "star@x.io"), starred=True)
    google.ok("POST", "contacts", json=person("Plain", "Two", "plain@x.io"))
    run()  # two-way: both linked
    assert RecordLink.objects.filter(integration=integration, dormant=False).count() == 2
    configure_sync(integration=integration, sync_rule="filters", filters=["starred"])
    assert ObjectMapping.objects.get(integration=integration).pull_cursor == ""
    assert run().status == SyncCycle.Status.SUCCESS
    plain = Record.objects.get(object_type=contacts, properties__email="plain@x.io")
    assert RecordLink.objects.get(record=plain).dormant
    update_record(record=plain, properties={"city": "Rome"}, source="user")
    run()
    assert google_city(google, "plain@x.io") is None
    # Back to two-way: everything is listed again and the dormant link resumes.
    configure_sync(integration=integration, sync_rule="two_way")
    run()
    assert not RecordLink.objects.get(record=plain).dormant
    run()
    assert google_city(google, "plain@x.io") == "Rome"
    assert len(google_people(google)) == 2


def test_the_settings_page_explains_what_happens_when_a_contact_leaves_the_filters(
    integration, admin_client
):
    page = admin_client.get(f"/admin/syncengine/integration/{integration.pk}/google-sync/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "it stops syncing in both directions" in text
    assert "Nothing is deleted or archived" in text
    assert "with no duplicate" in text
