"""Sync cycles: start one (at most one active per integration), claim it, run its stages.

Stages run in order: sync schema; per object (dependency order) pull updates, pull deletes and,
for Leads, pull conversions; per object push new and push updates; update foreign keys (reference
fields, and junction objects such as OpportunityContactRole both ways). Every stage is a
SyncStage row. Remote calls go through the metered connector: when the allocation is
used up the running stage and the cycle end as Incomplete, and the next cycle resumes from the
watermarks and dirty flags, which are the database's record of pending work.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm.errors import AssociationError, CrmError, ValueCode
from crm.models import Association, Record
from crm.services.associations import associate_records, dissociate
from crm.services.records import RecordInput, archive_records, restore_records, write_records
from crm.sources import integration_source
from syncengine.connectors import codec_for
from syncengine.connectors.base import (
    AuthError,
    BudgetExhausted,
    ConnectorError,
    RemoteRequestError,
    WriteOutcome,
)
from syncengine.connectors.salesforce import mapping as sf
from syncengine.connectors.salesforce.client import COLLECTION_SIZE, TRANSIENT_CODES
from syncengine.errors import IntegrationNotActive
from syncengine.models import (
    FieldMapping,
    Integration,
    ObjectMapping,
    RecordLink,
    ReferenceMapping,
    SyncCycle,
    SyncError,
    SyncRule,
    SyncStage,
)
from syncengine.services.errors import (
    record_sync_error,
    resolve_record_errors,
    resolve_schema_errors,
)
from syncengine.services.integrations import build_connector, mark_needs_reconnect
from syncengine.services.usage import DatabaseMeter

logger = logging.getLogger(__name__)

# Records committed late can carry a SystemModstamp older than the newest one already seen;
# re-reading this window each time (changes there are no-ops when nothing changed) and using
# >= (never >) on the watermark means neither late nor equal timestamps are missed.
OVERLAP = dt.timedelta(minutes=2)
PULL_BATCH = 500
BULK_THRESHOLD = 2000
BULK_JOB_SIZE = 10_000
BULK_MIN_CALLS = 20
SCHEMA_MAX_AGE = dt.timedelta(hours=1)
PULL_DIRECTIONS = (ObjectMapping.Direction.TWO_WAY, ObjectMapping.Direction.FROM_REMOTE)
PUSH_DIRECTIONS = (ObjectMapping.Direction.TWO_WAY, ObjectMapping.Direction.TO_REMOTE)
PUSHING_RULES = {SyncRule.TWO_WAY, SyncRule.ALWAYS_CONCORD, SyncRule.PREFER_REMOTE_UNLESS_BLANK}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def lease() -> dt.timedelta:
    """How long a claimed cycle stays its worker's without a renewal."""
    return dt.timedelta(seconds=settings.CONCORD_SYNC_LEASE_SECONDS)


class CycleStopped(Exception):
    """The cycle cannot go on (budget, tokens); the stage and cycle are already marked."""


# --- starting and claiming ------------------------------------------------------------------


