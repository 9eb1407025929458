"""Backup and restore benchmarks on PostgreSQL (database concord_bench_bk on DATABASE_URL's server).

Prints one figure a line:
- backup of 100,000 contacts: rows/s, beside a bare `COPY (SELECT …) TO STDOUT` + zip of the same
  rows, and the peak RSS growth at 20,000 and at 100,000 contacts (it must not grow with the data);
- restore of 100,000 contacts x 5 properties: plan and apply in values/s, beside a raw
  `UPDATE … FROM unnest(…)` writing the same values.

Run from the repository root: .venv/bin/python tests/perf/bench_backups.py
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
DATABASE = "concord_bench_bk"
TOTAL = 100_000
FIRST = 20_000
RESTORED = ["firstname", "lastname", "company", "city", "jobtitle"]


def main() -> int:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("backup_rows_per_s: skipped (needs PostgreSQL: set DATABASE_URL)")
        return 0
    _use_database()
    from config.celery import app

    # The restore's task runs in this process when the confirmation commits.
    app.conf.task_always_eager = True
    contacts = _reset()
    _seed(contacts, 0, FIRST)
    small = _backup_once()
    _seed(contacts, FIRST, TOTAL)
    large = _backup_once()
    copy_seconds = _bare_copy_zip(contacts)
    print(f"backup_rows_per_s: {TOTAL / large['seconds']:,.0f} rows/s ({TOTAL:,} contacts)")
    print(
        f"backup_copy_zip_rows_per_s: {TOTAL / copy_seconds:,.0f} rows/s "
        "(bare COPY TO STDOUT + zip of the same rows)"
    )
    print(f"backup_vs_copy_ratio: {copy_seconds / large['seconds']:.2f} (target >= 0.5)")
    print(f"backup_peak_rss_growth_20k: {small['rss_growth'] / 1_048_576:.1f} MB")
    print(f"backup_peak_rss_growth_100k: {large['rss_growth'] / 1_048_576:.1f} MB (target <= 200)")
    print(f"backup_zip_size: {large['backup'].size / 1_048_576:.1f} MB")
    _bench_restore(contacts, large["backup"])
    return 0


def _use_database() -> None:
    # Backups are written under the var directory: a throwaway one.
    os.environ.setdefault("CONCORD_VAR_DIR", tempfile.mkdtemp(prefix="concord-bench-bk-"))
    sys.path.insert(0, str(ROOT))
    from tests.perf._setup import use_benchmark_database

    use_benchmark_database(DATABASE)


def _reset():
    from django.db import connection

    from crm.models import ObjectType

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE crm_record, crm_association, crm_auditevent, backups_restoresavedvalue, "
            "backups_restore, backups_backup, notifications_notification CASCADE"
        )
    return ObjectType.objects.get(name="contacts")


def _seed(contacts, start: int, stop: int) -> None:
    """Bench data, COPYed straight in (the set-up is not what is measured)."""
    from django.db import transaction
    from django.utils import timezone

    from crm.bulk_sql import allocate_ids, insert_rows
    from crm.models import Record

    now = timezone.now()
    stages = ["lead", "customer", "subscriber", "opportunity"]
    for chunk in range(start, stop, 10_000):
        n = min(10_000, stop - chunk)
        with transaction.atomic():
            ids = allocate_ids(Record, n)
            rows = []
            for pk, i in zip(ids, range(chunk, chunk + n), strict=True):
                props = {
                    "email": f"person{i}@example.com",
                    "firstname": f"First{i}",
                    "lastname": f"Last{i}",
                    "phone": f"+1 555 {i:07d}",
                    "company": f"Company {i % 5000}",
                    "city": ["Oslo", "Lyon", "Kraków", "Aarhus"][i % 4],
                    "jobtitle": "Engineer" if i % 3 else "Manager",
                    "lifecyclestage": stages[i % 4],
                    "notes": f'Met at "Expo {i % 7}", follow up, ask about pricing',
                }
                rows.append((pk, contacts.pk, props, {}, now, now))
            insert_rows(
                Record,
                [
                    "id",
                    "object_type_id",
                    "properties",
                    "property_changes",
                    "created_at",
                    "updated_at",
                ],
                rows,
                json_columns={"properties", "property_changes"},
            )


def _rss(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _backup_once() -> dict:
    from backups.models import Backup
    from backups.services import backups as backup_services

    # The row the request service would queue (its frequency limit is not what is measured).
    backup = Backup.objects.create(kind=Backup.Kind.MANUAL)
    before = _rss("VmRSS")
    with contextlib.suppress(OSError):
        # Resets the peak (VmHWM) to the current RSS, so the peak below is this backup's.
        Path("/proc/self/clear_refs").write_text("5")
    started = time.perf_counter()
    backup_services.run_backup(backup_id=backup.pk)
    seconds = time.perf_counter() - started
    backup.refresh_from_db()
    assert backup.status == Backup.Status.READY, backup.error
    return {"seconds": seconds, "rss_growth": max(0, _rss("VmHWM") - before), "backup": backup}


def _bare_copy_zip(contacts) -> float:
    from django.db import connection, transaction

    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        raw = cursor.cursor
        with (
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive,
            archive.open("contacts.csv", "w", force_zip64=True) as entry,
            raw.copy(
                "COPY (SELECT id, created_at, updated_at, properties FROM crm_record "
                f"WHERE object_type_id = {int(contacts.pk)} AND archived_at IS NULL "
                "ORDER BY id) TO STDOUT WITH (FORMAT csv)"
            ) as copy,
        ):
            for block in copy:
                entry.write(block)
    return time.perf_counter() - started


def _mangle(contacts) -> None:
    """A bad import: every restored property of every contact changed, a tenth of cities gone."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE crm_record SET properties = (properties || jsonb_build_object("
            "'firstname', 'X' || id, 'lastname', 'Y' || id, 'company', 'Z' || id, "
            "'jobtitle', 'Intern')) - CASE WHEN id %% 10 = 0 THEN 'city' ELSE '' END "
            "WHERE object_type_id = %s",
            [contacts.pk],
        )
        cursor.execute(
            'UPDATE crm_record SET properties = properties || \'{"city": "Nowhere"}\' '
            "WHERE object_type_id = %s AND id %% 10 <> 0",
            [contacts.pk],
        )


