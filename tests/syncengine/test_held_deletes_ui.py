"""The "Mass delete held" card of the sync health page and its API (SPEC L-5): counts per mapping
and direction with a sample of names, confirm or discard after a confirmation step, thresholds,
permissions, and query counts that do not grow with the deletes held."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from crm.models import Record
from syncengine.engine.guard import screen_deletes
from syncengine.models import HeldDelete, RecordLink
from tests.factories import IntegrationFactory, ObjectMappingFactory, UserFactory
from tests.support.lifecycle import link_records

pytestmark = pytest.mark.django_db


@pytest.fixture
def om(contacts):
    return ObjectMappingFactory(
        integration=IntegrationFactory(name="Acme org"), object_type=contacts, mass_delete_minimum=2
    )


@pytest.fixture
def holding(om):
    """3 pull deletes of 10 linked contacts held."""
    links = link_records(om, 10)
    screen_deletes(om, direction="pull", links=links[:3])
    return links


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def staff_with(*codenames: str):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def base(om) -> str:
    return f"/api/v1/integrations/{om.integration_id}/"


def test_api_lists_held_deletes_with_names_and_the_health_endpoint_too(
    staff_api_client, om, holding
):
    body = staff_api_client.get(base(om) + "held-deletes/").json()

    assert body == [
        {
            "object_mapping": om.pk,
            "object_type": "contacts",
            "remote_object": "Contact",
            "direction": "pull",
            "direction_label": "Remote → Concord",
            "count": 3,
            "sample": ["Pat0 Doe", "Pat1 Doe", "Pat2 Doe"],
        }
    ]
    assert staff_api_client.get(base(om) + "health/").json()["held_deletes"] == body


def test_api_confirm_archives_the_held_records(staff_api_client, om, holding):
    response = staff_api_client.post(
        base(om) + "held-deletes/confirm/",
        {"object_mapping": om.pk, "direction": "pull"},
        format="json",
    )

    assert response.status_code == 200 and response.json() == {"confirmed": 3, "archived": 3}
    archived = Record.objects.filter(archived_at__isnull=False).values_list("pk", flat=True)
    assert set(archived) == {link.record_id for link in holding[:3]}
    assert staff_api_client.get(base(om) + "held-deletes/").json() == []


def test_api_discard_keeps_the_records(staff_api_client, om, holding):
    response = staff_api_client.post(
        base(om) + "held-deletes/discard/",
        {"object_mapping": om.pk, "direction": "pull"},
        format="json",
    )

    assert response.status_code == 200 and response.json() == {"discarded": 3}
    assert not Record.objects.filter(archived_at__isnull=False).exists()
    assert RecordLink.objects.filter(remote_id__isnull=False).count() == 7


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"object_mapping": "x", "direction": "pull"},
        {"object_mapping": 0, "direction": "pull"},
        {"object_mapping": 10**9, "direction": "pull"},
        {"direction": "pull"},
        {"object_mapping": 1, "direction": "up"},
        [],
        "pull",
    ],
)
def test_bad_decisions_are_400s_and_change_nothing(staff_api_client, om, holding, body):
    if isinstance(body, dict) and body.get("object_mapping") == 1:
        body = {**body, "object_mapping": om.pk}
    for decision in ("confirm", "discard"):
        response = staff_api_client.post(
            base(om) + f"held-deletes/{decision}/", body, format="json"
        )
        assert response.status_code == 400, response.content
    assert HeldDelete.objects.filter(status="held").count() == 3
    assert not Record.objects.filter(archived_at__isnull=False).exists()


def test_deciding_with_nothing_held_is_a_400(staff_api_client, om):
    response = staff_api_client.post(
        base(om) + "held-deletes/confirm/", {"object_mapping": om.pk, "direction": "push"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "held_delete_refused"


def test_thresholds_api_reads_and_changes_one_mapping(staff_api_client, om):
    link_records(om, 40)
    [row] = staff_api_client.get(base(om) + "mass-delete-thresholds/").json()
    assert row == {
        "object_mapping": om.pk,
        "object_type": "contacts",
        "remote_object": "Contact",
        "share": 0.1,
        "minimum": 2,
        "linked": 40,
        "limit": 4,
    }

    response = staff_api_client.patch(
        base(om) + "mass-delete-thresholds/",
        {"object_mapping": om.pk, "share": "0.25", "minimum": 20},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()[0] | {} == {**row, "share": 0.25, "minimum": 20, "limit": 20}
    om.refresh_from_db()
    assert om.mass_delete_share == Decimal("0.25") and om.mass_delete_minimum == 20


@pytest.mark.parametrize(
    "body",
    [
        {"share": 0},
        {"share": "1.01"},
        {"share": -0.5},
        {"share": "lots"},
        {"minimum": -1},
        {"minimum": "many"},
        {"minimum": 1.5},
        {"object_mapping": 10**9, "share": "0.2"},
        {"object_mapping": None},
    ],
)
def test_bad_thresholds_are_400s_and_change_nothing(staff_api_client, om, body):
    response = staff_api_client.patch(
        base(om) + "mass-delete-thresholds/", {"object_mapping": om.pk, **body}, format="json"
    )

    assert response.status_code == 400, response.content
    om.refresh_from_db()
    assert om.mass_delete_share == Decimal("0.10") and om.mass_delete_minimum == 2


def test_permissions(om, holding):
    decide = {"object_mapping": om.pk, "direction": "pull"}
    viewer = api(staff_with("view_syncerror", "view_objectmapping"))
    assert viewer.get(base(om) + "held-deletes/").status_code == 200
    assert viewer.get(base(om) + "mass-delete-thresholds/").status_code == 200
    for decision in ("confirm", "discard"):
        assert viewer.post(base(om) + f"held-deletes/{decision}/", decide).status_code == 403
    threshold = {"object_mapping": om.pk, "share": "0.5"}
    assert viewer.patch(base(om) + "mass-delete-thresholds/", threshold).status_code == 403
    plain = api(UserFactory(is_staff=True))
    assert plain.get(base(om) + "held-deletes/").status_code == 403
    assert HeldDelete.objects.filter(status="held").count() == 3

    page_viewer = admin_client(staff_with("view_syncerror"))
    page = reverse("admin:syncengine_integration_health", args=[om.integration_id])
    html = page_viewer.get(page).content.decode()
    assert 'id="held-deletes"' in html and "Confirm…" not in html
    confirm = reverse(
        "admin:syncengine_integration_held_deletes",
        args=[om.integration_id, om.pk, "pull", "confirm"],
    )
    assert page_viewer.get(confirm).status_code == 403
    assert page_viewer.post(confirm).status_code == 403
    assert (
        page_viewer.post(
            page, {"threshold_mapping": om.pk, "share": "1", "minimum": "0"}
        ).status_code
        == 403
    )
    assert HeldDelete.objects.filter(status="held").count() == 3
    om.refresh_from_db()
    assert om.mass_delete_minimum == 2


def test_card_shows_names_and_confirm_asks_before_applying(staff_user, om, holding):
    client = admin_client(staff_user)
    page = reverse("admin:syncengine_integration_health", args=[om.integration_id])

    html = client.get(page).content.decode()
    assert "Mass delete held" in html and "Pat0 Doe, Pat1 Doe, Pat2 Doe" in html
    assert f'data-mapping="{om.pk}" data-direction="pull"' in html
    assert str(holding[0].record_id) + "," not in html  # names, not ids

    confirm = reverse(
        "admin:syncengine_integration_held_deletes",
        args=[om.integration_id, om.pk, "pull", "confirm"],
    )
    step = client.get(confirm)
    assert step.status_code == 200
    text = step.content.decode()
    assert "3 Concord contacts records will be archived" in text and "Yes, confirm 3" in text
    assert not Record.objects.filter(archived_at__isnull=False).exists()  # asked, not applied

    response = client.post(confirm)
    assert response.status_code == 302 and response.url == page
    assert Record.objects.filter(archived_at__isnull=False).count() == 3
    assert "Mass delete held" not in client.get(page).content.decode()


def test_discard_from_the_card_keeps_the_records(staff_user, om, holding):
    client = admin_client(staff_user)
    discard = reverse(
        "admin:syncengine_integration_held_deletes",
        args=[om.integration_id, om.pk, "pull", "discard"],
    )
    assert "Concord records are kept" in client.get(discard).content.decode()

    client.post(discard)

    assert HeldDelete.objects.filter(status="discarded").count() == 3
    assert not Record.objects.filter(archived_at__isnull=False).exists()


def test_unknown_decision_or_direction_is_404(staff_user, om, holding):
    client = admin_client(staff_user)
    for direction, decision in (("pull", "apply"), ("up", "confirm")):
        url = reverse(
            "admin:syncengine_integration_held_deletes",
            args=[om.integration_id, om.pk, direction, decision],
        )
        assert client.post(url).status_code == 404
    assert HeldDelete.objects.filter(status="held").count() == 3


def test_threshold_form_on_the_health_page(staff_user, om):
    client = admin_client(staff_user)
    page = reverse("admin:syncengine_integration_health", args=[om.integration_id])
    assert 'id="mass-delete-thresholds"' in client.get(page).content.decode()

    client.post(page, {"threshold_mapping": om.pk, "share": "1.5", "minimum": "3"})
    client.post(page, {"threshold_mapping": om.pk, "share": "0.5", "minimum": "-3"})
    om.refresh_from_db()
    assert om.mass_delete_share == Decimal("0.10") and om.mass_delete_minimum == 2

    assert (
        client.post(page, {"threshold_mapping": om.pk, "share": "0.5", "minimum": "3"}).status_code
        == 302
    )
    om.refresh_from_db()
    assert om.mass_delete_share == Decimal("0.5") and om.mass_delete_minimum == 3


def count_queries(call) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert call().status_code == 200
    return len(ctx.captured_queries)


def test_card_and_api_query_counts_do_not_grow_with_the_deletes_held(
    staff_user, staff_api_client, om, holding, django_assert_num_queries
):
    client = admin_client(staff_user)
    page = reverse("admin:syncengine_integration_health", args=[om.integration_id])
    held_url, health_url = base(om) + "held-deletes/", base(om) + "health/"
    counts = [
        count_queries(lambda: client.get(page)),
        count_queries(lambda: staff_api_client.get(held_url)),
        count_queries(lambda: staff_api_client.get(health_url)),
    ]
    # Many more held, in both directions and another mapping.
    other = ObjectMappingFactory(
        integration=om.integration, object_type=om.object_type, remote_object="Lead",
        mass_delete_minimum=0,
    )  # fmt: skip
    more = link_records(other, 60, start=100)
    screen_deletes(other, direction="pull", links=more[:30])
    screen_deletes(other, direction="push", links=more[30:])
    assert len(staff_api_client.get(held_url).json()) == 3

    with django_assert_num_queries(counts[1]):
        staff_api_client.get(held_url)
    with django_assert_num_queries(counts[2]):
        staff_api_client.get(health_url)
    assert count_queries(lambda: client.get(page)) == counts[0]
    # Pinned: the held API is the integration, the counts and one query for every group's
    # sample; the health endpoint adds the usage and the error cards to the same two.
    assert counts[1] == 3 and counts[2] == 5
