"""Google's sync answers lag writes by minutes ("Writes may have a propagation delay of several
minutes for sync requests"): a contact Concord wrote shows up late, or first as an older
version, and must neither come back as a duplicate nor undo a newer edit (issue 14)."""

from __future__ import annotations

import pytest

from crm.models import Record
from crm.services.records import update_record
from syncengine.models import RecordLink, SyncCycle
from tests.support.google_sandbox import google_people
from tests.support.sync import concord_contact
from tests.support.sync import person_stage_of as stage_of

pytestmark = pytest.mark.django_db


def advance(google, seconds: float) -> None:
    google.ok("POST", "clock/advance", json={"seconds": seconds})


def test_a_contact_written_by_concord_shows_in_sync_answers_minutes_later(
    integration, google, contacts, run, sync_now
):
    assert google.ok("GET", "limits")["propagation_delay_seconds"] == 120  # on by default
    grace = concord_contact(contacts, firstname="Grace", lastname="Hopper", email="grace@x.io")
    first = run()  # Grace is created in Google (at T)
    assert stage_of(first, "push_new").new == 1
    [link] = RecordLink.objects.filter(record=grace)
    # A minute later Concord changes her and "Sync now" runs: Google's sync answer does not
    # show her yet, so nothing is pulled, nothing created twice, and the change is pushed.
    advance(google, 60)
    update_record(record=grace, properties={"jobtitle": "Rear Admiral"}, source="user")
    second = sync_now()
    assert second.status == SyncCycle.Status.SUCCESS, second.message
    assert (stage_of(second, "pull_updates").new, stage_of(second, "push_new").new) == (0, 0)
    assert stage_of(second, "push_updates").updated == 1
    # The Google user then adds her city.
    advance(google, 10)
    remote_id = link.remote_id.split("/")[1]
    google.ok("PATCH", f"contacts/{remote_id}", json={"addresses": [{"city": "Arlington"}]})
    # 70 s on, Google's sync answer shows Concord's first write (T) but not the later ones:
    # an older version than Concord last wrote, which must not undo the job title.
    advance(google, 70)
    third = sync_now()
    assert third.status == SyncCycle.Status.SUCCESS, third.message
    grace.refresh_from_db()
    assert grace.properties["jobtitle"] == "Rear Admiral"
    # Minutes later everything has propagated: one Grace on each side, both edits kept.
    fourth = run()
    assert fourth.status == SyncCycle.Status.SUCCESS, fourth.message
    grace.refresh_from_db()
    assert (grace.properties["jobtitle"], grace.properties["city"]) == ("Rear Admiral", "Arlington")
    assert Record.objects.filter(object_type=contacts).count() == 1
    people = google_people(google)
    assert list(people) == ["grace@x.io"]
    assert people["grace@x.io"]["organizations"][0]["title"] == "Rear Admiral"
    assert people["grace@x.io"]["addresses"][0]["city"] == "Arlington"
    assert RecordLink.objects.filter(integration=integration).count() == 1
    # And nothing is left to do.
    fifth = run()
    assert stage_of(fifth, "push_updates").updated == 0
    assert stage_of(fifth, "pull_updates").updated == 0
