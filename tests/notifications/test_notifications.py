from notifications.models import Notification
from notifications.services import mark_read, notify


def test_notify_sends_one_to_each_user(user, staff_user):
    sent = notify(
        users=[user, staff_user, user],
        kind=Notification.Kind.BACKUP_READY,
        title="Your backup is ready",
        link="/admin/backups/backup/1/download/",
    )

    assert len(sent) == 2
    assert sorted(Notification.objects.values_list("user_id", flat=True)) == sorted(
        [user.pk, staff_user.pk]
    )
    assert Notification.objects.filter(read_at__isnull=True).count() == 2


def test_mark_read_touches_only_the_users_own(user, staff_user):
    mine, theirs = (
        notify(users=[u], kind="restore_done", title="Done")[0] for u in (user, staff_user)
    )

    assert mark_read(user=user, notification_ids=[mine.pk, theirs.pk]) == 1
    assert mark_read(user=user) == 0

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.is_read and not theirs.is_read


def test_api_lists_only_your_own_newest_first(api_client, user, staff_user):
    first = notify(users=[user], kind="backup_ready", title="First")[0]
    second = notify(users=[user], kind="restore_done", title="Second")[0]
    notify(users=[staff_user], kind="backup_ready", title="Not yours")

    response = api_client.get("/api/v1/notifications/")

    assert response.status_code == 200
    assert [n["id"] for n in response.data["results"]] == [second.pk, first.pk]


def test_api_marks_read_and_filters_unread(api_client, user, staff_user):
    first, second = (
        notify(users=[user], kind="backup_ready", title=t)[0] for t in ("First", "Second")
    )
    theirs = notify(users=[staff_user], kind="backup_ready", title="Theirs")[0]

    one = api_client.post(f"/api/v1/notifications/{first.pk}/read/")
    other = api_client.post(f"/api/v1/notifications/{theirs.pk}/read/")
    unread = api_client.get("/api/v1/notifications/", {"unread": "true"})

    assert one.status_code == 200 and one.data["is_read"] is True
    assert other.status_code == 404
    assert [n["id"] for n in unread.data["results"]] == [second.pk]
    all_read = api_client.post("/api/v1/notifications/mark-read/", {}, format="json")
    assert all_read.data == {"marked": 1}
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_api_needs_sign_in(db):
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/notifications/").status_code in (401, 403)


def test_admin_lists_only_your_own_and_marks_read(staff_client, staff_user):
    mine = notify(users=[staff_client.user], kind="backup_ready", title="Mine to read")[0]
    notify(users=[staff_user], kind="backup_ready", title="Somebody else's")

    page = staff_client.get("/admin/notifications/notification/").content.decode()
    assert "Mine to read" in page and "Somebody else" not in page

    response = staff_client.post(
        "/admin/notifications/notification/",
        {"action": "mark_selected_read", "_selected_action": [mine.pk]},
        follow=True,
    )

    assert "1 notification(s) marked read" in response.content.decode()
    mine.refresh_from_db()
    assert mine.is_read


def test_admin_hides_other_users_notifications(staff_client, staff_user):
    theirs = notify(users=[staff_user], kind="backup_ready", title="Theirs")[0]

    response = staff_client.get(f"/admin/notifications/notification/{theirs.pk}/change/")

    assert response.status_code in (302, 404)
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_opening_a_notification_in_the_admin_reads_it(staff_client):
    mine = notify(users=[staff_client.user], kind="restore_done", title="Done", link="/x/")[0]

    assert (
        staff_client.get(f"/admin/notifications/notification/{mine.pk}/change/").status_code == 200
    )

    mine.refresh_from_db()
    assert mine.is_read


def test_api_list_query_count_is_flat(api_client, user, django_assert_num_queries):
    for i in range(30):
        notify(users=[user], kind="backup_ready", title=f"n{i}")

    # The page, and the user's permissions (given directly and through groups) once.
    with django_assert_num_queries(3):
        response = api_client.get("/api/v1/notifications/")

    assert len(response.data["results"]) == 30
