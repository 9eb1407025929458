"""The CRM merge service: fill blanks, move associations, archive the losers with a pointer."""

from __future__ import annotations

import re

import pytest

from crm import hooks, sources
from crm.errors import MergeError, RecordValidationError
from crm.models import Association, AssociationDefinition, AuditEvent, Record
from crm.services.associations import associate_records
from crm.services.merge import MAX_LOSERS, merge_records
from crm.services.owners import deactivate_owner
from crm.services.records import archive_records, create_record, restore_records, update_record
from tests.factories import OwnerFactory


def _contact(contacts, **properties):
    return create_record(object_type=contacts, source=sources.API, properties=properties)


def _definition(from_type, to_type, label=""):
    return AssociationDefinition.objects.get(
        from_object_type=from_type, to_object_type=to_type, label=label
    )


@pytest.fixture
def trio(contacts):
    winner = _contact(contacts, firstname="Ada", phone="")
    first = _contact(contacts, firstname="Augusta", email="ada@example.com", city="London")
    second = _contact(contacts, phone="+44 20 7946 0000", city="Paris", jobtitle="Countess")
    return winner, first, second


@pytest.fixture
def captured_changes():
    events = []
    listener = hooks.on_records_changed(events.append)
    yield events
    hooks.unsubscribe(listener)


def test_merge_fills_blanks_in_loser_order_and_archives_losers(
    contacts, user, trio, captured_changes
):
    winner, first, second = trio
    merged = merge_records(
        object_type=contacts,
        winner_id=winner.pk,
        loser_ids=[first.pk, second.pk],
        actor=user,
        source=sources.API,
    )
    assert merged.pk == winner.pk
    assert merged.archived_at is None
    # The winner's own value stays; empty ones come from the first loser holding one.
    assert merged.properties["firstname"] == "Ada"
    assert merged.properties["email"] == "ada@example.com"  # a unique value moved over
    assert merged.properties["city"] == "London"
    assert merged.properties["phone"] == second.properties["phone"]
    assert merged.properties["jobtitle"] == "Countess"
    for loser in (first, second):
        loser.refresh_from_db()
        assert loser.archived_at is not None
        assert loser.merged_into_id == winner.pk
    kinds = [(e.kind, set(e.record_ids)) for e in captured_changes]
    assert kinds == [("archived", {first.pk, second.pk}), ("updated", {winner.pk})]
    merge_event = AuditEvent.objects.get(verb="merge", target_id=winner.pk)
    assert merge_event.actor == user
    assert merge_event.detail["losers"] == [first.pk, second.pk]
    assert merge_event.detail["filled"]["city"] == {"from": first.pk, "value": "London"}
    assert AuditEvent.objects.get(verb="merge", target_id=first.pk).detail == {
        "merged_into": winner.pk
    }
    assert AuditEvent.objects.filter(verb="archive", target_id=second.pk).exists()


def test_merge_without_fill_blanks_keeps_the_winner_as_it_is(contacts, trio):
    winner, first, second = trio
    before = dict(winner.properties)
    merged = merge_records(
        object_type=contacts,
        winner_id=winner.pk,
        loser_ids=[first.pk, second.pk],
        fill_blanks=False,
        source=sources.API,
    )
    assert merged.properties == before
    assert not AuditEvent.objects.filter(verb="update", target_id=winner.pk).exists()
    assert Record.objects.filter(merged_into=winner, archived_at__isnull=False).count() == 2


def test_associations_move_without_duplicates_and_within_limits(contacts, companies, trio):
    winner, first, second = trio
    acme, globex, initech = (
        create_record(object_type=companies, source=sources.API, properties={"name": n})
        for n in ("Acme", "Globex", "Initech")
    )
    plain = _definition(contacts, companies)
    primary = _definition(contacts, companies, "Primary")  # one per contact
    associate_records(
        definition=plain,
        pairs=[(winner.pk, acme.pk), (first.pk, acme.pk), (first.pk, globex.pk)],
        source=sources.API,
    )
    associate_records(
        definition=primary, pairs=[(winner.pk, acme.pk), (second.pk, initech.pk)], source="api"
    )
    merge_records(
        object_type=contacts,
        winner_id=winner.pk,
        loser_ids=[first.pk, second.pk],
        source=sources.API,
    )
    pairs = set(
        Association.objects.filter(definition=plain).values_list("from_record_id", "to_record_id")
    )
    assert pairs == {(winner.pk, acme.pk), (winner.pk, globex.pk)}
    # The winner keeps its primary company; the loser's would break the limit of one.
    assert list(
        Association.objects.filter(definition=primary).values_list("from_record_id", "to_record_id")
    ) == [(winner.pk, acme.pk)]
    event = AuditEvent.objects.get(verb="merge", target_id=winner.pk)
    assert event.detail["associations_moved"] == 1
    assert event.detail["associations_dropped"] == [
        {"definition": primary.pk, "from_record": winner.pk, "to_record": initech.pk}
    ]
    assert not Association.objects.filter(from_record_id__in=[first.pk, second.pk]).exists()


