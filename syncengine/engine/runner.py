"""One cycle's context and stage bookkeeping.

`CycleRunner.run` is the order of a cycle: sync schema; pull users (remotes whose records
have owners); per object (sync order) pull updates,
pull merges (objects the remote merges), pull deletes, for objects the remote converts pull
conversions, and reconcile; per object push restores, push new, push updates and push deletes;
update foreign keys. Each stage is a SyncStage row opened by `stage()`, which counts its API
calls and ends it as success, clean-up, incomplete (budget) or failed. Remote calls go through
the metered connector: when the allocation is used up the running stage and the cycle end as
Incomplete, and the next cycle resumes from the watermarks and dirty flags.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from crm.sources import integration_source
from syncengine.connectors.base import AuthError, BudgetExhausted, ConnectorError
from syncengine.connectors.interface import Codec, Connector, Meter
from syncengine.connectors.registry import connector_class
from syncengine.engine import deletes, merges, owners, pull, push, reconcile, references, schema
from syncengine.engine.usable import PULL_DIRECTIONS, PUSH_DIRECTIONS, UsableFields
from syncengine.models import ObjectMapping, SyncCycle, SyncError, SyncStage
from syncengine.services.errors import record_sync_error
from syncengine.services.integrations import build_connector, mark_needs_reconnect
from syncengine.services.usage import DatabaseMeter

logger = logging.getLogger(__name__)


def lease() -> dt.timedelta:
    """How long a claimed cycle stays its worker's without a renewal."""
    return dt.timedelta(seconds=settings.CONCORD_SYNC_LEASE_SECONDS)


class CycleStopped(Exception):
    """The cycle cannot go on (budget, tokens); the stage and cycle are already marked."""


