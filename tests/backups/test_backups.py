import datetime as dt
import threading
import tracemalloc

import pytest
from django.db import connection
from django.utils import timezone

from backups.errors import BackupTooSoon, BackupUnavailable
from backups.models import Backup, BackupSchedule
from backups.services import backups as backup_services
from backups.services import writer
from crm import sources
from crm.models import AuditEvent, ObjectType, Record
from crm.services.records import archive_records
from notifications.models import Notification
from tests.support.backups import create, make_backup, read_header, read_zip, update
from tests.support.schema import ensure_standard_schema


def test_zip_holds_every_active_record_with_every_property(contacts, deals, staff_user):
    # given contacts (one with a sensitive value, one archived) and deals; no companies
    ada, bob, gone = create(
        contacts,
        {"email": "ada@example.com", "firstname": "Ada", "date_of_birth": "1815-12-10"},
        {"email": "bob@example.com", "lifecyclestage": "lead", "notes": 'said "hi",\nthen left'},
        {"email": "gone@example.com"},
    )
    archive_records(object_type=contacts, record_ids=[gone], source=sources.USER)
    (deal,) = create(deals, {"dealname": "Big", "amount": "1500.5", "dealstage": "closedwon"})

    # when a backup is made
    backup = make_backup(staff_user)

    # then one CSV per object type with active records, no file for the empty ones, and the
    # owners their owner values name
    files = read_zip(backup)
    assert sorted(files) == ["_concord/owners.csv", "contacts.csv", "deals.csv"]
    assert backup.counts == {"contacts": 2, "deals": 1}
    names = list(
        contacts.property_definitions.order_by("display_order", "name").values_list(
            "name", flat=True
        )
    )
    assert read_header(backup, "contacts.csv") == ["id", "created_at", "updated_at", *names]
    rows = {int(r["id"]): r for r in files["contacts.csv"]}
    assert set(rows) == {ada, bob}
    for pk, row in rows.items():
        record = Record.objects.get(pk=pk)
        assert dt.datetime.fromisoformat(row["created_at"]) == record.created_at
        assert dt.datetime.fromisoformat(row["updated_at"]) == record.updated_at
        for name in names:
            assert row[name] == writer.backup_cell(record.properties.get(name))
    assert rows[ada]["date_of_birth"] == "1815-12-10"  # sensitive values are included
    assert rows[bob]["notes"] == 'said "hi",\nthen left'
    assert rows[bob]["firstname"] == ""
    (deal_row,) = files["deals.csv"]
    assert (int(deal_row["id"]), deal_row["amount"], deal_row["dealstage"]) == (
        deal,
        "1500.5",
        "closedwon",
    )
    # and the requester is told, with the download link; the audit log has it
    note = Notification.objects.get(user=staff_user)
    assert note.kind == "backup_ready"
    assert note.link == f"/admin/backups/backup/{backup.pk}/download/"
    assert AuditEvent.objects.filter(verb="backup_completed", actor=staff_user).exists()
    assert backup.expires_at == backup.finished_at + dt.timedelta(days=14)
    assert backup.size > 0 and backup.snapshot_at is not None


def test_multiselect_and_boolean_values_are_written_as_text(crm_schema, staff_user):
    from crm.services.schema import create_object_type, create_property

    pets = create_object_type(
        name="pets", label_singular="Pet", label_plural="Pets", actor=None, source=sources.SYSTEM
    )
    create_property(
        object_type=pets,
        name="tags",
        label="Tags",
        type="multiselect",
        options=[{"value": "calm"}, {"value": "loud"}],
        actor=None,
        source=sources.SYSTEM,
    )
    create_property(
        object_type=pets,
        name="vaccinated",
        label="Vaccinated",
        type="boolean",
        actor=None,
        source=sources.SYSTEM,
    )
    create(pets, {"tags": ["calm", "loud"], "vaccinated": True})

    (row,) = read_zip(make_backup(staff_user))["pets.csv"]

    assert (row["tags"], row["vaccinated"]) == ("calm;loud", "true")


def test_a_second_run_of_the_task_does_nothing(contacts, staff_user):
    create(contacts, {"email": "ada@example.com"})
    backup = make_backup(staff_user)

    assert backup_services.run_backup(backup_id=backup.pk) is None
    assert Notification.objects.filter(user=staff_user).count() == 1