def test_restoring_a_loser_clears_its_pointer(contacts, trio):
    winner, first, _ = trio
    merge_records(
        object_type=contacts,
        winner_id=winner.pk,
        loser_ids=[first.pk],
        fill_blanks=False,
        source=sources.API,
    )
    restore_records(object_type=contacts, record_ids=[first.pk], source=sources.API)
    first.refresh_from_db()
    assert (first.archived_at, first.merged_into_id) == (None, None)


def _state():
    return (
        sorted(Record.objects.values_list("pk", "archived_at", "merged_into_id", "properties")),
        sorted(Association.objects.values_list("pk", flat=True)),
        AuditEvent.objects.count(),
    )


@pytest.mark.parametrize(
    "case, message",
    [
        ("none", "at least one record"),
        ("self", "cannot be both winner and loser"),
        ("twice", "named twice"),
        ("missing", "does not exist"),
        ("other_type", "is not one of contacts"),
        ("archived", "is in the recycle bin"),
        ("too_many", f"at most {MAX_LOSERS}"),
    ],
)
def test_bad_merges_are_refused_and_change_nothing(contacts, companies, trio, case, message):
    winner, first, second = trio
    acme = create_record(object_type=companies, source=sources.API, properties={"name": "Acme"})
    associate_records(
        definition=_definition(contacts, companies), pairs=[(first.pk, acme.pk)], source="api"
    )
    if case == "archived":
        archive_records(object_type=contacts, record_ids=[second.pk], source=sources.API)
    losers = {
        "none": [],
        "self": [first.pk, winner.pk],
        "twice": [first.pk, first.pk],
        "missing": [first.pk, 999_999],
        "other_type": [first.pk, acme.pk],
        "archived": [first.pk, second.pk],
        "too_many": [first.pk, *range(10**6, 10**6 + MAX_LOSERS)],
    }[case]
    before = _state()
    with pytest.raises(MergeError, match=message) as excinfo:
        merge_records(
            object_type=contacts, winner_id=winner.pk, loser_ids=losers, source=sources.API
        )
    assert excinfo.value.status == 400
    assert _state() == before


URL = "/api/v1/objects/contacts/records/"


