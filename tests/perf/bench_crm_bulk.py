"""Bulk upsert of 100,000 contacts through the record service vs a raw COPY of the same rows.

Both write the same table with the same indexes; the service also validates and coerces every
value, matches existing records by email, stamps per-property changes and writes one audit
event per record.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
from tests.perf._setup import skip, use_benchmark_database

ROWS = 100_000
CHUNK = 5_000


def contact_rows(n: int) -> list[dict]:
    stages = ["lead", "customer", "opportunity", "subscriber"]
    return [
        {
            "email": f"bench{i}@example.com",
            "firstname": f"First{i}",
            "lastname": f"Last{i % 997}",
            "phone": f"+1 555 {i % 10_000:04d}",
            "company": f"Company {i % 5000}",
            "jobtitle": "Engineer",
            "city": "Springfield",
            "country": "United States",
            "lifecyclestage": stages[i % 4],
            "lead_status": "new",
        }
        for i in range(n)
    ]


def reset(cursor) -> None:
    cursor.execute("TRUNCATE crm_record, crm_auditevent, crm_association RESTART IDENTITY CASCADE")


def upsert_in_chunks(contacts, rows: list[dict]) -> None:
    """Upsert the rows by email through the service, CHUNK at a time, as an import does."""
    from crm import sources
    from crm.services.records import RecordInput, write_records

    for start in range(0, len(rows), CHUNK):
        write_records(
            object_type=contacts,
            mode="upsert",
            id_property="email",
            source=sources.IMPORT,
            inputs=[RecordInput(properties=r) for r in rows[start : start + CHUNK]],
        )


def main() -> None:
    if not use_benchmark_database("concord_bench_crm"):
        skip("crm bulk upsert 100,000 contacts")
        return
    from django.db import connection
    from django.utils import timezone

    from crm.models import ObjectType

    contacts = ObjectType.objects.get(name="contacts")
    rows = contact_rows(ROWS)

    with connection.cursor() as cursor:
        reset(cursor)
    started = time.perf_counter()
    upsert_in_chunks(contacts, rows)
    service_s = time.perf_counter() - started

    # A second pass that changes one property of every record: the update path.
    for r in rows:
        r["jobtitle"] = "Senior engineer"
    started = time.perf_counter()
    upsert_in_chunks(contacts, rows)
    update_s = time.perf_counter() - started

    with connection.cursor() as cursor:
        reset(cursor)
        now = timezone.now()
        stamp = {"at": now.isoformat(), "source": "import"}
        started = time.perf_counter()
        with cursor.cursor.copy(
            "COPY crm_record (object_type_id, properties, property_changes, created_at, "
            "updated_at) FROM STDIN"
        ) as copy:
            for r in rows:
                copy.write_row(
                    (contacts.pk, json.dumps(r), json.dumps(dict.fromkeys(r, stamp)), now, now)
                )
        copy_s = time.perf_counter() - started
        reset(cursor)

    service_rate, copy_rate = ROWS / service_s, ROWS / copy_s
    print(
        f"crm bulk upsert (service, new): {service_rate:,.0f} records/s "
        f"({ROWS:,} contacts x 10 properties in {service_s:.1f} s, chunks of {CHUNK:,})"
    )
    print(f"crm bulk upsert (service, update): {ROWS / update_s:,.0f} records/s ({update_s:.1f} s)")
    print(f"crm raw COPY of the same rows: {copy_rate:,.0f} records/s ({copy_s:.1f} s)")
    print(f"crm service / COPY rate ratio: {service_rate / copy_rate:.2f} (target >= 0.25)")
    print(
        f"crm service updates / COPY rate ratio: {ROWS / update_s / copy_rate:.2f} (target >= 0.25)"
    )


if __name__ == "__main__":
    main()