@pytest.mark.parametrize(
    ("plan", "too_soon", "allowed"),
    [
        ("enterprise", dt.timedelta(hours=23), dt.timedelta(days=1, minutes=1)),
        ("professional", dt.timedelta(days=6), dt.timedelta(days=7, minutes=1)),
        ("starter", dt.timedelta(days=6, hours=23), dt.timedelta(days=7, minutes=1)),
    ],
)
def test_frequency_limit_by_plan(settings, crm_schema, staff_user, plan, too_soon, allowed):
    settings.CONCORD_PLAN = plan
    first = backup_services.create_backup(requested_by=staff_user, source=sources.USER)

    with pytest.raises(BackupTooSoon) as excinfo:
        backup_services.create_backup(
            requested_by=staff_user, source=sources.USER, now=first.created_at + too_soon
        )

    assert excinfo.value.next_allowed_at == first.created_at + (allowed - dt.timedelta(minutes=1))
    assert "The next backup is allowed from" in excinfo.value.message
    assert Backup.objects.count() == 1
    later = backup_services.create_backup(
        requested_by=staff_user, source=sources.USER, now=first.created_at + allowed
    )
    assert later.pk != first.pk


def test_a_failed_backup_does_not_count_against_the_limit(crm_schema, staff_user):
    first = backup_services.create_backup(requested_by=staff_user, source=sources.USER)
    Backup.objects.filter(pk=first.pk).update(status=Backup.Status.FAILED)

    again = backup_services.create_backup(requested_by=staff_user, source=sources.USER)

    assert again.status == Backup.Status.PENDING


def test_expiry_deletes_the_file_and_marks_the_row(contacts, staff_user, backup_storage):
    create(contacts, {"email": "ada@example.com"})
    backup = make_backup(staff_user)
    path = backup_storage / backup.file_name
    assert path.exists()

    assert backup_services.expire_backups(now=backup.expires_at - dt.timedelta(minutes=1)) == 0
    assert backup_services.expire_backups(now=backup.expires_at) == 1

    backup.refresh_from_db()
    assert (backup.status, backup.file_name) == (Backup.Status.EXPIRED, "")
    assert not path.exists()
    with pytest.raises(BackupUnavailable) as excinfo:
        backup_services.open_backup_file(backup=backup)
    assert excinfo.value.expired
    assert backup_services.expire_backups(now=backup.expires_at) == 0  # a second run: no-op


def test_schedule_needs_enterprise(settings, crm_schema, staff_user):
    settings.CONCORD_PLAN = "professional"
    from backups.errors import BackupError

    with pytest.raises(BackupError, match="Enterprise"):
        backup_services.update_schedule(
            enabled=True, frequency="weekly", actor=staff_user, source=sources.USER
        )
    assert not backup_services.get_schedule().enabled


@pytest.mark.parametrize(("frequency", "days"), [("weekly", 7), ("biweekly", 14)])
def test_scheduled_backups_run_when_due(crm_schema, staff_user, frequency, days):
    backup_services.update_schedule(
        enabled=True, frequency=frequency, actor=staff_user, source=sources.USER
    )
    now = timezone.now()

    first = backup_services.run_scheduled_backups(now=now)
    assert first.kind == Backup.Kind.SCHEDULED
    assert backup_services.run_scheduled_backups(now=now + dt.timedelta(days=days - 1)) is None
    second = backup_services.run_scheduled_backups(now=first.created_at + dt.timedelta(days=days))
    assert second is not None and second.pk != first.pk
    # A scheduled backup does not use up the on-demand allowance.
    assert backup_services.create_backup(requested_by=staff_user, source=sources.USER)


def test_switched_off_schedule_starts_nothing(crm_schema):
    BackupSchedule.objects.create(pk=1, enabled=False)

    assert backup_services.run_scheduled_backups() is None
    assert not Backup.objects.exists()


def test_scheduled_backup_notifies_every_super_admin(contacts, staff_user):
    from tests.factories import UserFactory
    from tests.support.roles import ROLES, grant_role

    other_admin = UserFactory(is_superuser=True, is_staff=True)
    by_role = grant_role(UserFactory(is_staff=True), ROLES.SUPER_ADMIN)
    UserFactory(is_staff=True)  # staff, not a super admin: not told
    grant_role(UserFactory(is_staff=True), ROLES.ADMIN)  # an admin, not a super admin: not told
    create(contacts, {"email": "ada@example.com"})
    backup_services.update_schedule(
        enabled=True, frequency="weekly", actor=staff_user, source=sources.USER
    )
    backup = backup_services.run_scheduled_backups()

    backup_services.run_backup(backup_id=backup.pk)

    told = set(Notification.objects.values_list("user_id", flat=True))
    assert told == {staff_user.pk, other_admin.pk, by_role.pk}


