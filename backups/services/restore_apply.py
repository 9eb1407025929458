"""Restore confirmation (tick and second factor) and application in batches.

Values are written through the record services with source=restore:<id>, so they are validated,
audited per record and seen by sync properties and integrations like any other change; the
services apply a batch set-based (one UPDATE per set of changed properties), and reuse the rows
this module read and locked to compare with the backup. Before a batch is written the values it
replaces are saved in the same transaction, so the restore can be rolled back; the batch's last
record id is saved too, so a restore whose worker died resumes where it stopped instead of
starting over (a batch interrupted midway rolls back whole and is written again).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from backups.errors import BackupError, RestoreInProgress
from backups.models import Backup, Restore, RestoreSavedValue
from backups.services import two_factor
from backups.services.restore_plan import (
    RecordDiff,
    batched,
    check_writable,
    current_values,
    diff_records,
    iter_source_rows,
)
from crm import sources
from crm.audit import record_audit
from crm.bulk_sql import insert_rows
from crm.gc_pause import collector_paused
from crm.models import ObjectType
from crm.schema import load_schema_for_write
from crm.services.record_planning import ItemResult
from crm.services.records import RecordInput, write_records
from notifications.models import Notification
from notifications.services import notify

logger = logging.getLogger(__name__)

# Records per transaction: each batch pays a few fixed statements (the schema under its lock,
# the change hooks' look-ups, the restore's progress), so it is as large as the record
# services' own chunks (crm.services.record_uniqueness.LOOKUP_CHUNK).
APPLY_BATCH_SIZE = 5000
# A running restore whose worker has not finished a batch for this long is taken to be dead.
STALE_AFTER = dt.timedelta(minutes=10)
MAX_REPORTED_ERRORS = 50


def restore_source(restore: Restore) -> str:
    return f"restore:{restore.pk}"


def active_restore() -> Restore | None:
    return (
        Restore.objects.filter(status__in=Restore.ACTIVE_STATUSES)
        .select_related("object_type")
        .first()
    )


def confirm_restore(
    *,
    restore: Restore,
    user,
    confirm_irreversible: bool,
    otp: str | None,
    sso: bool,
    source: str,
) -> Restore:
    """Check the tick and the second factor, then queue the restore (one at a time)."""
    sources.validate_source(source)
    if restore.status != Restore.Status.PLANNED:
        raise BackupError(
            f"{restore.name} (#{restore.pk}) is {restore.get_status_display().lower()}; "
            "only a planned restore can be confirmed."
        )
    if restore.rollback_of_id is None and restore.backup.status != Backup.Status.READY:
        raise BackupError(f"Backup #{restore.backup_id} has expired since the plan was made.")
    # A property may have become read-only (a sync property) since the plan was made.
    check_writable(object_type=restore.object_type, names=restore.properties)
    if confirm_irreversible is not True:
        raise BackupError(
            "Tick the box to confirm you understand the data will change and this cannot be "
            "undone.",
            field="confirm_irreversible",
        )
    if sso:
        verified_by = Restore.Verification.SSO
    else:
        if not two_factor.has_authenticator(user=user):
            raise BackupError(
                "A restore needs a code from an authenticator app: set one up first "
                "(admin: Two-factor authenticator; API: POST /api/v1/auth/totp/).",
                field="otp",
            )
        if not (otp or "").strip():
            raise BackupError("Enter the current code from your authenticator app.", field="otp")
        # Wrong: VerificationFailed; too many wrong in a row: VerificationThrottled.
        two_factor.check_code(user=user, code=otp, field="otp")
        verified_by = Restore.Verification.TOTP
    try:
        with transaction.atomic():
            claimed = Restore.objects.filter(pk=restore.pk, status=Restore.Status.PLANNED).update(
                status=Restore.Status.PENDING,
                confirmed_at=timezone.now(),
                confirmed_by=user,
                verified_by=verified_by,
            )
            if not claimed:
                raise BackupError(f"{restore.name} (#{restore.pk}) was confirmed already.")
            record_audit(
                verb="restore_confirmed",
                source=source,
                actor=user,
                object_type=restore.object_type,
                target_repr=restore.name,
                detail={"restore": restore.pk, "verified_by": verified_by},
            )
            transaction.on_commit(lambda: _enqueue_restore(restore.pk))
    except IntegrityError:
        # The database's one-active-restore constraint refused: say which one runs.
        active = active_restore()
        what = f"{active.name} (#{active.pk}) is {active.status}" if active else "another is"
        raise RestoreInProgress(
            f"One restore at a time: {what}. Try again when it has finished.", active=active
        ) from None
    restore.refresh_from_db()
    return restore


def _enqueue_restore(restore_id: int) -> None:
    from backups.tasks import apply_restore_task

    apply_restore_task.delay(restore_id=restore_id)


def apply_restore(*, restore_id: int) -> Restore | None:
    """Write a confirmed restore in batches; resumes a dead run; a second delivery no-ops."""
    now = timezone.now()
    claimed = Restore.objects.filter(
        Q(status=Restore.Status.PENDING)
        | Q(status=Restore.Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER),
        pk=restore_id,
    ).update(status=Restore.Status.RUNNING, started_at=now, heartbeat_at=now)
    if not claimed:
        return None
    restore = Restore.objects.select_related(
        "object_type", "backup", "requested_by", "confirmed_by"
    ).get(pk=restore_id)
    try:
        _apply_batches(restore)
    except Exception as exc:
        logger.exception("restore %s failed", restore.pk)
        _finish(restore, failed=f"{type(exc).__name__}: {exc}")
    else:
        _finish(restore)
    restore.refresh_from_db()
    return restore


def _apply_batches(restore: Restore) -> None:
    object_type = restore.object_type
    properties = list(restore.properties)
    source = restore_source(restore)
    actor = restore.confirmed_by or restore.requested_by
    rows = iter_source_rows(restore, after_id=restore.last_record_id)
    for batch in batched(rows, APPLY_BATCH_SIZE):
        with transaction.atomic(), collector_paused():
            # Loaded under the writers' schema lock, as the record services load it: the
            # values coerced against it below are the ones the write would coerce.
            schema = load_schema_for_write(object_type)
            # Locked so the saved "before" values are exactly the ones the update replaces.
            current = current_values(object_type, [r for r, _ in batch], lock=True)
            diffs, missing = diff_records(schema, properties, batch, current)
            items = _write_diffs(object_type, diffs, current, actor, source)
            errors = []
            saved = []
            for diff, item in zip(diffs, items, strict=True):
                if item.errors:
                    errors.append({"id": diff.record_id, "errors": item.errors})
                elif item.action == "updated":
                    before = {name: old for name, (old, _) in diff.changes.items()}
                    saved.append((restore.pk, diff.record_id, before))
            # COPY on PostgreSQL: saving the old values must not cost more than writing the new.
            insert_rows(
                RestoreSavedValue,
                ["restore_id", "record_id", "values"],
                saved,
                json_columns={"values"},
            )
            updated = len(saved)
            # The record services compare coerced values too; what they found equal is unchanged.
            equal = sum(1 for item in items if item.action == "unchanged")
            Restore.objects.filter(pk=restore.pk).update(
                last_record_id=batch[-1][0],
                heartbeat_at=timezone.now(),
                updated_count=F("updated_count") + updated,
                unchanged_count=F("unchanged_count") + (len(batch) - missing - len(diffs) + equal),
                missing_count=F("missing_count") + missing,
                failed_count=F("failed_count") + len(errors),
            )
            if errors:
                restore.refresh_from_db(fields=["errors"])
                room = MAX_REPORTED_ERRORS - len(restore.errors)
                if room > 0:
                    Restore.objects.filter(pk=restore.pk).update(
                        errors=restore.errors + errors[:room]
                    )


def _write_diffs(
    object_type: ObjectType, diffs: list[RecordDiff], current: dict, actor, source: str
) -> list[ItemResult]:
    """Write a batch's differing records through the record services; results in diff order.

    Diffing coerced every value against the batch's schema already: records whose values all
    passed are written as coerced, without a second coercion; a record holding a value no
    longer valid (an option removed since the backup) goes through the full check, which
    refuses it and says why.
    """
    items: dict[int, ItemResult] = {}
    for coerced in (True, False):
        group = [d for d in diffs if bool(d.invalid) is not coerced]
        if not group:
            continue
        result = write_records(
            object_type=object_type,
            inputs=[
                RecordInput(
                    id=d.record_id,
                    properties=(
                        {name: after for name, (_, after) in d.changes.items()}
                        if coerced
                        else d.raw
                    ),
                )
                for d in group
            ],
            mode="update",
            actor=actor,
            source=source,
            all_or_none=False,
            # Read and locked by the caller: the write need not read them again.
            locked_properties=current,
            values_coerced=coerced,
        )
        items.update(zip((d.record_id for d in group), result.items, strict=True))
    return [items[d.record_id] for d in diffs]


def _finish(restore: Restore, *, failed: str = "") -> None:
    restore.refresh_from_db()
    status = Restore.Status.FAILED if failed else Restore.Status.DONE
    with transaction.atomic():
        Restore.objects.filter(pk=restore.pk).update(
            status=status, finished_at=timezone.now(), error=failed[:5000]
        )
        counts = {
            "updated": restore.updated_count,
            "unchanged": restore.unchanged_count,
            "missing": restore.missing_count,
            "failed": restore.failed_count,
        }
        record_audit(
            verb="restore_failed" if failed else "restore_completed",
            source=restore_source(restore),
            actor=restore.confirmed_by or restore.requested_by,
            object_type=restore.object_type,
            target_repr=restore.name,
            detail={
                "restore": restore.pk,
                "backup": restore.backup_id,
                "rollback_of": restore.rollback_of_id,
                "properties": restore.properties,
                "counts": counts,
                **({"error": failed[:500]} if failed else {}),
            },
        )
        recipients = {u.pk: u for u in (restore.requested_by, restore.confirmed_by) if u}
        if failed:
            title = f"{restore.name} failed after {restore.updated_count:,} records"
            body = failed[:1000]
        else:
            title = f"{restore.name} is done: {restore.updated_count:,} records updated"
            body = (
                f"{restore.unchanged_count:,} already had the backup's values, "
                f"{restore.missing_count:,} no longer exist (not restored), "
                f"{restore.failed_count:,} refused."
            )
        notify(
            users=recipients.values(),
            kind=Notification.Kind.RESTORE_FAILED if failed else Notification.Kind.RESTORE_DONE,
            title=title,
            body=body,
            link=reverse("admin:backups_restore_change", args=[restore.pk]),
        )