def _bench_restore(contacts, backup) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from backups.models import Restore
    from backups.services import restore_apply, restore_plan
    from backups.services.restore_plan import iter_backup_rows
    from crm import sources
    from crm.bulk_sql import dump_json

    values = TOTAL * len(RESTORED)
    _mangle(contacts)
    started = time.perf_counter()
    restore = restore_plan.plan_restore(
        backup=backup,
        object_type_name="contacts",
        properties=RESTORED,
        actor=None,
        source=sources.SYSTEM,
    )
    plan_seconds = time.perf_counter() - started
    assert restore.plan["changing_records"] == TOTAL, restore.plan["changing_records"]
    started = time.perf_counter()
    restore_apply.confirm_restore(
        restore=restore,
        user=None,
        confirm_irreversible=True,
        otp=None,
        sso=True,
        source=sources.SYSTEM,
    )
    apply_seconds = time.perf_counter() - started
    restore.refresh_from_db()
    assert restore.status == Restore.Status.DONE and restore.updated_count == TOTAL, restore.error

    # The same values written by one raw statement: the floor of what a database can do.
    _mangle(contacts)
    ids, patches = [], []
    for record_id, row in iter_backup_rows(
        backup=backup, object_type_name="contacts", properties=RESTORED
    ):
        ids.append(record_id)
        patches.append(dump_json({k: v for k, v in row.items() if v != ""}))
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE crm_record AS r SET properties = r.properties || v.p, updated_at = %s "
            "FROM unnest(%s::bigint[], %s::jsonb[]) AS v(id, p) WHERE r.id = v.id",
            [timezone.now(), ids, patches],
        )
    raw_seconds = time.perf_counter() - started

    print(
        f"restore_plan_values_per_s: {values / plan_seconds:,.0f} values/s ({plan_seconds:.1f} s)"
    )
    print(
        f"restore_apply_values_per_s: {values / apply_seconds:,.0f} values/s "
        f"({TOTAL:,} records x {len(RESTORED)} properties, {apply_seconds:.1f} s, audited)"
    )
    print(f"restore_raw_update_values_per_s: {values / raw_seconds:,.0f} values/s (UPDATE … FROM)")
    print(f"restore_vs_raw_ratio: {raw_seconds / apply_seconds:.2f} (target >= 0.4)")


if __name__ == "__main__":
    sys.exit(main())