def test_memory_stays_flat_as_the_data_grows(contacts):
    # given two data sets, the second four times the first
    def peak_bytes() -> int:
        with open("/dev/null", "wb") as out:  # the ZIP itself is not the point here
            tracemalloc.start()
            writer.write_backup_zip(_Sink(out))
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        return peak

    create(contacts, *({"email": f"p{i}@example.com", "firstname": "x" * 50} for i in range(2500)))
    small = peak_bytes()
    create(contacts, *({"email": f"q{i}@example.com", "firstname": "y" * 50} for i in range(7500)))

    # when both are backed up, then the peak of Python memory barely moves
    large = peak_bytes()
    assert large < small * 1.5 + 256 * 1024, (small, large)


class _Sink:
    """A write-only, seekable-enough stream for ZipFile that keeps nothing."""

    def __init__(self, out):
        self.out, self.pos = out, 0

    def write(self, data):
        self.pos += len(data)
        return len(data)

    def tell(self):
        return self.pos

    def flush(self):
        pass


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_change_committed_during_the_backup_is_all_out(settings, tmp_path):
    # given a deal, and a writer that commits changes while the backup runs
    ensure_standard_schema()
    deals = ObjectType.objects.get(name="deals")
    (deal,) = create(deals, {"dealname": "Old", "amount": 100})
    hook_calls = []
    original_header = writer._header

    def commit_from_another_connection(names):
        if not hook_calls:
            hook_calls.append(connection.in_atomic_block)

            def change():
                update(deals, deal, {"dealname": "New", "amount": 999})
                create(deals, {"dealname": "Added later"})
                connection.close()

            thread = threading.Thread(target=change)
            thread.start()
            thread.join()
        return original_header(names)

    writer._header = commit_from_another_connection
    try:
        # when the snapshot has begun and the other connection commits
        backup = make_backup()
    finally:
        writer._header = original_header

    # then the backup holds the values as they were at the snapshot: all out
    assert hook_calls == [True]
    rows = read_zip(backup)["deals.csv"]
    assert [(int(r["id"]), r["dealname"], r["amount"]) for r in rows] == [(deal, "Old", "100")]
    assert Record.objects.get(pk=deal).properties["amount"] == 999  # committed meanwhile
    # and the next backup has all of it
    Backup.objects.update(created_at=timezone.now() - dt.timedelta(days=2))
    later = read_zip(make_backup())["deals.csv"]
    assert [(r["dealname"], r["amount"]) for r in later] == [("New", "999"), ("Added later", "")]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_transfers_during_a_backup_never_show_half_done(tmp_path):
    # given deals whose amounts always sum to 10,000, moved around by a writer thread
    ensure_standard_schema()
    deals = ObjectType.objects.get(name="deals")
    ids = create(deals, *({"dealname": f"d{i}", "amount": 100} for i in range(100)))
    stop = threading.Event()
    transfers = []

    def transfer():
        from django.db import transaction

        from crm.services.records import RecordInput, write_records

        i = 0
        while not stop.is_set():
            a, b = ids[i % 100], ids[(i * 7 + 3) % 100]
            if a != b:
                with transaction.atomic():
                    values = dict(
                        Record.objects.select_for_update()
                        .filter(pk__in=[a, b])
                        .values_list("pk", "properties__amount")
                    )
                    write_records(
                        object_type=deals,
                        inputs=[
                            RecordInput(id=a, properties={"amount": values[a] - 1}),
                            RecordInput(id=b, properties={"amount": values[b] + 1}),
                        ],
                        mode="update",
                        source=sources.USER,
                    )
                transfers.append(i)
            i += 1
        connection.close()

    thread = threading.Thread(target=transfer)
    thread.start()
    try:
        # when backups are written while transfers commit
        sums = []
        for _ in range(5):
            Backup.objects.update(created_at=timezone.now() - dt.timedelta(days=2))
            rows = read_zip(make_backup())["deals.csv"]
            sums.append(sum(int(r["amount"]) for r in rows))
    finally:
        stop.set()
        thread.join()

    # then every backup shows the total intact: each transfer is all in or all out
    assert transfers, "the writer made no transfers"
    assert sums == [10_000] * 5
