"""Shared set-up of the sync-error benchmarks: one integration with records and errors made
set-based in PostgreSQL (generate_series), kept between runs when already there."""

from __future__ import annotations

# Every tenth message of a "tricky" set starts like a formula and has a comma, a quote and a
# newline: an export's neutralising and quoting are then part of what is measured.
PLAIN_MESSAGE = "'Salesforce said no to record ' || g"
TRICKY_MESSAGE = (
    "CASE WHEN g % 10 = 0 THEN '=HYPERLINK(\"x\", 1), ' || chr(10) || 'é ' || g "
    "ELSE 'Salesforce said no to record ' || g END"
)


def ensure_errors(name: str, *, records: int, errors: int, tricky: bool = False):
    """The integration `name`: `records` contacts and `errors` errors over them (95 % open,
    one affected record each), with the health cards' counts; made once, then reused."""
    from django.db import connection

    from crm.models import ObjectType
    from syncengine.models import Integration, SyncError, SyncErrorCount
    from syncengine.services.errors import rebuild_error_counts

    integration = Integration.objects.filter(name=name).first()
    if integration and integration.errors.count() == errors:
        # Data of an earlier run: the cards' counts are there unless it predates them.
        if not SyncErrorCount.objects.filter(integration=integration).exists():
            rebuild_error_counts(integration=integration)
        return integration
    contacts = ObjectType.objects.get(name="contacts")
    message = (TRICKY_MESSAGE if tricky else PLAIN_MESSAGE).replace("%", "%%")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE crm_record, syncengine_integration RESTART IDENTITY CASCADE")
        integration = Integration.objects.create(
            name=name, instance_url="https://bench.my.salesforce.com", api_limit=100000
        )
        cursor.execute(
            """
            INSERT INTO crm_record (object_type_id, properties, property_changes, created_at,
                                    updated_at)
            SELECT %s, jsonb_build_object('email', 'u' || g || '@x.com', 'lastname', 'L' || g),
                   '{}'::jsonb, now(), now()
            FROM generate_series(1, %s) g
            """,
            [contacts.pk, records],
        )
        cursor.execute(
            f"""
            INSERT INTO syncengine_syncerror (integration_id, category, code, message, direction,
                object_type_id, record_id, remote_object, remote_id, remote_field, property_name,
                details, key, first_seen_at, last_seen_at, occurrences, status)
            SELECT %s, (%s::text[])[1 + g %% 8], 'CODE_' || (g %% 50), {message}, 'push', %s,
                   1 + g %% %s, 'Contact', '003' || lpad(g::text, 15, '0'), 'LastName',
                   'lastname', '{{"fields": ["LastName"], "value": "-1"}}'::jsonb, md5(g::text),
                   now() - make_interval(secs => g), now() - make_interval(secs => g / 2),
                   1 + g %% 5, CASE WHEN g %% 20 = 0 THEN 'resolved' ELSE 'open' END
            FROM generate_series(1, %s) g
            """,  # the message is one of the two constants above
            [integration.pk, list(SyncError.Category.values), contacts.pk, records, errors],
        )
        cursor.execute(
            """
            INSERT INTO syncengine_syncerroraffectedrecord (error_id, record_id)
            SELECT id, record_id FROM syncengine_syncerror WHERE integration_id = %s
            """,
            [integration.pk],
        )
    # The rows went in around the error service: count the cards once, as the service would.
    rebuild_error_counts(integration=integration)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return integration
