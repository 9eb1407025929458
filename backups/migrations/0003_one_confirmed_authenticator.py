"""One confirmed authenticator per user (SPEC X-4), enforced by a partial unique index.

django-otp's TOTPDevice lives in another app, so the index is raw SQL that both SQLite and
PostgreSQL understand. Before it is created, a user with several confirmed devices keeps only the
oldest (a second one is what the enrolment bypass left behind) and unconfirmed set-ups of users
who have a confirmed device are dropped (starting one now needs a current code); each removal is
audited.
"""

from django.db import migrations
from django.utils import timezone

INDEX = "otp_totp_totpdevice_one_confirmed_per_user"


def keep_one_confirmed(apps, schema_editor):
    TOTPDevice = apps.get_model("otp_totp", "TOTPDevice")
    AuditEvent = apps.get_model("crm", "AuditEvent")
    kept: dict[int, int] = {}
    removed: dict[int, list[int]] = {}
    for pk, user_id in (
        TOTPDevice.objects.filter(confirmed=True)
        .order_by("user_id", "pk")
        .values_list("pk", "user_id")
    ):
        if user_id in kept:
            removed.setdefault(user_id, []).append(pk)
        else:
            kept[user_id] = pk
    for pk, user_id in TOTPDevice.objects.filter(
        confirmed=False, user_id__in=list(kept)
    ).values_list("pk", "user_id"):
        removed.setdefault(user_id, []).append(pk)
    now = timezone.now()
    for user_id, pks in removed.items():
        TOTPDevice.objects.filter(pk__in=pks).delete()
        AuditEvent.objects.create(
            at=now,
            actor=None,
            source="system",
            verb="authenticator_removed",
            target_repr=f"user {user_id}",
            detail={
                "user": user_id,
                "devices": pks,
                "kept": kept[user_id],
                "reason": "one confirmed authenticator per user",
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("backups", "0002_periodic_tasks"),
        ("crm", "0003_purge_schedule"),
        ("otp_totp", "0003_add_timestamps"),
    ]
    operations = [
        migrations.RunPython(keep_one_confirmed, migrations.RunPython.noop),
        migrations.RunSQL(
            f"CREATE UNIQUE INDEX {INDEX} ON otp_totp_totpdevice (user_id) WHERE confirmed",
            f"DROP INDEX IF EXISTS {INDEX}",
        ),
    ]
