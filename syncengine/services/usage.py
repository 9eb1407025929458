"""The API budget: calls counted per integration in one-minute buckets (rolling 24 hours)."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from crm.audit import record_audit
from syncengine.connectors.base import BudgetExhausted
from syncengine.errors import InvalidAllocation
from syncengine.models import ApiCallBucket, Integration

WINDOW = dt.timedelta(hours=24)


def used_in_window(
    *, integration: Integration, now: dt.datetime | None = None, window: dt.timedelta = WINDOW
) -> int:
    """API calls the integration made in the window (the last 24 hours by default)."""
    since = (now or timezone.now()) - window
    total = ApiCallBucket.objects.filter(integration=integration, minute__gt=since).aggregate(
        n=Sum("calls")
    )["n"]
    return total or 0


def count_call(*, integration_id: int, calls: int = 1, now: dt.datetime | None = None) -> None:
    """Add calls to the current minute's bucket (committed at once: a crash keeps the count)."""
    minute = (now or timezone.now()).replace(second=0, microsecond=0)
    bucket = ApiCallBucket.objects.filter(integration_id=integration_id, minute=minute)
    if bucket.update(calls=F("calls") + calls):
        return
    try:
        with transaction.atomic():
            ApiCallBucket.objects.create(integration_id=integration_id, minute=minute, calls=calls)
    except IntegrityError:
        bucket.update(calls=F("calls") + calls)


def check_api_allocation(
    *, integration: Integration, allocated: int | None, field: str = "allocated"
) -> None:
    """Refuse an allocation that is negative or above the limit the org reported: Concord
    could never use calls the org does not have, and the page would promise them."""
    if allocated is None:
        return
    if allocated < 0:
        raise InvalidAllocation("The allocation cannot be negative.", field=field)
    limit = integration.api_limit
    if limit is not None and allocated > limit:
        raise InvalidAllocation(
            f"The allocation ({allocated:,} calls) is above the org's limit of {limit:,} calls "
            f"per 24 hours, as {integration.get_kind_display()} last reported it. Enter at "
            f"most {limit:,}, or leave it blank to use the whole limit.",
            field=field,
        )


@transaction.atomic
def set_api_allocation(*, integration: Integration, allocated: int | None, actor=None) -> None:
    """Set how many calls per rolling 24 hours Concord may use (None: the org's limit)."""
    check_api_allocation(integration=integration, allocated=allocated)
    before = integration.api_allocation
    integration.api_allocation = allocated
    integration.save(update_fields=["api_allocation"])
    record_audit(
        verb="set_api_allocation",
        source="user" if actor else "system",
        actor=actor,
        target_repr=str(integration),
        detail={"integration": integration.pk, "before": before, "after": allocated},
    )


def prune_api_buckets(*, now: dt.datetime | None = None) -> int:
    """Delete buckets older than the window (they no longer count)."""
    cutoff = (now or timezone.now()) - WINDOW - dt.timedelta(hours=1)
    return ApiCallBucket.objects.filter(minute__lt=cutoff).delete()[0]


class DatabaseMeter:
    """The engine's meter: refuses a call that would exceed the allocation, counts every call."""

    def __init__(self, integration: Integration) -> None:
        self.integration = integration
        self.used = used_in_window(integration=integration)
        self.calls = 0
        self.org_used: int | None = None
        self.org_limit: int | None = None

    def remaining(self) -> int | None:
        limits = []
        if self.integration.api_allocation is not None:
            limits.append(self.integration.api_allocation - self.used)
        if self.org_limit is not None and self.org_used is not None:
            limits.append(self.org_limit - self.org_used)
        return min(limits) if limits else None

    def before_call(self) -> None:
        """Refuse the call if the budget is spent, else count it now, as it is sent: a call
        whose answer never comes (a crash, a timeout) still counts."""
        remaining = self.remaining()
        if remaining is not None and remaining <= 0:
            raise BudgetExhausted(
                f"API allocation used up ({self.used} calls in 24 h; allocated "
                f"{self.integration.api_allocation}, org limit {self.org_limit})"
            )
        self.used += 1
        self.calls += 1
        if self.org_used is not None:
            self.org_used += 1  # until the answer says what the org's count is
        count_call(integration_id=self.integration.pk)

    def after_call(self, *, org_used: int | None, org_limit: int | None) -> None:
        """Correct the org's usage from what the answer reports (the call is counted)."""
        if org_limit is not None:
            self.org_used, self.org_limit = org_used, org_limit

    def flush(self) -> None:
        """Store the limit Salesforce last reported on the integration."""
        if self.org_limit is None:
            return
        Integration.objects.filter(pk=self.integration.pk).update(
            api_limit=self.org_limit, api_org_used=self.org_used, api_limit_seen_at=timezone.now()
        )
        self.integration.api_limit, self.integration.api_org_used = self.org_limit, self.org_used
