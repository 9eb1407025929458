"""The mass-delete guard (SPEC L-5): screen_deletes holds a stage's deletes above the mapping's
threshold, confirmed ones pass once, and confirming or discarding loses nothing either way."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from crm.models import AuditEvent, Record
from crm.services.records import archive_records, restore_records
from notifications.models import Notification
from syncengine.engine.guard import screen_deletes
from syncengine.errors import HeldDeleteRefused, InvalidMassDeleteThreshold
from syncengine.models import HeldDelete, RecordLink
from syncengine.services.held_deletes import (
    confirm_held_deletes,
    discard_held_deletes,
    set_mass_delete_threshold,
)
from tests.factories import IntegrationFactory, ObjectMappingFactory, UserFactory
from tests.support.lifecycle import link_records
from tests.support.roles import ROLES, grant_role

pytestmark = pytest.mark.django_db

PULL, PUSH = "pull", "push"


@pytest.fixture
def om(contacts):
    """A contacts mapping that holds more than 2 deletes of 10 linked records (or 10 %)."""
    mapping = ObjectMappingFactory(
        integration=IntegrationFactory(name="Acme org"),
        object_type=contacts,
        mass_delete_minimum=2,
    )
    return mapping


def held(om, direction=PULL, status="held") -> int:
    return HeldDelete.objects.filter(object_mapping=om, direction=direction, status=status).count()


def test_defaults_are_ten_percent_and_500(contacts):
    mapping = ObjectMappingFactory(object_type=contacts)
    assert mapping.mass_delete_share == Decimal("0.10") and mapping.mass_delete_minimum == 500


@pytest.mark.parametrize("direction", [PULL, PUSH])
def test_at_the_threshold_every_delete_passes(om, direction):
    links = link_records(om, 10)

    assert screen_deletes(om, direction=direction, links=links[:2]) == links[:2]
    assert not HeldDelete.objects.exists()


@pytest.mark.parametrize("direction", [PULL, PUSH])
def test_above_the_threshold_all_are_held_and_withheld(om, direction):
    links = link_records(om, 10)

    assert screen_deletes(om, direction=direction, links=links[:3]) == []

    rows = list(HeldDelete.objects.order_by("pk"))
    assert [h.link_id for h in rows] == [link.pk for link in links[:3]]
    assert {h.status for h in rows} == {"held"} and {h.direction for h in rows} == {direction}
    assert [h.label for h in rows] == ["Pat0 Doe", "Pat1 Doe", "Pat2 Doe"]
    assert rows[0].remote_id == links[0].remote_id and rows[0].record_id == links[0].record_id


def test_the_share_of_linked_records_counts_when_above_the_minimum(om):
    set_mass_delete_threshold(object_mapping=om, share="0.5", minimum=0)
    links = link_records(om, 10)

    assert screen_deletes(om, direction=PULL, links=links[:5]) == links[:5]
    assert screen_deletes(om, direction=PULL, links=links[:6]) == []
    assert held(om) == 6


def test_a_second_call_does_not_hold_twice_nor_notify_again(om, django_capture_on_commit_callbacks):
    grant_role(UserFactory(is_staff=True), ROLES.ADMIN)
    links = link_records(om, 10)
    with django_capture_on_commit_callbacks(execute=True):
        screen_deletes(om, direction=PULL, links=links[:3])
        # The same candidates again (the next cycle saw them again), plus one below the limit.
        again = screen_deletes(om, direction=PULL, links=[*links[:3], links[3]])

    assert again == [links[3]]
    assert held(om) == 3 and HeldDelete.objects.count() == 3
    assert Notification.objects.filter(kind="mass_delete_held").count() == 1


def test_holds_of_one_direction_do_not_withhold_the_other(om):
    links = link_records(om, 10)
    screen_deletes(om, direction=PUSH, links=links[:3])

    assert screen_deletes(om, direction=PULL, links=links[:1]) == links[:1]


def test_admins_are_notified_with_integration_mapping_direction_and_count(
    om, django_capture_on_commit_callbacks
):
    admin = grant_role(UserFactory(is_staff=True, email="ada@example.com"), ROLES.ADMIN)
    user = grant_role(UserFactory(), ROLES.USER)
    links = link_records(om, 10)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        screen_deletes(om, direction=PULL, links=links[:4])
    assert not Notification.objects.exists()  # only once the hold commits
    for callback in callbacks:
        callback()

    notice = Notification.objects.get(kind="mass_delete_held")
    assert notice.user == admin and not Notification.objects.filter(user=user).exists()
    assert notice.title == "Mass delete held: 4 pull deletes of Acme org"
    assert "Salesforce deleted 4 Contact records" in notice.body
    assert "mapping contacts ↔ Contact, direction pull" in notice.body
    assert notice.link == f"/admin/syncengine/integration/{om.integration_id}/health/"
    [email] = mail.outbox
    assert email.to == ["ada@example.com"] and email.subject == notice.title
    assert "Acme org" in email.subject and "contacts ↔ Contact" in email.body


def test_push_notice_says_concord_archived(om, django_capture_on_commit_callbacks):
    grant_role(UserFactory(is_staff=True), ROLES.ADMIN)
    links = link_records(om, 10)
    with django_capture_on_commit_callbacks(execute=True):
        screen_deletes(om, direction=PUSH, links=links[:3])

    body = Notification.objects.get(kind="mass_delete_held").body
    assert body.startswith("Concord archived 3 records of contacts")
    assert "delete them in Salesforce" in body


def test_1000_held_pull_deletes_confirmed_archive_every_record(contacts):
    om = ObjectMappingFactory(object_type=contacts)  # defaults: 10 %, at least 500
    admin = grant_role(UserFactory(is_staff=True), ROLES.ADMIN)
    links = link_records(om, 2000)
    gone = links[:1000]

    assert screen_deletes(om, direction=PULL, links=gone) == []
    assert held(om) == 1000 and not Record.objects.filter(archived_at__isnull=False).exists()

    result = confirm_held_deletes(
        integration=om.integration, object_mapping_id=om.pk, direction=PULL, actor=admin
    )

    assert result == {"confirmed": 1000, "archived": 1000}
    gone_ids = {link.record_id for link in gone}
    archived = set(Record.objects.filter(archived_at__isnull=False).values_list("pk", flat=True))
    assert archived == gone_ids  # every one archived, none other
    assert Record.objects.count() == 2000  # none lost: all restorable from the bin
    assert (
        RecordLink.objects.filter(pk__in=[k.pk for k in gone], remote_deleted_at__isnull=False)
    ).count() == 1000
    assert not RecordLink.objects.filter(
        pk__in=[k.pk for k in links[1000:]], remote_deleted_at__isnull=False
    ).exists()
    assert held(om) == 0 and held(om, status="applied") == 1000
    # Archived as the integration's change, so the change hook does not echo it back.
    source = f"integration:{om.integration_id}"
    assert AuditEvent.objects.filter(verb="archive", source=source).count() == 1000
    decision = AuditEvent.objects.get(verb="confirm_held_deletes")
    assert decision.actor == admin and decision.detail["count"] == 1000


def test_1000_held_pull_deletes_discarded_keep_every_record(contacts):
    om = ObjectMappingFactory(object_type=contacts)
    links = link_records(om, 2000)
    screen_deletes(om, direction=PULL, links=links[:1000])

    result = discard_held_deletes(
        integration=om.integration, object_mapping_id=om.pk, direction=PULL
    )

    assert result == {"discarded": 1000}
    assert not Record.objects.filter(archived_at__isnull=False).exists()
    assert Record.objects.count() == 2000
    # Unlinked and queued, so the two-way mapping creates them again remotely.
    assert not RecordLink.objects.filter(pk__in=[k.pk for k in links[:1000]]).exists()
    queued = RecordLink.objects.filter(object_mapping=om, remote_id__isnull=True, dirty=True)
    assert set(queued.values_list("record_id", flat=True)) == {k.record_id for k in links[:1000]}
    assert RecordLink.objects.filter(remote_id__isnull=False).count() == 1000  # the others
    assert held(om, status="discarded") == 1000
    assert AuditEvent.objects.filter(verb="discard_held_deletes").count() == 1


def test_discarded_pull_deletes_of_a_pulling_only_mapping_are_not_queued(om):
    om.direction = "from_remote"
    om.save()
    links = link_records(om, 10)
    screen_deletes(om, direction=PULL, links=links[:3])

    discard_held_deletes(integration=om.integration, object_mapping_id=om.pk, direction=PULL)

    assert RecordLink.objects.count() == 7 and Record.objects.count() == 10


def test_confirmed_push_deletes_pass_the_next_stage_once(om):
    links = link_records(om, 10)
    archive_records(
        object_type=om.object_type, record_ids=[k.record_id for k in links[:3]], source="api"
    )
    screen_deletes(om, direction=PUSH, links=links[:3])

    confirm_held_deletes(integration=om.integration, object_mapping_id=om.pk, direction=PUSH)

    assert held(om, PUSH, "confirmed") == 3
    assert Record.objects.filter(archived_at__isnull=True).count() == 7  # nothing else touched
    assert screen_deletes(om, direction=PUSH, links=links[:3]) == links[:3]
    assert held(om, PUSH, "applied") == 3 and held(om, PUSH, "confirmed") == 0


def test_discarded_push_deletes_keep_both_records(om):
    links = link_records(om, 10)
    archive_records(
        object_type=om.object_type, record_ids=[k.record_id for k in links[:3]], source="api"
    )
    RecordLink.objects.filter(pk__in=[k.pk for k in links[:3]]).update(pending_op="delete")
    screen_deletes(om, direction=PUSH, links=links[:3])

    discard_held_deletes(integration=om.integration, object_mapping_id=om.pk, direction=PUSH)

    assert held(om, PUSH, "discarded") == 3
    # The links stay (the remote records stay linked); the Concord records stay archived.
    assert RecordLink.objects.filter(pk__in=[k.pk for k in links[:3]]).count() == 3
    assert Record.objects.filter(archived_at__isnull=False).count() == 3
    assert not RecordLink.objects.filter(pending_op="delete").exists()


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"object_mapping_id": 0, "direction": PULL}, "object_mapping"),
        ({"object_mapping_id": "1", "direction": PULL}, "object_mapping"),
        ({"object_mapping_id": None, "direction": "sideways"}, "direction"),
    ],
)
def test_bad_decisions_are_refused_and_change_nothing(om, kwargs, field):
    links = link_records(om, 10)
    screen_deletes(om, direction=PULL, links=links[:3])

    with pytest.raises(HeldDeleteRefused) as refused:
        confirm_held_deletes(integration=om.integration, **kwargs)

    assert refused.value.field == field and held(om) == 3


def test_nothing_held_is_refused(om):
    with pytest.raises(HeldDeleteRefused):
        discard_held_deletes(integration=om.integration, object_mapping_id=om.pk, direction=PUSH)


def test_another_integrations_mapping_is_refused(om):
    links = link_records(om, 10)
    screen_deletes(om, direction=PULL, links=links[:3])
    other = IntegrationFactory()

    with pytest.raises(HeldDeleteRefused):
        confirm_held_deletes(integration=other, object_mapping_id=om.pk, direction=PULL)
    assert held(om) == 3


@pytest.mark.parametrize(
    "share, minimum",
    [(0, None), ("1.5", None), ("-0.1", None), ("abc", None), ("0.12345", None), (None, -1),
     (None, "5"), (None, 1.5), (True, None), ("nan", None)],
)  # fmt: skip
def test_bad_thresholds_are_refused_and_change_nothing(om, share, minimum):
    with pytest.raises(InvalidMassDeleteThreshold):
        set_mass_delete_threshold(object_mapping=om, share=share, minimum=minimum)

    om.refresh_from_db()
    assert om.mass_delete_share == Decimal("0.10") and om.mass_delete_minimum == 2
    assert not AuditEvent.objects.filter(verb="set_mass_delete_threshold").exists()


def test_thresholds_are_saved_and_audited(om):
    set_mass_delete_threshold(object_mapping=om, share="1", minimum=0)

    om.refresh_from_db()
    assert om.mass_delete_share == Decimal("1") and om.mass_delete_minimum == 0
    event = AuditEvent.objects.get(verb="set_mass_delete_threshold")
    assert event.detail["before"] == {"share": "0.1000", "minimum": 2}
    assert event.detail["after"] == {"share": "1.0000", "minimum": 0}


def test_restoring_records_whose_push_deletes_are_held_calls_the_holds_off(om):
    links = link_records(om, 10)
    ids = [k.record_id for k in links[:3]]
    archive_records(object_type=om.object_type, record_ids=ids, source="api")
    RecordLink.objects.filter(record_id__in=ids).update(pending_op="delete")
    screen_deletes(om, direction=PUSH, links=links[:3])
    assert held(om, PUSH) == 3

    restore_records(object_type=om.object_type, record_ids=ids, source="user")

    # Nothing left for an admin to decide, and no delete waits to be sent.
    assert held(om, PUSH) == 0 and held(om, PUSH, "discarded") == 3
    assert not RecordLink.objects.filter(pending_op="delete").exists()