def test_api_merge_answers_the_winner_and_shows_the_pointer(api_client, user, contacts, trio):
    winner, first, second = trio
    response = api_client.post(
        f"{URL}merge/",
        {"winner": winner.pk, "losers": [first.pk, second.pk], "fill_blanks": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["merged_into"], body["archived"]) == (winner.pk, None, False)
    assert body["properties"]["email"] == "ada@example.com"
    loser = api_client.get(f"{URL}{first.pk}/?archived=true").json()
    assert (loser["archived"], loser["merged_into"]) == (True, winner.pk)
    event = AuditEvent.objects.get(verb="merge", target_id=winner.pk)
    assert (event.actor, event.source) == (user, "api")


def test_api_merge_without_fill_blanks(api_client, contacts, trio):
    winner, first, _ = trio
    response = api_client.post(
        f"{URL}merge/", {"winner": winner.pk, "losers": [first.pk], "fill_blanks": False}, "json"
    )
    assert response.status_code == 200
    assert "email" not in response.json()["properties"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"losers": [2]}, "winner"),
        ({"winner": 1, "losers": []}, "losers"),
        ({"winner": 1, "losers": "2"}, "losers"),
        ({"winner": 1, "losers": list(range(2, 3 + MAX_LOSERS))}, "losers"),
        ({"winner": "x", "losers": [2]}, "winner"),
        ({"winner": 1, "losers": [2], "fill_blanks": "maybe"}, "fill_blanks"),
    ],
)
def test_api_merge_bad_bodies_are_400s(api_client, contacts, trio, body, field):
    before = _state()
    response = api_client.post(f"{URL}merge/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert _state() == before


def test_api_merge_refused_by_the_service_is_a_400_naming_the_field(
    api_client, contacts, companies, trio
):
    winner, first, _ = trio
    acme = create_record(object_type=companies, source=sources.API, properties={"name": "Acme"})
    before = _state()
    response = api_client.post(
        f"{URL}merge/", {"winner": winner.pk, "losers": [first.pk, acme.pk]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_merge"
    assert response.json()["errors"] == {"losers": [f"record {acme.pk} is not one of contacts"]}
    assert _state() == before


def test_api_merge_needs_the_change_permission(contacts, trio):
    from rest_framework.test import APIClient

    from tests.factories import UserFactory

    winner, first, _ = trio
    client = APIClient()
    client.force_authenticate(UserFactory())
    response = client.post(f"{URL}merge/", {"winner": winner.pk, "losers": [first.pk]}, "json")
    assert response.status_code == 403
    assert Record.objects.get(pk=first.pk).archived_at is None


CHANGELIST = "/admin/crm/record/?type=contacts"


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_admin_action_shows_the_winner_and_what_will_be_filled(staff_client, contacts, trio):
    winner, first, second = trio
    selected = [second.pk, winner.pk, first.pk]
    page = staff_client.post(CHANGELIST, {"action": "merge_selected", "_selected_action": selected})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Merge selected records…" not in html  # a page of its own, not the list
    # The oldest record is offered as the winner; its blanks come from the others in order
    assert f'name="winner" value="{winner.pk}" checked' in html
    city = re.search(r'data-property="city">.*?<td class="filled">(.*?)</td>', html, re.S)
    assert city.group(1) == "London"
    # Picking another winner shows its own fills
    page = staff_client.post(
        CHANGELIST,
        {
            "action": "merge_selected",
            "_selected_action": selected,
            "winner": second.pk,
            "fill_blanks": "on",
            "preview": "1",
        },
    )
    html = page.content.decode()
    assert f'name="winner" value="{second.pk}" checked' in html
    city = re.search(r'data-property="city">.*?<td class="filled">(.*?)</td>', html, re.S)
    assert city.group(1) == ""  # the second has a city of its own
    first_name = re.search(
        r'data-property="firstname">.*?<td class="filled">(.*?)</td>', html, re.S
    )
    assert first_name.group(1) == "Ada"
    assert Record.objects.filter(archived_at__isnull=False).count() == 0


def test_admin_action_merges_into_the_picked_winner(staff_client, staff_user, contacts, trio):
    winner, first, second = trio
    response = staff_client.post(
        CHANGELIST,
        {
            "action": "merge_selected",
            "_selected_action": [winner.pk, first.pk, second.pk],
            "winner": second.pk,
            "post": "Merge",
        },
    )
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.archived_at is None
    assert second.properties["city"] == "Paris"  # without fill_blanks: kept as it was
    assert "firstname" not in second.properties
    assert set(Record.objects.filter(merged_into=second).values_list("pk", flat=True)) == {
        winner.pk,
        first.pk,
    }
    event = AuditEvent.objects.get(verb="merge", target_id=second.pk)
    assert (event.actor, event.source) == (staff_user, "user")


def test_admin_action_needs_two_records(staff_client, contacts, trio):
    winner, *_ = trio
    response = staff_client.post(
        CHANGELIST, {"action": "merge_selected", "_selected_action": [winner.pk]}, follow=True
    )
    assert "Select from 2 to" in response.content.decode()
    assert not Record.objects.filter(archived_at__isnull=False).exists()


@pytest.fixture
def gone_owner_pair(contacts):
    """A winner without an owner and a loser whose owner has since been deactivated."""
    owner = OwnerFactory()
    winner = _contact(contacts, firstname="Ada")
    loser = _contact(contacts, firstname="Augusta", owner=owner.pk)
    deactivate_owner(owner=owner, source=sources.USER)
    return winner, loser, owner


def test_merge_carries_over_an_owner_who_has_left(contacts, gone_owner_pair):
    # The loser's owner is an existing assignment moved over, not a new one.
    winner, loser, owner = gone_owner_pair
    merged = merge_records(
        object_type=contacts, winner_id=winner.pk, loser_ids=[loser.pk], source=sources.USER
    )
    assert merged.properties["owner"] == owner.pk
    event = AuditEvent.objects.get(verb="merge", target_id=winner.pk)
    assert event.detail["filled"]["owner"] == {"from": loser.pk, "value": owner.pk}


def test_newly_giving_an_owner_who_has_left_is_still_refused(contacts, gone_owner_pair):
    winner, _, owner = gone_owner_pair
    with pytest.raises(RecordValidationError, match=f"no active owner with id {owner.pk}"):
        update_record(record=winner, properties={"owner": owner.pk}, source=sources.USER)


def test_api_merge_carries_over_an_owner_who_has_left(api_client, contacts, gone_owner_pair):
    winner, loser, owner = gone_owner_pair
    response = api_client.post(
        f"{URL}merge/", {"winner": winner.pk, "losers": [loser.pk]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["properties"]["owner"] == owner.pk
    loser.refresh_from_db()
    assert loser.merged_into_id == winner.pk


def test_admin_merge_carries_over_an_owner_who_has_left(staff_client, contacts, gone_owner_pair):
    winner, loser, owner = gone_owner_pair
    response = staff_client.post(
        CHANGELIST,
        {
            "action": "merge_selected",
            "_selected_action": [winner.pk, loser.pk],
            "winner": winner.pk,
            "fill_blanks": "on",
            "post": "Merge",
        },
    )
    assert response.status_code == 302
    winner.refresh_from_db()
    assert winner.properties["owner"] == owner.pk
    assert Record.objects.get(pk=loser.pk).merged_into_id == winner.pk