class CycleRunner:
    """Runs the stages of one claimed cycle; the stage modules read and write its context."""

    def __init__(self, cycle: SyncCycle, connector: Connector | None = None) -> None:
        self.cycle = cycle
        self.integration = cycle.integration
        self.source = integration_source(self.integration.pk)
        # The remote system: its capabilities (class attributes, known before connecting) and
        # its mapping knowledge (value forms, match keys, error categories).
        self.remote: type[Connector] = connector_class(self.integration.kind)
        self.codec: Codec = self.remote.codec
        self.ext = self.codec.EXTERNAL_ID_FIELD
        # Who wins a field both sides changed: "local" (Concord), "remote", or the newer change.
        self.conflict_winner = (self.integration.settings or {}).get("conflict_winner", "newest")
        self.meter: Meter = (
            connector.meter if connector is not None else DatabaseMeter(self.integration)
        )
        self._connector = connector
        self.mappings = list(
            ObjectMapping.objects.filter(integration=self.integration, enabled=True)
            .select_related("object_type")
            .prefetch_related("field_mappings__property__options", "reference_mappings__definition")
            .order_by("sync_order", "pk")
        )
        self.by_id = {om.pk: om for om in self.mappings}
        self.usable: dict[int, UsableFields] = {}
        self.pulled_from: dict[int, dt.datetime | None] = {}
        # Cursors of pulls whose deletes are not applied yet (saved after pull deletes).
        self.next_cursor: dict[int, str] = {}
        self.crashed_push = False  # set by run(): a dead worker's push stage was found
        # Write each record's sync timeline (engine/timeline.py); off only to measure its cost.
        self.timeline: bool = settings.CONCORD_SYNC_TIMELINE
        # The records each stage of this run has written a timeline row for (stages are this
        # run's own): only those can already have one.
        self.timeline_written: dict[int, set[int]] = {}
        # The remote's clock before this cycle created records, per object mapping (echoes.py).
        self.created_from: dict[int, dt.datetime | None] = {}
        self._owners: owners.OwnerDirectory | None = None
        # When this worker last renewed its lease (the claim just did): `renew_lease`.
        self._renewed_at = time.monotonic()

    @property
    def owners(self) -> owners.OwnerDirectory:
        """Owner ↔ remote user links, read on first use (the Users stage reads them again)."""
        if self._owners is None:
            self._owners = owners.OwnerDirectory(self.integration)
        return self._owners

    @owners.setter
    def owners(self, directory: owners.OwnerDirectory) -> None:
        self._owners = directory

    @property
    def connector(self) -> Connector:
        """The metered connector, built on first use (inside a stage, so failures are kept)."""
        if self._connector is None:
            self._connector = build_connector(integration=self.integration, meter=self.meter)
        return self._connector

    def run(self) -> None:
        """Run every stage in order and end the cycle (success, incomplete or failed)."""
        self._end_stale_stages()
        status, message = SyncCycle.Status.SUCCESS, ""
        try:
            self._run_stages()
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

    def _end_stale_stages(self) -> None:
        # Stages a dead worker left in progress ended with it.
        stale = SyncStage.objects.filter(cycle=self.cycle, status=SyncStage.Status.IN_PROGRESS)
        # A push it was in may have left a bulk job open: the next push aborts it.
        self.crashed_push = stale.filter(
            operation__in=[SyncStage.Operation.PUSH_NEW, SyncStage.Operation.PUSH_UPDATES]
        ).exists()
        stale.update(
            status=SyncStage.Status.FAILED,
            ended_at=timezone.now(),
            message="The worker running this stage stopped; the cycle was resumed.",
        )

    def _run_stages(self) -> None:
        schema.sync_schema(self)
        # Before the pulls, so a pulled OwnerId finds its owner (read-only; skipped when no
        # mapping syncs an owner, so it costs no call then).
        if self.remote.has_users and owners.uses_owners(self):
            owners.pull_users(self)
        for om in self.mappings:
            if om.direction in PULL_DIRECTIONS:
                pull.pull_updates(self, om)
                if om.remote_object in self.remote.merges:
                    merges.pull_merges(self, om)
                pull.pull_deletes(self, om)
                if om.remote_object in self.remote.conversions:
                    pull.pull_conversions(self, om)
                if self.remote.lists_ids:
                    reconcile.reconcile(self, om)
        for om in self.mappings:
            if om.direction in PUSH_DIRECTIONS:
                # Restored records whose twin is gone are re-created by push new.
                deletes.push_restores(self, om)
                push.push(self, om, new=True)
                push.push(self, om, new=False)
                deletes.push_deletes(self, om)
        references.update_foreign_keys(self)

    # --- stage bookkeeping -----------------------------------------------------------------

    @contextmanager
    def stage(self, operation: str, om: ObjectMapping | None = None) -> Iterator[SyncStage]:
        """Open a SyncStage row for the block and end it with the block's outcome."""
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
            self._end(stage, self._success_status(stage, operation), calls, stage.message)

    def _success_status(self, stage: SyncStage, operation: str) -> str:
        # Finishing what a failed or incomplete stage left behind is a clean-up; a stage that
        # did nothing is a success whatever came before (no need to look).
        if not (stage.new or stage.updated or stage.deleted or stage.failed):
            return SyncStage.Status.SUCCESS
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
        if previous in (SyncStage.Status.FAILED, SyncStage.Status.INCOMPLETE):
            return SyncStage.Status.CLEANUP
        return SyncStage.Status.SUCCESS

    def _end(self, stage: SyncStage, status: str, calls_before: int, message: str) -> None:
        stage.status = status
        stage.ended_at = timezone.now()
        stage.api_calls = self.meter.calls - calls_before
        stage.message = message[:5000]
        stage.save()

    def renew_lease(self) -> None:
        """Keep the cycle this worker's for another lease. Called before every stage and after
        every batch, it writes only once a tenth of the lease has passed since it last did:
        a cycle of thirty quick stages renewed thirty times in a second."""
        now = time.monotonic()
        if now - self._renewed_at < lease().total_seconds() / 10:
            return
        self._renewed_at = now
        SyncCycle.objects.filter(pk=self.cycle.pk).update(lease_until=timezone.now() + lease())

    def error(self, **kwargs) -> SyncError:
        """Record (or count again) a sync error of this integration."""
        return record_sync_error(integration=self.integration, **kwargs)
