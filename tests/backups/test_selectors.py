"""What the restore wizard preselects, and how a backup's contents are listed."""

import datetime as dt

from django.utils import timezone

from backups import selectors
from backups.models import Backup
from crm.services.schema import create_object_type

NOW = timezone.now()


def backup(counts: dict, *, status=Backup.Status.READY, age_days: int = 0, **fields) -> Backup:
    """A backup row as a finished run leaves it (its file is not needed to choose it)."""
    created = NOW - dt.timedelta(days=age_days)
    made = Backup.objects.create(status=status, counts=counts, **fields)
    Backup.objects.filter(pk=made.pk).update(
        created_at=created,
        snapshot_at=created,
        expires_at=fields.get("expires_at", created + dt.timedelta(days=14)),
    )
    made.refresh_from_db()
    return made


def test_the_newest_ready_backup_is_preselected_not_a_newer_failed_or_running_one(crm_schema):
    backup({"contacts": 3}, age_days=3)
    newest_ready = backup({"contacts": 5}, age_days=1)
    backup({}, status=Backup.Status.FAILED)
    backup({}, status=Backup.Status.RUNNING)

    chosen, object_type = selectors.get_default_restore_source(now=NOW)

    assert chosen == newest_ready
    assert object_type.name == "contacts"


def test_a_ready_backup_past_its_expiry_is_not_preselected(crm_schema):
    older = backup({"deals": 2}, age_days=5)
    backup({"deals": 2}, age_days=1, expires_at=NOW - dt.timedelta(minutes=1))

    assert selectors.get_default_restore_source(now=NOW)[0] == older


def test_the_first_object_type_in_the_usual_order_is_preselected_not_calls(crm_schema):
    # Calls sort first by label; the wizard still starts with the main objects.
    only_some = backup({"calls": 60, "deals": 16, "companies": 10, "conversations": 30})

    assert selectors.get_default_restore_source(backup=only_some)[1].name == "companies"


def test_contacts_come_first_when_the_backup_holds_them(crm_schema):
    full = backup({"calls": 1, "tasks": 1, "companies": 1, "contacts": 1, "deals": 1})

    assert selectors.get_default_restore_source(backup=full)[1].name == "contacts"


def test_a_backup_of_conversations_alone_preselects_no_object_type(crm_schema):
    chats = backup({"conversations": 30})

    assert selectors.get_default_restore_source(backup=chats) == (chats, None)


def test_no_ready_backup_preselects_nothing(crm_schema):
    backup({}, status=Backup.Status.FAILED)

    assert selectors.get_default_restore_source(now=NOW) == (None, None)


def test_preselection_costs_two_queries(crm_schema, django_assert_num_queries):
    backup({"contacts": 3, "deals": 2})

    with django_assert_num_queries(2):  # the newest backup, the object types it holds
        selectors.get_default_restore_source(now=NOW)


def test_restorable_object_types_in_the_usual_order_custom_ones_last(crm_schema):
    create_object_type(name="boats", label_singular="Boat", label_plural="Boats")

    names = [ot.name for ot in selectors.list_restorable_object_types()]

    assert names == [
        "contacts",
        "companies",
        "deals",
        "tickets",
        "products",
        "tasks",
        "calls",
        "boats",
    ]


def test_backup_contents_name_each_file_with_its_records(crm_schema):
    made = backup({"deals": 16, "conversations": 30, "contacts": 3200})

    rows = selectors.backup_contents(backup=made)

    assert rows == [
        {"object_type": "Contacts", "file": "contacts.csv", "records": 3200, "restorable": True},
        {"object_type": "Deals", "file": "deals.csv", "records": 16, "restorable": True},
        {
            "object_type": "Conversations",
            "file": "conversations.csv",
            "records": 30,
            "restorable": False,
        },
    ]