def start_cycle(
    *, integration: Integration, trigger: str = "manual", actor=None
) -> tuple[SyncCycle, bool]:
    """Queue a cycle unless one is queued or running (the database refuses a second one)."""
    if integration.status != Integration.Status.ACTIVE:
        raise IntegrationNotActive(f"{integration} is {integration.get_status_display().lower()}")
    try:
        with transaction.atomic():
            cycle = SyncCycle.objects.create(
                integration=integration,
                trigger=trigger,
                requested_by=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError:
        active = SyncCycle.objects.filter(
            integration=integration, status__in=SyncCycle.ACTIVE
        ).first()
        if active is None:  # it finished in between: try once more
            return start_cycle(integration=integration, trigger=trigger, actor=actor)
        _wake(active)
        return active, False
    from syncengine.tasks import run_cycle_task

    transaction.on_commit(lambda: run_cycle_task.delay(cycle_id=cycle.pk))
    return cycle, True


def _wake(cycle: SyncCycle) -> None:
    """Asked to sync while a cycle is active: make sure a worker takes it up. One whose worker
    died is claimable as soon as its lease runs out, so a task is sent for that moment (now if
    it has passed) instead of waiting for beat; with a live worker the claim simply fails."""
    from syncengine.tasks import run_cycle_task

    eta = cycle.lease_until if cycle.status == SyncCycle.Status.RUNNING else None
    if eta is not None and eta > timezone.now():
        # A moment after the lease's end, so the claim sees it expired.
        eta += dt.timedelta(seconds=1)
        transaction.on_commit(
            lambda: run_cycle_task.apply_async(kwargs={"cycle_id": cycle.pk}, eta=eta)
        )
    else:
        transaction.on_commit(lambda: run_cycle_task.delay(cycle_id=cycle.pk))


def claim_cycle(*, cycle_id: int) -> SyncCycle | None:
    """Take a queued cycle (or one whose worker died: its lease ran out); None if taken."""
    now = timezone.now()
    claimed = (
        SyncCycle.objects.filter(pk=cycle_id)
        .filter(
            Q(status=SyncCycle.Status.QUEUED)
            | Q(status=SyncCycle.Status.RUNNING, lease_until__lt=now)
        )
        .update(
            status=SyncCycle.Status.RUNNING,
            started_at=Coalesce(F("started_at"), Value(now)),
            lease_until=now + lease(),
        )
    )
    if not claimed:
        return None
    return SyncCycle.objects.select_related("integration").get(pk=cycle_id)


def run_cycle(*, cycle_id: int, connector=None) -> SyncCycle | None:
    """Claim and run a cycle; a second delivery of the same cycle does nothing."""
    cycle = claim_cycle(cycle_id=cycle_id)
    if cycle is None:
        return None
    CycleRunner(cycle, connector=connector).run()
    cycle.refresh_from_db()
    return cycle


def schedule_due_cycles(*, now: dt.datetime | None = None) -> list[int]:
    """Start a cycle for each active integration whose interval has passed; re-queue cycles
    whose worker died (their lease ran out). Safe to run twice."""
    now = now or timezone.now()
    started = []
    stale = SyncCycle.objects.filter(status=SyncCycle.Status.RUNNING, lease_until__lt=now)
    from syncengine.tasks import run_cycle_task

    for cycle_id in stale.values_list("pk", flat=True):
        transaction.on_commit(lambda pk=cycle_id: run_cycle_task.delay(cycle_id=pk))
    for integration in Integration.objects.filter(status=Integration.Status.ACTIVE):
        last = integration.cycles.order_by("-created_at").values_list("created_at", flat=True)
        last_at = last.first()
        interval = dt.timedelta(minutes=max(1, integration.sync_interval_minutes))
        if last_at is not None and now - last_at < interval - dt.timedelta(seconds=5):
            continue
        cycle, created = start_cycle(integration=integration, trigger="schedule")
        if created:
            started.append(cycle.pk)
    return started


def prune_stages(*, days: int = 30, now: dt.datetime | None = None) -> int:
    """Delete finished cycles (and their stages) older than `days`."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    return (
        SyncCycle.objects.filter(created_at__lt=cutoff)
        .exclude(status__in=SyncCycle.ACTIVE)
        .delete()[0]
    )


# --- the runner -------------------------------------------------------------------------------


@dataclass
class _Fields:
    """The usable mappings of one object mapping, after the schema check."""

    fields: list[FieldMapping] = field(default_factory=list)
    pushable: set[int] = field(default_factory=set)  # field mapping ids Salesforce lets us write
    refs: list[ReferenceMapping] = field(default_factory=list)
    junctions: list[ReferenceMapping] = field(default_factory=list)  # e.g. OpportunityContactRole
    has_external_id: bool = True


class CycleRunner:
    """Runs the stages of one claimed cycle."""

    def __init__(self, cycle: SyncCycle, connector=None) -> None:
        self.cycle = cycle
        self.integration = cycle.integration
        self.source = integration_source(self.integration.pk)
        # The remote system's mapping knowledge: value forms, match keys, error categories.
        self.codec = codec_for(self.integration.kind)
        self.ext = self.codec.EXTERNAL_ID_FIELD
        # Who wins a field both sides changed: "local" (Concord), "remote", or the newer change.
        self.conflict_winner = (self.integration.settings or {}).get("conflict_winner", "newest")
        self.meter = getattr(connector, "meter", None) or DatabaseMeter(self.integration)
        self._connector = connector
        self.mappings = list(
            ObjectMapping.objects.filter(integration=self.integration, enabled=True)
            .select_related("object_type")
            .prefetch_related("field_mappings__property__options", "reference_mappings__definition")
            .order_by("sync_order", "pk")
        )
        self.by_id = {om.pk: om for om in self.mappings}
        self.usable: dict[int, _Fields] = {}
        self.pulled_from: dict[int, dt.datetime | None] = {}
        # Sync tokens of pulls whose deletes are not applied yet (saved after pull deletes).
        self.next_cursor: dict[int, str] = {}
        self.crashed_push = False  # set by run(): a dead worker's push stage was found

    @property
    def connector(self):
        if self._connector is None:
            self._connector = build_connector(integration=self.integration, meter=self.meter)
        return self._connector

    def run(self) -> None:
        # Stages a dead worker left in progress ended with it.
        stale = SyncStage.objects.filter(cycle=self.cycle, status=SyncStage.Status.IN_PROGRESS)
        # A push it was in may have left a Bulk API job open: the next push aborts it.
        self.crashed_push = stale.filter(
            operation__in=[SyncStage.Operation.PUSH_NEW, SyncStage.Operation.PUSH_UPDATES]
        ).exists()
        stale.update(
            status=SyncStage.Status.FAILED,
            ended_at=timezone.now(),
            message="The worker running this stage stopped; the cycle was resumed.",
        )
        status, message = SyncCycle.Status.SUCCESS, ""
        try:
            self.sync_schema()
            for om in self.mappings:
                if om.direction in PULL_DIRECTIONS:
                    self.pull_updates(om)
                    self.pull_deletes(om)
                    if om.remote_object == "Lead":
                        self.pull_conversions(om)
            for om in self.mappings:
                if om.direction in PUSH_DIRECTIONS:
                    self.push(om, new=True)
                    self.push(om, new=False)
            self.update_foreign_keys()
        except BudgetExhausted as exc:
            status, message = SyncCycle.Status.INCOMPLETE, str(exc)
        except AuthError as exc:
            status, message = SyncCycle.Status.FAILED, f"authentication failed: {exc}"
            mark_needs_reconnect(integration=self.integration, reason=str(exc))
        except CycleStopped as exc:
            status, message = SyncCycle.Status.FAILED, str(exc)
        except Exception as exc:  # the cycle must end; the stage row holds the details
            logger.exception("sync cycle %s failed", self.cycle.pk)
            status, message = SyncCycle.Status.FAILED, f"{type(exc).__name__}: {exc}"
        except BaseException:
            # Interrupted (worker shutdown): the cycle stays running until its lease runs out,
            # then a worker reclaims it and resumes from the dirty flags and watermarks.
            self.meter.flush()
            raise
        self.meter.flush()
        SyncCycle.objects.filter(pk=self.cycle.pk).update(
            status=status,
            ended_at=timezone.now(),
            lease_until=None,
            message=message[:5000],
            api_calls=F("api_calls") + self.meter.calls,
        )

    # --- stage bookkeeping -----------------------------------------------------------------

    @contextmanager
    def stage(self, operation: str, om: ObjectMapping | None = None) -> Iterator[SyncStage]:
        self.renew_lease()
        stage = SyncStage.objects.create(
            cycle=self.cycle,
            integration=self.integration,
            object_type=om.object_type if om else None,
            remote_object=om.remote_object if om else "",
            operation=operation,
            started_at=timezone.now(),
        )
        calls = self.meter.calls
        try:
            yield stage
        except BudgetExhausted as exc:
            self._end(stage, SyncStage.Status.INCOMPLETE, calls, str(exc))
            raise
        except (ConnectorError, Exception) as exc:
            self._end(stage, SyncStage.Status.FAILED, calls, f"{type(exc).__name__}: {exc}")
            raise
        else:
            status = SyncStage.Status.SUCCESS
            previous = (
                SyncStage.objects.filter(
                    integration=self.integration,
                    operation=operation,
                    remote_object=stage.remote_object,
                )
                .exclude(pk=stage.pk)
                .order_by("-started_at", "-pk")
                .values_list("status", flat=True)
                .first()
            )
            # Finishing what a failed or incomplete stage left behind is a clean-up.
            if previous in (SyncStage.Status.FAILED, SyncStage.Status.INCOMPLETE) and (
                stage.new or stage.updated or stage.deleted or stage.failed
            ):
                status = SyncStage.Status.CLEANUP
            self._end(stage, status, calls, stage.message)

    def _end(self, stage: SyncStage, status: str, calls_before: int, message: str) -> None:
        stage.status = status
        stage.ended_at = timezone.now()
        stage.api_calls = self.meter.calls - calls_before
        stage.message = message[:5000]
        stage.save()

    def renew_lease(self) -> None:
        SyncCycle.objects.filter(pk=self.cycle.pk).update(lease_until=timezone.now() + lease())

    def error(self, **kwargs) -> SyncError:
        return record_sync_error(integration=self.integration, **kwargs)

    # --- sync schema -----------------------------------------------------------------------

    def sync_schema(self) -> None:
        with self.stage(SyncStage.Operation.SYNC_SCHEMA) as stage:
            notes = []
            now = timezone.now()
            for om in self.mappings:
                fresh = om.schema_checked_at and now - om.schema_checked_at < SCHEMA_MAX_AGE
                if not fresh or not om.remote_schema:
                    described = self.connector.describe(om.remote_object)
                    schema = {
                        name: {
                            "type": f.type,
                            "label": f.label,
                            "createable": f.createable,
                            "updateable": f.updateable,
                            "restricted": f.restricted_picklist,
                            "picklist": list(f.picklist_values),
                        }
                        for name, f in described.items()
                    }
                    notes.extend(_schema_changes(om.remote_object, om.remote_schema, schema))
                    om.remote_schema, om.schema_checked_at = schema, now
                    ObjectMapping.objects.filter(pk=om.pk).update(
                        remote_schema=schema, schema_checked_at=now
                    )
                    stage.updated += 1
                else:
                    stage.skipped += 1
                self.usable[om.pk] = self._check_mappings(om, stage)
            stage.message = "; ".join(notes)

    def _check_mappings(self, om: ObjectMapping, stage: SyncStage) -> _Fields:
        schema = om.remote_schema
        refs = list(om.reference_mappings.all())
        usable = _Fields(
            refs=[r for r in refs if r.remote_field not in sf.JUNCTIONS],
            junctions=[r for r in refs if r.remote_field in sf.JUNCTIONS],
            has_external_id=self.ext in schema,
        )
        problems: set[str] = set()
        for fm in om.field_mappings.all():
            if fm.rule == SyncRule.DONT_SYNC:
                continue
            remote = schema.get(fm.remote_field)
            common = {
                "direction": SyncError.Direction.SCHEMA,
                "object_type_id": om.object_type_id,
                "remote_object": om.remote_object,
                "remote_field": fm.remote_field,
                "property_name": fm.property.name,
            }
            if remote is None:
                # Describe lists only the fields the integration user can see.
                problems.add(fm.remote_field)
                self.error(
                    category=SyncError.Category.PERMISSIONS,
                    code="FIELD_NOT_ACCESSIBLE",
                    message=f"{om.remote_object}.{fm.remote_field} does not exist or is hidden "
                    "from the integration user (field-level security).",
                    **common,
                )
                continue
            if not self.codec.is_compatible(fm.property.type, remote["type"]):
                problems.add(fm.remote_field)
                self.error(
                    category=SyncError.Category.PROPERTY_MAPPINGS,
                    code="INCOMPATIBLE_FIELD_TYPE",
                    message=f"{fm.property.name} ({fm.property.type}) cannot sync with "
                    f"{om.remote_object}.{fm.remote_field} ({remote['type']}).",
                    **common,
                )
                continue
            usable.fields.append(fm)
            writable = remote["createable"] or remote["updateable"]
            if fm.rule in PUSHING_RULES and not writable:
                problems.add(fm.remote_field)
                self.error(
                    category=SyncError.Category.PERMISSIONS,
                    code="FIELD_NOT_UPDATEABLE",
                    message=f"The integration user can read but not edit "
                    f"{om.remote_object}.{fm.remote_field}; Concord's changes to "
                    f"{fm.property.name} are not sent.",
                    **common,
                )
            elif writable:
                usable.pushable.add(fm.pk)
        if not usable.has_external_id and om.direction in PUSH_DIRECTIONS:
            self.error(
                category=SyncError.Category.PROPERTY_MAPPINGS,
                code="EXTERNAL_ID_MISSING",
                message=f"{om.remote_object} has no {self.ext} external-id field; Concord cannot "
                "create records there without risking duplicates.",
                direction=SyncError.Direction.SCHEMA,
                object_type_id=om.object_type_id,
                remote_object=om.remote_object,
                remote_field=self.ext,
            )
        # Schema errors of fields that are fine now resolve themselves (counted off the cards).
        resolve_schema_errors(
            integration=self.integration,
            remote_object=om.remote_object,
            failing_fields=problems | ({self.ext} if not usable.has_external_id else set()),
        )
        stage.failed += len(problems)
        return usable

    # --- pull ------------------------------------------------------------------------------

    def pull_updates(self, om: ObjectMapping) -> None:
        usable = self.usable[om.pk]
        with self.stage(SyncStage.Operation.PULL_UPDATES, om) as stage:
            fields = [fm.remote_field for fm in usable.fields]
            fields += [r.remote_field for r in usable.refs if r.remote_field in om.remote_schema]
            if usable.has_external_id:
                fields.append(self.ext)
            self.pulled_from[om.pk] = om.watermark
            if getattr(self.codec, "INCREMENTAL", "") == "cursor":  # Google's sync token
                rows = self.connector.pull_changes(
                    om.remote_object, fields, None, cursor=om.pull_cursor
                )
            else:
                since = om.watermark - OVERLAP if om.watermark else None
                since_literal = self.codec.soql_datetime(since) if since else None
                rows = self.connector.pull_changes(om.remote_object, fields, since_literal)
            batch: list[dict] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= PULL_BATCH:
                    self._apply_pulled(om, usable, batch, stage)
                    batch = []
            if batch:
                self._apply_pulled(om, usable, batch, stage)
            # Contacts outside the Google-side filters (SPEC G-3) are left out, not created.
            stage.skipped += getattr(rows, "excluded", 0)
            cursor = getattr(rows, "cursor", None)
            if cursor:
                self.next_cursor[om.pk] = cursor

    def _apply_pulled(
        self, om: ObjectMapping, usable: _Fields, rows: list[dict], stage: SyncStage
    ) -> None:
        # Records, links and the watermark commit together: a crash re-pulls the whole batch
        # and finds nothing half-linked (no duplicate Concord records).
        with transaction.atomic():
            self._apply_pulled_batch(om, usable, rows, stage)
        self.renew_lease()

    def _apply_pulled_batch(
        self, om: ObjectMapping, usable: _Fields, rows: list[dict], stage: SyncStage
    ) -> None:
        schema = om.remote_schema
        remote_rows = {}
        for row in rows:
            values = {
                name: self.codec.normalize_remote(
                    row.get(name), schema.get(name, {}).get("type", "string")
                )
                for name in row
                if name not in ("Id", "SystemModstamp")
            }
            stamp = self.codec.parse_remote_datetime(row["SystemModstamp"])
            remote_rows[row["Id"]] = (values, stamp)
        links = {
            link.remote_id: link
            for link in RecordLink.objects.filter(
                integration=self.integration,
                remote_object=om.remote_object,
                remote_id__in=list(remote_rows),
            ).select_related("record")
        }
        unlinked = [rid for rid in remote_rows if rid not in links]
        if unlinked:
            links.update(self._match(om, {rid: remote_rows[rid][0] for rid in unlinked}))
        creates: list[tuple[str, dict]] = []
        updates: list[tuple[RecordLink, dict, dict, bool]] = []
        ref_changes: list[tuple[ReferenceMapping, int, str | None]] = []
        restore_ids: list[int] = []
        local_refs = self._local_refs(
            om, usable, [link.record_id for link in links.values() if link.record_id]
        )
        for remote_id, (values, modstamp) in remote_rows.items():
            link = links.get(remote_id)
            if link is None:
                local = self._to_local_values(om, usable, values, remote_id)
                creates.append((remote_id, local))
                continue
            if link.remote_deleted_at is not None:
                restore_ids.append(link.record_id)
                link.remote_deleted_at = None
            if link.record.archived_at is not None and link.record_id not in restore_ids:
                stage.skipped += 1
                continue
            if link.remote_modstamp == modstamp and _unchanged(values, link.agreed):
                # Re-read in the overlap window with the values it was merged with: nothing to
                # do (Concord-side changes travel through the dirty flag). The stamp alone
                # proves nothing: Salesforce stamps whole seconds, so a second edit in the
                # second of a pulled one keeps its stamp and shows only in the values.
                stage.skipped += 1
                continue
            local_changes, agreed, push = self._merge(om, usable, link, values, modstamp)
            for ref in usable.refs:
                if ref.remote_field not in values:
                    continue
                remote_value = values[ref.remote_field]
                local_value = local_refs.get((ref.pk, link.record_id))
                if remote_value == local_value:
                    agreed[ref.remote_field] = remote_value
                    continue
                remote_changed = remote_value != link.agreed.get(ref.remote_field)
                local_changed = local_value != link.agreed.get(ref.remote_field)
                if ref.rule == SyncRule.ALWAYS_CONCORD or (local_changed and not remote_changed):
                    agreed[ref.remote_field] = remote_value
                    push = True
                else:
                    agreed[ref.remote_field] = remote_value
                    ref_changes.append((ref, link.record_id, remote_value))
            link.remote_modstamp = modstamp
            updates.append((link, local_changes, agreed, push))
        if restore_ids:
            restore_records(object_type=om.object_type, record_ids=restore_ids, source=self.source)
        self._write_pulled_updates(om, updates, stage)
        self._write_pulled_creates(om, usable, creates, remote_rows, stage)
        self._apply_ref_changes(om, ref_changes)
        newest = max(stamp for _, stamp in remote_rows.values())
        if om.watermark is None or newest > om.watermark:
            om.watermark = newest
            ObjectMapping.objects.filter(pk=om.pk).update(watermark=newest)

    def _match(self, om: ObjectMapping, rows: dict[str, dict]) -> dict[str, RecordLink]:
        """Link remote records to Concord records: by Concord id, then by match keys."""
        found: dict[str, RecordLink] = {}
        candidates = Record.objects.filter(
            object_type=om.object_type, archived_at__isnull=True
        ).exclude(
            pk__in=RecordLink.objects.filter(
                integration=self.integration, remote_id__isnull=False
            ).values("record_id")
        )
        by_concord_id = {}
        for rid, values in rows.items():
            ext = values.get(self.ext)
            if ext and str(ext).isdigit():
                by_concord_id[int(ext)] = rid
        records: dict[str, Record] = {}
        if by_concord_id:
            for record in Record.objects.filter(
                object_type=om.object_type, pk__in=list(by_concord_id)
            ):
                records[by_concord_id[record.pk]] = record
        for prop, remote_field, how in self.codec.MATCH_KEYS.get(om.remote_object, []):
            wanted: dict[str, str] = {}
            for rid, values in rows.items():
                if rid in records or not values.get(remote_field):
                    continue
                key = values[remote_field]
                key = self.codec.domain_of(key) if how == "domain" else str(key).lower()
                if key:
                    wanted.setdefault(key, rid)
            if not wanted:
                continue
            taken = {r.pk for r in records.values()}
            for record in candidates.filter(**{f"properties__{prop}__in": _case_variants(wanted)}):
                key = str(record.properties.get(prop, "")).lower()
                if how == "domain":
                    key = self.codec.domain_of(key)
                rid = wanted.get(key)
                if rid and rid not in records and record.pk not in taken:
                    records[rid] = record
                    taken.add(record.pk)
        for rid, record in records.items():
            link = (
                RecordLink.objects.filter(integration=self.integration, record=record)
                .select_related("record")
                .first()
            )
            if link is None:
                link = RecordLink(
                    integration=self.integration,
                    object_mapping=om,
                    record=record,
                    remote_object=om.remote_object,
                )
            link.object_mapping, link.remote_object, link.remote_id = om, om.remote_object, rid
            link.save()
            found[rid] = link
        return found

    def _merge(
        self,
        om: ObjectMapping,
        usable: _Fields,
        link: RecordLink,
        values: dict,
        modstamp: dt.datetime,
    ) -> tuple[dict, dict, bool]:
        """Merge one pulled record field by field against the last agreed values."""
        record = link.record
        agreed = dict(link.agreed)
        if self.ext in values:
            agreed[self.ext] = values[self.ext]
        local_changes: dict[str, object] = {}
        push = False
        for fm in usable.fields:
            if fm.remote_field not in values:
                continue
            remote_type = om.remote_schema[fm.remote_field]["type"]
            r = values[fm.remote_field]
            a = link.agreed.get(fm.remote_field)
            local_value = record.properties.get(fm.property.name)
            loc = self._outgoing(om, fm, local_value)
            agreed[fm.remote_field] = r
            if r == loc:
                continue
            remote_changed, local_changed = r != a, loc != a
            if fm.rule == SyncRule.ALWAYS_REMOTE:
                winner = "remote"
            elif fm.rule == SyncRule.ALWAYS_CONCORD:
                winner = "local"
            elif fm.rule == SyncRule.PREFER_REMOTE_UNLESS_BLANK:
                winner = "local" if r is None else "remote"
            elif remote_changed and not local_changed:
                winner = "remote"
            elif local_changed and not remote_changed:
                winner = "local"
            elif self.conflict_winner in ("local", "remote"):
                # Both changed (or both had values when first matched): the app chosen to win
                # conflicts does, unless it has no value — then nothing is cleared (SPEC G-2).
                winner = self.conflict_winner
                if (r if winner == "remote" else loc) is None:
                    winner = "local" if winner == "remote" else "remote"
            else:  # both sides changed since they last agreed: the newer change wins
                changed_at = (record.property_changes.get(fm.property.name) or {}).get("at")
                local_at = self.codec.parse_remote_datetime(changed_at) if changed_at else None
                winner = "local" if local_at and local_at > modstamp else "remote"
            if winner == "remote":
                try:
                    local_changes[fm.property.name] = self.codec.to_local(
                        r,
                        property_type=fm.property.type,
                        remote_type=remote_type,
                        value_map=fm.value_map,
                        options=[(o.value, o.label) for o in fm.property.options.all()],
                    )
                except self.codec.UnmatchedValue as exc:
                    self._unmatched_picklist(om, fm, link.record_id, link.remote_id, str(exc))
                    agreed[fm.remote_field] = a
            elif fm.pk in usable.pushable:
                push = True
        return local_changes, agreed, push

    def _write_pulled_updates(
        self, om: ObjectMapping, updates: list[tuple[RecordLink, dict, dict, bool]], stage
    ) -> None:
        changed = [(link, props) for link, props, _, _ in updates if props]
        failed: set[int] = set()
        if changed:
            result = write_records(
                object_type=om.object_type,
                inputs=[
                    RecordInput(properties=props, id=link.record_id) for link, props in changed
                ],
                mode="update",
                source=self.source,
                all_or_none=False,
            )
            for item, (link, _props) in zip(result.items, changed, strict=True):
                if item.errors:
                    failed.add(link.pk)
                    self._local_write_error(om, link.record_id, link.remote_id, item.errors)
        now = timezone.now()
        to_save = []
        for link, props, agreed, push in updates:
            if link.pk in failed:
                stage.failed += 1
                continue
            if props:
                stage.updated += 1
            else:
                stage.skipped += 1
            link.agreed = agreed
            link.synced_at = now
            if push:
                link.dirty, link.dirty_at = True, now
            to_save.append(link)
        _update_links(
            ["agreed", "synced_at", "dirty", "dirty_at", "remote_modstamp", "remote_deleted_at",
             "object_mapping_id", "remote_object", "remote_id"],
            [
                (link.pk, link.agreed, link.synced_at, link.dirty, link.dirty_at,
                 link.remote_modstamp, link.remote_deleted_at, link.object_mapping_id,
                 link.remote_object, link.remote_id)
                for link in to_save
            ],
        )  # fmt: skip
        resolve_record_errors(
            integration=self.integration,
            record_ids=[link.record_id for link in to_save],
            direction=SyncError.Direction.PULL,
        )

    def _write_pulled_creates(self, om, usable, creates, remote_rows, stage) -> None:
        if not creates:
            return
        result = write_records(
            object_type=om.object_type,
            inputs=[RecordInput(properties=props) for _, props in creates],
            mode="create",
            source=self.source,
            all_or_none=False,
        )
        now = timezone.now()
        links = []
        for item, (remote_id, _) in zip(result.items, creates, strict=True):
            if item.errors or item.id is None:
                stage.failed += 1
                self._local_write_error(om, None, remote_id, item.errors)
                continue
            values, modstamp = remote_rows[remote_id]
            links.append(
                RecordLink(
                    integration=self.integration,
                    object_mapping=om,
                    record_id=item.id,
                    remote_object=om.remote_object,
                    remote_id=remote_id,
                    agreed=dict(values),
                    # Known by its Salesforce id: nothing to push (its Concord_Id__c is set
                    # with the first change Concord sends).
                    dirty=False,
                    remote_modstamp=modstamp,
                    synced_at=now,
                )
            )
            stage.new += 1
        RecordLink.objects.bulk_create(links, batch_size=500)
        # References of new records (e.g. a new Contact's AccountId) become associations.
        ref_changes = []
        by_remote = {link.remote_id: link for link in links}
        for ref in usable.refs:
            for remote_id, link in by_remote.items():
                value = remote_rows[remote_id][0].get(ref.remote_field)
                if value:
                    ref_changes.append((ref, link.record_id, value))
        self._apply_ref_changes(om, ref_changes)

    def _to_local_values(self, om, usable: _Fields, values: dict, remote_id: str) -> dict:
        local = {}
        for fm in usable.fields:
            if fm.remote_field not in values or values[fm.remote_field] is None:
                continue
            try:
                local[fm.property.name] = self.codec.to_local(
                    values[fm.remote_field],
                    property_type=fm.property.type,
                    remote_type=om.remote_schema[fm.remote_field]["type"],
                    value_map=fm.value_map,
                    options=[(o.value, o.label) for o in fm.property.options.all()],
                )
            except self.codec.UnmatchedValue as exc:
                self._unmatched_picklist(om, fm, None, remote_id, str(exc))
        return local

    def _unmatched_picklist(self, om, fm, record_id, remote_id, value) -> None:
        self.error(
            category=SyncError.Category.PICKLISTS,
            code="PICKLIST_VALUE_UNMATCHED",
            message=f"{om.remote_object}.{fm.remote_field} value {value!r} matches no option of "
            f"the Concord property {fm.property.label!r}; add the option or map the value.",
            direction=SyncError.Direction.PULL,
            object_type_id=om.object_type_id,
            record_id=record_id,
            remote_object=om.remote_object,
            remote_id=remote_id or "",
            remote_field=fm.remote_field,
            property_name=fm.property.name,
            details={"value": value},
        )

    def _local_write_error(self, om, record_id, remote_id, errors: dict) -> None:
        for prop_name, messages in errors.items():
            text = "; ".join(messages)
            duplicate = errors.codes.get(prop_name) == ValueCode.DUPLICATE
            self.error(
                category=SyncError.Category.DUPLICATES
                if duplicate
                else SyncError.Category.PROPERTY_VALUES,
                code="DUPLICATE_VALUE" if duplicate else "INVALID_PROPERTY_VALUE",
                message=f"Concord refused {prop_name}: {text}",
                direction=SyncError.Direction.PULL,
                object_type_id=om.object_type_id,
                record_id=record_id,
                remote_object=om.remote_object,
                remote_id=remote_id or "",
                property_name=prop_name,
            )

    def _apply_ref_changes(self, om, changes: list[tuple[ReferenceMapping, int, str | None]]):
        """Pulled reference fields → associations (replacing the old one of that definition)."""
        if not changes:
            return
        targets = {}
        remote_ids = {value for _, _, value in changes if value}
        for link in RecordLink.objects.filter(
            integration=self.integration, remote_id__in=list(remote_ids)
        ).values("remote_id", "record_id"):
            targets[link["remote_id"]] = link["record_id"]
        for ref, record_id, value in changes:
            existing = list(
                Association.objects.filter(
                    definition=ref.definition, from_record_id=record_id
                ).select_related("definition")
            )
            target_id = targets.get(value) if value else None
            if value and target_id is None:
                self.error(
                    category=SyncError.Category.ASSOCIATIONS,
                    code="ASSOCIATED_RECORD_NOT_SYNCED",
                    message=f"{om.remote_object}.{ref.remote_field} points to {value}, which is "
                    "not synced to Concord yet.",
                    direction=SyncError.Direction.PULL,
                    object_type_id=om.object_type_id,
                    record_id=record_id,
                    remote_object=om.remote_object,
                    remote_field=ref.remote_field,
                    details={"target_remote_id": value},
                )
                continue
            stale = [a for a in existing if a.to_record_id != target_id]
            try:
                with transaction.atomic():
                    if stale:
                        dissociate(associations=stale, source=self.source)
                    if target_id and not any(a.to_record_id == target_id for a in existing):
                        associate_records(
                            definition=ref.definition,
                            pairs=[(record_id, target_id)],
                            source=self.source,
                        )
            except (AssociationError, CrmError) as exc:
                self.error(
                    category=SyncError.Category.ASSOCIATIONS,
                    code="ASSOCIATION_LIMIT_REACHED",
                    message=str(exc),
                    direction=SyncError.Direction.PULL,
                    object_type_id=om.object_type_id,
                    record_id=record_id,
                    remote_object=om.remote_object,
                    remote_field=ref.remote_field,
                )

    def pull_deletes(self, om: ObjectMapping) -> None:
        with self.stage(SyncStage.Operation.PULL_DELETES, om) as stage:
            since = om.delete_watermark - OVERLAP if om.delete_watermark else None
            newest = om.delete_watermark
            batch: list[dict] = []
            for row in self.connector.pull_deletes(
                om.remote_object, self.codec.soql_datetime(since) if since else None
            ):
                batch.append(row)
                stamp = self.codec.parse_remote_datetime(row["SystemModstamp"])
                newest = max(newest, stamp) if newest else stamp
                if len(batch) >= PULL_BATCH:
                    self._apply_deletes(om, batch, stage)
                    batch = []
            if batch:
                self._apply_deletes(om, batch, stage)
            if newest and newest != om.delete_watermark:
                om.delete_watermark = newest
                ObjectMapping.objects.filter(pk=om.pk).update(delete_watermark=newest)
            # The sync token covers updates and deletes: kept only once both are applied.
            if om.pk in self.next_cursor:
                om.pull_cursor = self.next_cursor.pop(om.pk)
                ObjectMapping.objects.filter(pk=om.pk).update(pull_cursor=om.pull_cursor)

    def _apply_deletes(self, om, rows: list[dict], stage) -> None:
        links = list(
            RecordLink.objects.filter(
                integration=self.integration,
                remote_object=om.remote_object,
                remote_id__in=[r["Id"] for r in rows],
                remote_deleted_at__isnull=True,
            )
        )
        stage.skipped += len(rows) - len(links)
        if not links:
            return
        with transaction.atomic():
            stage.deleted += archive_records(
                object_type=om.object_type,
                record_ids=[link.record_id for link in links],
                source=self.source,
            )
            RecordLink.objects.filter(pk__in=[link.pk for link in links]).update(
                remote_deleted_at=timezone.now(), dirty=False
            )

    def pull_conversions(self, om: ObjectMapping) -> None:
        """Converted Leads: their Concord contacts follow the Contact the Lead became."""
        contact_mapping = next(
            (
                m
                for m in self.mappings
                if m.remote_object == "Contact" and m.object_type_id == om.object_type_id
            ),
            None,
        )
        with self.stage(SyncStage.Operation.PULL_CONVERSIONS, om) as stage:
            if contact_mapping is None:
                stage.message = "No Contact mapping: converted Leads stay as they are."
                return
            # Conversions touch the Lead, so they are within what this cycle's pull read.
            start = self.pulled_from.get(om.pk)
            since = start - OVERLAP if start else None
            where = "IsConverted = TRUE" + (
                f" AND SystemModstamp >= {sf.soql_datetime(since)}" if since else ""
            )
            rows = list(
                self.connector.query(
                    f"SELECT Id, ConvertedContactId, ConvertedAccountId FROM Lead WHERE {where}"
                )
            )
            links = {
                link.remote_id: link
                for link in RecordLink.objects.filter(
                    integration=self.integration,
                    remote_object="Lead",
                    remote_id__in=[r["Id"] for r in rows],
                )
            }
            for row in rows:
                link = links.get(row["Id"])
                contact_id = row.get("ConvertedContactId")
                if link is None or not contact_id:
                    stage.skipped += 1
                    continue
                taken = RecordLink.objects.filter(
                    integration=self.integration, remote_object="Contact", remote_id=contact_id
                ).exclude(pk=link.pk)
                if taken.exists():
                    # The Lead merged into a Contact Concord already has: keep that one.
                    taken_link = taken.first()
                    link.delete()
                    stage.skipped += 1
                    logger.info("lead %s merged into linked contact %s", row["Id"], taken_link)
                    continue
                link.object_mapping, link.remote_object = contact_mapping, "Contact"
                link.remote_id, link.agreed = contact_id, {}
                link.dirty, link.dirty_at = True, timezone.now()
                link.save()
                stage.updated += 1

    # --- push --------------------------------------------------------------------------------

    def _outgoing(self, om: ObjectMapping, fm: FieldMapping, value: object) -> object:
        remote = om.remote_schema.get(fm.remote_field, {})
        return self.codec.to_remote(
            value,
            property_type=fm.property.type,
            remote_type=remote.get("type", "string"),
            value_map=fm.value_map,
            picklist_values=remote.get("picklist", ()),
        )

    def _local_refs(self, om, usable: _Fields, record_ids: list[int]) -> dict:
        """(reference mapping id, record id) → the remote id the association points to."""
        out: dict[tuple[int, int], str | None] = {}
        if not usable.refs or not record_ids:
            return out
        for ref in usable.refs:
            rows = list(
                Association.objects.filter(definition=ref.definition, from_record_id__in=record_ids)
                .order_by("created_at", "pk")
                .values_list("from_record_id", "to_record_id")
            )
            remote = dict(
                RecordLink.objects.filter(
                    integration=self.integration, record_id__in={t for _, t in rows}
                ).values_list("record_id", "remote_id")
            )
            for from_id, to_id in rows:
                out.setdefault((ref.pk, from_id), remote.get(to_id) or f"unsynced:{to_id}")
        return out

    def push(self, om: ObjectMapping, *, new: bool) -> None:
        usable = self.usable[om.pk]
        operation = SyncStage.Operation.PUSH_NEW if new else SyncStage.Operation.PUSH_UPDATES
        with self.stage(operation, om) as stage:
            if self.crashed_push and hasattr(self.connector, "abort_open_jobs"):
                self.crashed_push = False
                aborted = self.connector.abort_open_jobs(self.integration.remote_user_id)
                if aborted:
                    stage.message = (
                        f"Aborted {len(aborted)} Bulk API job(s) a stopped worker left open."
                    )
            if new and not usable.has_external_id:
                stage.message = f"{om.remote_object} has no {self.ext}: new records are not pushed."
                return
            # A record whose push failed for good keeps its dirty mark but waits for a change
            # or a resync (either marks it dirty again, after the error) instead of costing
            # calls every cycle; one that failed transiently is sent again.
            # Each connector names its own transient codes (Google's UNAVAILABLE, ABORTED, …).
            transient = getattr(self.connector, "transient_codes", TRANSIENT_CODES)
            failed_for_good = SyncError.objects.filter(
                integration=self.integration,
                record_id=OuterRef("record_id"),
                direction=SyncError.Direction.PUSH,
                status=SyncError.Status.OPEN,
                # A link never marked by a change (one matched by a pull) counts as older.
                last_seen_at__gte=Coalesce(OuterRef("dirty_at"), Value(_EPOCH)),
            ).exclude(code__in=transient)
            links = RecordLink.objects.filter(
                object_mapping=om,
                dirty=True,
                remote_id__isnull=new,
                record__archived_at__isnull=True,
            ).exclude(Exists(failed_for_good))
            # Bulk API 2.0 for large stages (Salesforce's guidance: over 2,000 records), when
            # the budget has room for a job's ~10 calls; collections of 200 otherwise.
            remaining = self.meter.remaining()
            bulk = (
                getattr(self.connector, "supports_bulk", True)
                and (remaining is None or remaining > BULK_MIN_CALLS)
                and links.count() > BULK_THRESHOLD
            )
            size = BULK_JOB_SIZE if bulk else getattr(self.connector, "batch_size", COLLECTION_SIZE)
            last_pk = 0
            while True:
                chunk = list(links.filter(pk__gt=last_pk).order_by("pk")[:size])
                if not chunk:
                    break
                last_pk = chunk[-1].pk
                self._push_chunk(om, usable, chunk, new, stage, bulk=bulk)
                self.renew_lease()
            if bulk:
                stage.message = f"{stage.message} Sent through Bulk API 2.0.".lstrip()

    def _push_chunk(
        self, om, usable: _Fields, links: list[RecordLink], new: bool, stage, bulk: bool = False
    ) -> None:
        seqs = {link.pk: link.change_seq for link in links}
        records = {
            r.pk: r for r in Record.objects.filter(pk__in=[link.record_id for link in links])
        }
        refs = self._local_refs(om, usable, list(records))
        payloads: list[tuple[RecordLink, dict]] = []
        done: list[RecordLink] = []  # nothing to send: skipped
        for link in links:
            record = records[link.record_id]
            payload: dict[str, object] = {}
            for fm in usable.fields:
                if fm.pk not in usable.pushable or fm.rule not in PUSHING_RULES:
                    continue
                value = self._outgoing(om, fm, record.properties.get(fm.property.name))
                agreed = link.agreed.get(fm.remote_field)
                if fm.rule == SyncRule.PREFER_REMOTE_UNLESS_BLANK and agreed is not None:
                    continue  # Salesforce's value wins while it has one
                if new:
                    if value is not None and value is not False:
                        payload[fm.remote_field] = value
                elif value != agreed:
                    payload[fm.remote_field] = value
            link.pending_references = False
            for ref in usable.refs:
                if ref.rule not in PUSHING_RULES or ref.remote_field not in om.remote_schema:
                    continue
                value = refs.get((ref.pk, record.pk))
                if value and value.startswith("unsynced:"):
                    self._blocked_by_association(om, ref, record, int(value.split(":")[1]))
                    link.pending_references = True
                    continue
                if value != link.agreed.get(ref.remote_field) and (value or not new):
                    payload[ref.remote_field] = value
            if usable.has_external_id and link.agreed.get(self.ext) != str(record.pk):
                payload[self.ext] = str(record.pk)
            if payload:
                payloads.append((link, payload))
            else:
                done.append(link)
        stage.skipped += len(done)
        outcomes: list[WriteOutcome] = []
        if payloads:
            if new and bulk:
                by_key = self.connector.bulk_upsert(
                    om.remote_object, self.ext, [p for _, p in payloads]
                )
                # A record missing from the results was not processed: it stays dirty.
                outcomes = [by_key.get(p[self.ext]) for _, p in payloads]
            elif new:
                outcomes = self.connector.upsert(
                    om.remote_object, self.ext, [p for _, p in payloads]
                )
            elif bulk:
                by_id = self.connector.bulk_update(
                    om.remote_object, [{"Id": link.remote_id, **p} for link, p in payloads]
                )
                outcomes = [by_id.get(link.remote_id) for link, _ in payloads]
            else:
                outcomes = self.connector.update(
                    om.remote_object, [{"Id": link.remote_id, **p} for link, p in payloads]
                )
        now = timezone.now()
        succeeded: list[RecordLink] = []
        failed_links: list[RecordLink] = []
        for (link, payload), outcome in zip(payloads, outcomes, strict=True):
            if outcome is None:
                continue
            if outcome.success:
                link.remote_id = outcome.remote_id or link.remote_id
                link.agreed = {**link.agreed, **payload}
                link.synced_at = now
                succeeded.append(link)
                if new and outcome.created:
                    stage.new += 1
                else:
                    stage.updated += 1
            else:
                stage.failed += 1
                failed_links.append(link)
                self._push_error(om, usable, link, records[link.record_id], outcome)
        saved = succeeded + done
        _update_links(
            ["remote_id", "agreed", "synced_at", "pending_references", "clear_if_seq"],
            [
                (link.pk, link.remote_id, link.agreed, link.synced_at, link.pending_references,
                 seqs[link.pk])
                for link in saved
            ],
        )  # fmt: skip
        # A failed push never clears the dirty mark: the record is still to be sent.
        _update_links(
            ["pending_references"], [(link.pk, link.pending_references) for link in failed_links]
        )
        resolve_record_errors(
            integration=self.integration,
            record_ids=[link.record_id for link in saved],
            direction=SyncError.Direction.PUSH,
        )

    def _blocked_by_association(self, om, ref: ReferenceMapping, record: Record, target_id: int):
        target_om = self.by_id.get(ref.target_id)
        self.error(
            category=SyncError.Category.ASSOCIATIONS,
            code="ASSOCIATED_RECORD_NOT_SYNCED",
            message=f"{ref.definition} record {target_id} is not in Salesforce yet, so "
            f"{om.remote_object}.{ref.remote_field} cannot point to it. Fix the errors of that "
            "record; the associated records sync once it does.",
            direction=SyncError.Direction.PUSH,
            object_type_id=target_om.object_type_id if target_om else None,
            record_id=target_id,
            remote_object=target_om.remote_object if target_om else "",
            remote_field=f"{om.remote_object}.{ref.remote_field}",
            affected_record_ids=[record.pk],
        )

    def _push_error(self, om, usable: _Fields, link: RecordLink, record: Record, outcome) -> None:
        by_field = {fm.remote_field: fm.property.name for fm in usable.fields}
        for err in outcome.errors or []:
            remote_field = err.fields[0] if err.fields else _field_in_message(err.message, by_field)
            category = self.codec.classify(err.code)
            if err.code in ("INVALID_CROSS_REFERENCE_KEY", "MALFORMED_ID") and not any(
                f in {r.remote_field for r in usable.refs} for f in err.fields
            ):
                category = SyncError.Category.OTHER if err.code == "MALFORMED_ID" else category
            self.error(
                category=category,
                code=err.code,
                message=err.message,
                direction=SyncError.Direction.PUSH,
                object_type_id=om.object_type_id,
                record_id=record.pk,
                remote_object=om.remote_object,
                remote_id=link.remote_id or "",
                remote_field=remote_field,
                property_name=by_field.get(remote_field, ""),
                details={"fields": list(err.fields), "statusCode": err.code},
                affected_record_ids=[record.pk],
            )

    # --- foreign keys -------------------------------------------------------------------------

    def update_foreign_keys(self) -> None:
        with self.stage(SyncStage.Operation.UPDATE_FOREIGN_KEYS) as stage:
            for om in self.mappings:
                for ref in self.usable[om.pk].junctions if om.pk in self.usable else []:
                    if ref.rule != SyncRule.DONT_SYNC and ref.target_id in self.by_id:
                        self.sync_junction(om, ref, stage)
            for om in self.mappings:
                usable = self.usable.get(om.pk)
                if not usable or not usable.refs or om.direction not in PUSH_DIRECTIONS:
                    continue
                links = list(
                    RecordLink.objects.filter(
                        object_mapping=om, pending_references=True, remote_id__isnull=False
                    ).order_by("pk")[:2000]
                )
                for start in range(0, len(links), COLLECTION_SIZE):
                    chunk = links[start : start + COLLECTION_SIZE]
                    refs = self._local_refs(om, usable, [link.record_id for link in chunk])
                    payloads = []
                    for link in chunk:
                        payload, pending = {}, False
                        for ref in usable.refs:
                            value = refs.get((ref.pk, link.record_id))
                            if value and value.startswith("unsynced:"):
                                pending = True
                            elif value != link.agreed.get(ref.remote_field):
                                payload[ref.remote_field] = value
                        link.pending_references = pending
                        if payload:
                            payloads.append((link, payload))
                        else:
                            stage.skipped += 1
                    if payloads:
                        outcomes = self.connector.update(
                            om.remote_object,
                            [{"Id": link.remote_id, **p} for link, p in payloads],
                        )
                        records = {
                            r.pk: r
                            for r in Record.objects.filter(
                                pk__in=[link.record_id for link, _ in payloads]
                            )
                        }
                        for (link, payload), outcome in zip(payloads, outcomes, strict=True):
                            if outcome.success:
                                link.agreed = {**link.agreed, **payload}
                                stage.updated += 1
                            else:
                                link.pending_references = True
                                stage.failed += 1
                                self._push_error(om, usable, link, records[link.record_id], outcome)
                    RecordLink.objects.bulk_update(chunk, ["agreed", "pending_references"])

    def sync_junction(self, om: ObjectMapping, ref: ReferenceMapping, stage: SyncStage) -> None:
        """Merge junction records (e.g. OpportunityContactRole) with associations, both ways.

        The parent's link keeps what both sides last agreed on under agreed[junction] as
        {child remote id: junction id}: a pair on one side only is new there if it is not in
        that record, and was removed from the other side if it is. Junctions carry no external
        id, so a create is only sent for a pair the query just showed missing: a create whose
        answer was lost is found by the next cycle's query instead of being sent twice."""
        parent_field, child_field = sf.JUNCTIONS[ref.remote_field]
        parents = {
            link.remote_id: link
            for link in RecordLink.objects.filter(object_mapping=om, remote_id__isnull=False)
        }
        if not parents:
            return  # no junction can point to a record we know: spare the query
        pull = om.direction in PULL_DIRECTIONS and ref.rule != SyncRule.ALWAYS_CONCORD
        push = om.direction in PUSH_DIRECTIONS and ref.rule in PUSHING_RULES
        remote: dict[str, dict[str, str]] = {}
        for row in self.connector.query(
            f"SELECT Id, {parent_field}, {child_field} FROM {ref.remote_field}"
        ):
            if row.get(parent_field) in parents and row.get(child_field):
                remote.setdefault(row[parent_field], {}).setdefault(row[child_field], row["Id"])
        by_record = {link.record_id: link for link in parents.values()}
        pairs = list(
            Association.objects.filter(
                definition=ref.definition, from_record_id__in=list(by_record)
            ).values_list("pk", "from_record_id", "to_record_id")
        )
        children = RecordLink.objects.filter(object_mapping_id=ref.target_id)
        child_remote = dict(
            children.filter(
                record_id__in={to for _, _, to in pairs}, remote_id__isnull=False
            ).values_list("record_id", "remote_id")
        )
        wanted = {c for cs in remote.values() for c in cs} | {
            c for link in parents.values() for c in link.agreed.get(ref.remote_field) or {}
        }
        child_record = dict(
            children.filter(remote_id__in=wanted).values_list("remote_id", "record_id")
        )
        local: dict[str, dict[str, int]] = {}  # parent remote id → child remote id → assoc pk
        for pk, from_id, to_id in pairs:
            if to_id in child_remote:  # children not in Salesforce yet wait for a later cycle
                local.setdefault(by_record[from_id].remote_id, {})[child_remote[to_id]] = pk
        agreed = {p: dict(link.agreed.get(ref.remote_field) or {}) for p, link in parents.items()}
        creates: list[tuple[str, str]] = []
        deletes: list[tuple[str, str, str]] = []
        associate: list[tuple[str, str]] = []
        dissociate_pks: list[tuple[str, str, int]] = []
        for parent_id in parents:
            theirs, ours, known = (
                remote.get(parent_id, {}),
                local.get(parent_id, {}),
                agreed[parent_id],
            )
            for child_id in theirs.keys() | ours.keys() | known.keys():
                there, here, before = child_id in theirs, child_id in ours, child_id in known
                if there and here:
                    known[child_id] = theirs[child_id]
                elif there and before:  # removed in Concord
                    if push:
                        deletes.append((parent_id, child_id, theirs[child_id]))
                    elif pull and child_id in child_record:  # Salesforce wins: put it back
                        associate.append((parent_id, child_id))
                elif there:  # new in Salesforce
                    if pull and child_id in child_record:
                        associate.append((parent_id, child_id))
                elif here and before:  # removed in Salesforce
                    if pull:
                        dissociate_pks.append((parent_id, child_id, ours[child_id]))
                    else:
                        known.pop(child_id)
                elif here:  # new in Concord
                    if push:
                        creates.append((parent_id, child_id))
                else:  # gone on both sides
                    known.pop(child_id)
        for start in range(0, len(creates), COLLECTION_SIZE):
            chunk = creates[start : start + COLLECTION_SIZE]
            outcomes = self.connector.create(
                ref.remote_field, [{parent_field: p, child_field: c} for p, c in chunk]
            )
            for (parent_id, child_id), outcome in zip(chunk, outcomes, strict=True):
                if outcome.success:
                    agreed[parent_id][child_id] = outcome.remote_id
                    stage.new += 1
                else:
                    stage.failed += 1
                    self._junction_error(om, ref, parents[parent_id], outcome)
        for start in range(0, len(deletes), COLLECTION_SIZE):
            chunk = deletes[start : start + COLLECTION_SIZE]
            outcomes = self.connector.delete([junction_id for _, _, junction_id in chunk])
            for (parent_id, child_id, _), outcome in zip(chunk, outcomes, strict=True):
                if outcome.success:
                    agreed[parent_id].pop(child_id, None)
                    stage.deleted += 1
                else:
                    stage.failed += 1
                    self._junction_error(om, ref, parents[parent_id], outcome)
        if associate:
            rows = [(parents[p].record_id, child_record[c]) for p, c in associate]
            try:
                with transaction.atomic():
                    associate_records(definition=ref.definition, pairs=rows, source=self.source)
                done = associate
            except (AssociationError, CrmError):
                done = []  # one pair the CRM refuses must not block the others
                for pair, row in zip(associate, rows, strict=True):
                    try:
                        with transaction.atomic():
                            associate_records(
                                definition=ref.definition, pairs=[row], source=self.source
                            )
                        done.append(pair)
                    except (AssociationError, CrmError) as exc:
                        stage.failed += 1
                        self.error(
                            category=SyncError.Category.ASSOCIATIONS,
                            code="ASSOCIATION_REFUSED",
                            message=f"{ref.remote_field} {remote[pair[0]][pair[1]]}: {exc}",
                            direction=SyncError.Direction.PULL,
                            object_type_id=om.object_type_id,
                            record_id=row[0],
                            remote_object=ref.remote_field,
                            remote_id=remote[pair[0]][pair[1]],
                            affected_record_ids=list(row),
                        )
            for parent_id, child_id in done:
                agreed[parent_id][child_id] = remote[parent_id][child_id]
                stage.new += 1
        if dissociate_pks:
            dissociate(
                associations=list(
                    Association.objects.filter(
                        pk__in=[pk for _, _, pk in dissociate_pks]
                    ).select_related("definition__from_object_type")
                ),
                source=self.source,
            )
            for parent_id, child_id, _ in dissociate_pks:
                agreed[parent_id].pop(child_id, None)
                stage.deleted += 1
        changed = [
            (link.pk, {**link.agreed, ref.remote_field: agreed[p]})
            for p, link in parents.items()
            if agreed[p] != (link.agreed.get(ref.remote_field) or {})
        ]
        _update_links(["agreed"], changed)

    def _junction_error(self, om, ref: ReferenceMapping, link: RecordLink, outcome) -> None:
        for err in outcome.errors or []:
            self.error(
                category=self.codec.classify(err.code),
                code=err.code,
                message=err.message,
                direction=SyncError.Direction.PUSH,
                object_type_id=om.object_type_id,
                record_id=link.record_id,
                remote_object=ref.remote_field,
                remote_id=link.remote_id or "",
                remote_field=err.fields[0] if err.fields else "",
                details={"fields": list(err.fields), "statusCode": err.code},
                affected_record_ids=[link.record_id],
            )


# Column → PostgreSQL type of the link columns written in bulk (SQLite needs no casts).
_LINK_COLUMN_TYPES = {
    "remote_id": "varchar",
    "remote_object": "varchar",
    "object_mapping_id": "bigint",
    "agreed": "jsonb",
    "synced_at": "timestamptz",
    "dirty_at": "timestamptz",
    "remote_modstamp": "timestamptz",
    "remote_deleted_at": "timestamptz",
    "dirty": "boolean",
    "pending_references": "boolean",
    "clear_if_seq": "bigint",
}


def _update_links(columns: list[str], rows: list[tuple]) -> None:
    """Write many links in one statement per 500 (Django's bulk_update builds a CASE per row
    and column, which cost most of a push's CPU). A `clear_if_seq` column clears `dirty` only
    where change_seq still equals it: a change made during the push keeps its link dirty."""
    if not rows:
        return
    table = RecordLink._meta.db_table
    pg = connection.vendor == "postgresql"
    names = ["id", *columns]
    sets = []
    for name in columns:
        if name == "clear_if_seq":
            sets.append(
                f"dirty = CASE WHEN v.clear_if_seq IS NOT NULL AND {table}.change_seq = "
                f"v.clear_if_seq THEN FALSE ELSE {table}.dirty END"
            )
        else:
            value = f"CAST(v.{name} AS {_LINK_COLUMN_TYPES[name]})" if pg else f"v.{name}"
            # A pull only ever sets `dirty`: a user's change committed meanwhile stays pending.
            sets.append(
                f"dirty = ({table}.dirty OR {value})" if name == "dirty" else f"{name} = {value}"
            )
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        placeholders = ", ".join("(" + ", ".join(["%s"] * len(names)) + ")" for _ in chunk)
        params = []
        for row in chunk:
            for name, value in zip(names, row, strict=True):
                if name == "agreed":
                    value = json.dumps(value)
                params.append(value)
        id_cast = "CAST(v.id AS bigint)" if pg else "v.id"
        sql = (
            f"WITH v({', '.join(names)}) AS (VALUES {placeholders}) "
            f"UPDATE {table} SET {', '.join(sets)} FROM v WHERE {table}.id = {id_cast}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def _unchanged(values: dict, agreed: dict) -> bool:
    """Whether a pulled row holds exactly the values last agreed (every pulled field known)."""
    return bool(agreed) and all(name in agreed and agreed[name] == v for name, v in values.items())


def _field_in_message(message: str, by_field: dict[str, str]) -> str:
    for name in by_field:
        if message.startswith(f"{name}:") or f"[{name}]" in message:
            return name
    return ""


def _case_variants(wanted: dict[str, str]) -> list[str]:
    # JSON lookups compare exactly; stored values keep the case people typed.
    values = set()
    for key in wanted:
        values.update({key, key.lower(), key.title(), key.upper(), f"www.{key}"})
    return sorted(values)


def _schema_changes(remote_object: str, before: dict, after: dict) -> list[str]:
    if not before:
        return []
    notes = []
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    if added:
        notes.append(f"{remote_object}: new fields {', '.join(added)}")
    if removed:
        notes.append(f"{remote_object}: removed fields {', '.join(removed)}")
    for name in sorted(set(before) & set(after)):
        old, new = set(before[name].get("picklist", [])), set(after[name].get("picklist", []))
        if new - old:
            notes.append(f"{remote_object}.{name}: new values {', '.join(sorted(new - old))}")
        if old - new:
            notes.append(f"{remote_object}.{name}: removed values {', '.join(sorted(old - new))}")
    return notes


__all__ = [
    "CycleStopped",
    "RemoteRequestError",
    "claim_cycle",
    "prune_stages",
    "run_cycle",
    "schedule_due_cycles",
    "start_cycle",
]
