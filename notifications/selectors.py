"""Notification reads: in-app lists, settings, and the content and schedule of digests."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import (
    Case,
    Count,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber
from django.urls import reverse
from django.utils import timezone

from accounts.selectors import list_users_with_permission
from notifications.models import (
    DigestRun,
    Frequency,
    IntegrationNotificationSetting,
    Notification,
    NotificationSetting,
)
from syncengine.models import Integration, SyncError, SyncErrorAffectedRecord

OPEN_STATUSES = (SyncError.Status.OPEN, SyncError.Status.RESYNCING)
TOP_ERRORS = 5
# How long a window's aggregate is shared: longer than a fan-out takes to send its digests.
DIGEST_SHARE_SECONDS = 15 * 60


def list_notifications(*, user, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's own notifications, newest first."""
    queryset = Notification.objects.filter(user=user)
    if unread_only:
        queryset = queryset.filter(read_at__isnull=True)
    return queryset.order_by("-created_at", "-pk")


def get_setting(*, user) -> NotificationSetting:
    """The user's settings with their per-integration choices; unsaved defaults if none yet."""
    setting = NotificationSetting.objects.filter(user=user).prefetch_related("integrations").first()
    return setting or NotificationSetting(user=user)


def instant_interval() -> dt.timedelta:
    """The shortest gap between two "instantly" emails to one user."""
    return dt.timedelta(minutes=getattr(django_settings, "CONCORD_NOTIFY_INSTANT_MINUTES", 5))


def integration_frequencies(
    setting: NotificationSetting, integration_ids: list[int]
) -> dict[int, str | None]:
    """Each integration's effective digest frequency for this user (None: off)."""
    overrides: dict[int, IntegrationNotificationSetting] = (
        {o.integration_id: o for o in setting.integrations.all()} if setting.pk else {}
    )
    result: dict[int, str | None] = {}
    for pk in integration_ids:
        override = overrides.get(pk)
        if override is not None:
            result[pk] = override.frequency if override.enabled else None
        else:
            result[pk] = setting.sync_errors_frequency if setting.sync_errors_enabled else None
    return result


def scheduled_window_end(
    setting: NotificationSetting, frequency: str, now: dt.datetime
) -> dt.datetime:
    """When the digest of this frequency is due: now, or the last scheduled local time."""
    if frequency == Frequency.INSTANTLY:
        return now
    tz = ZoneInfo(setting.time_zone)
    local = now.astimezone(tz)
    end = dt.datetime.combine(local.date(), dt.time(setting.daily_hour), tzinfo=tz)
    if frequency == Frequency.DAILY:
        step = dt.timedelta(days=1)
    else:
        step = dt.timedelta(days=7)
        end -= dt.timedelta(days=(local.weekday() - setting.weekly_day) % 7)
    if end > local:
        end -= step
    return end.astimezone(dt.UTC)


def first_window_start(
    setting: NotificationSetting, frequency: str, window_end: dt.datetime
) -> dt.datetime:
    """Where a user's first digest of this frequency starts (deterministic: it is the claim)."""
    if frequency == Frequency.INSTANTLY:
        return setting.created_at
    return window_end - dt.timedelta(days=1 if frequency == Frequency.DAILY else 7)


def get_last_run(*, user_id: int, frequency: str) -> DigestRun | None:
    """The user's previous digest of this frequency."""
    return DigestRun.objects.filter(user_id=user_id, frequency=frequency).first()


# A claim older than this belongs to a worker that died mid-batch (a batch takes seconds):
# its digest is due again and may be claimed anew.
CLAIM_TIMEOUT = dt.timedelta(minutes=15)


def stale_claim_cutoff() -> dt.datetime:
    """Claims made before this are abandoned (claims are stamped with the clock, not `now`)."""
    return timezone.now() - CLAIM_TIMEOUT


def _counted_runs():
    """The runs that close their window: all but abandoned claims."""
    return DigestRun.objects.exclude(
        status=DigestRun.Status.CLAIMED, created_at__lt=stale_claim_cutoff()
    )


def last_digest_ends(*, user_ids: list[int], frequency: str) -> dict[int, dt.datetime]:
    """Each user's previous digest end of this frequency (one query for all of them)."""
    return dict(
        _counted_runs()
        .filter(user_id__in=user_ids, frequency=frequency)
        .values_list("user_id")
        .annotate(last=Max("window_end"))
        .values_list("user_id", "last")
        .order_by()
    )


def list_digest_recipients(*, user_ids: list[int]) -> list:
    """Those of these users who receive sync-error digests, with their settings (one query
    and one for their per-integration choices): active staff with an email who may see sync
    errors (the health page's permission), checked once per digest, when it is sent."""
    return list(
        get_user_model()
        .objects.filter(pk__in=user_ids, is_active=True, is_staff=True)
        .filter(pk__in=list_users_with_permission("syncengine.view_syncerror").values("pk"))
        .exclude(email="")
        .select_related("notification_setting")
        .prefetch_related("notification_setting__integrations")
        .order_by("pk")
    )


def list_due_digests(*, now: dt.datetime) -> list[tuple[int, str]]:
    """(user id, frequency) of every digest due now; a constant number of queries."""
    User = get_user_model()
    last_end = {
        f: Subquery(
            _counted_runs()
            .filter(user=OuterRef("pk"), frequency=f)
            .order_by("-window_end")
            .values("window_end")[:1]
        )
        for f in Frequency.values
    }
    users = (
        # Sync errors go only to staff who may see them (the health page's permission).
        User.objects.filter(is_active=True, is_staff=True)
        .filter(pk__in=list_users_with_permission("syncengine.view_syncerror").values("pk"))
        .exclude(email="")
        .select_related("notification_setting")
        .prefetch_related("notification_setting__integrations")
        .annotate(**{f"last_{f}": q for f, q in last_end.items()})
        .order_by("pk")
    )
    integration_ids = list(Integration.objects.values_list("pk", flat=True))
    # An "instantly" digest is due only when an error appeared since the last one.
    newest = dict(
        SyncError.objects.filter(status__in=OPEN_STATUSES)
        .values_list("integration_id")
        .annotate(newest=Max("first_seen_at"))
        .values_list("integration_id", "newest")
    )
    due = []
    for user in users:
        setting = getattr(user, "notification_setting", None) or NotificationSetting(user=user)
        by_frequency: dict[str, list[int]] = defaultdict(list)
        for pk, frequency in integration_frequencies(setting, integration_ids).items():
            if frequency:
                by_frequency[frequency].append(pk)
        for frequency, pks in by_frequency.items():
            last = getattr(user, f"last_{frequency}")
            if frequency == Frequency.INSTANTLY:
                start = last or setting.created_at
                if start is None or (last and last > now - instant_interval()):
                    continue
                if any(newest.get(pk) and newest[pk] > start for pk in pks):
                    due.append((user.pk, frequency))
            elif last is None or last < scheduled_window_end(setting, frequency, now):
                due.append((user.pk, frequency))
    return due


@dataclass
class CategoryCounts:
    category: str
    label: str
    open: int = 0
    new: int = 0
    resolved: int = 0
    errors_url: str = ""
    object_types: dict[str, str] = field(default_factory=dict)  # label → affected-records url


@dataclass
class IntegrationDigest:
    integration: Integration
    errors_url: str
    categories: list[CategoryCounts]
    top_errors: list[SyncError]

    @property
    def open(self) -> int:
        return sum(c.open for c in self.categories)

    @property
    def new(self) -> int:
        return sum(c.new for c in self.categories)

    @property
    def resolved(self) -> int:
        return sum(c.resolved for c in self.categories)


@dataclass
class Digest:
    frequency: str
    window_start: dt.datetime
    window_end: dt.datetime
    integrations: list[IntegrationDigest]

    @property
    def new(self) -> int:
        return sum(i.new for i in self.integrations)

    @property
    def resolved(self) -> int:
        return sum(i.resolved for i in self.integrations)


def absolute(path: str) -> str:
    return django_settings.CONCORD_BASE_URL.rstrip("/") + path


def errors_url(integration_id: int, category: str | None = None) -> str:
    """The integration's sync health page, opened on one error type's card if given."""
    url = reverse("admin:syncengine_integration_health", args=[integration_id])
    return absolute(url + (f"?type={category}" if category else ""))


def build_digest(
    *,
    integrations: list[Integration],
    frequency: str,
    window_start: dt.datetime,
    window_end: dt.datetime,
) -> Digest:
    """The sync-error digest of these integrations over (start, end].

    The counts and top errors of an integration over a window are the same for every recipient,
    so they are built once per integration and window (`window_aggregates`) and shared; what is
    per user is only which integrations they follow, and the rendering.
    """
    shared = window_aggregates(
        integration_ids=[i.pk for i in integrations],
        window_start=window_start,
        window_end=window_end,
    )
    return assemble_digest(
        integrations=integrations,
        frequency=frequency,
        window_start=window_start,
        window_end=window_end,
        shared=shared,
    )


def assemble_digest(
    *,
    integrations: list[Integration],
    frequency: str,
    window_start: dt.datetime,
    window_end: dt.datetime,
    shared: dict[int, WindowAggregate],
) -> Digest:
    """A recipient's digest from the window's shared aggregates (no query)."""
    return Digest(
        frequency=frequency,
        window_start=window_start,
        window_end=window_end,
        integrations=[
            IntegrationDigest(
                integration=i,
                errors_url=shared[i.pk].errors_url,
                categories=shared[i.pk].categories,
                top_errors=shared[i.pk].top_errors,
            )
            for i in integrations
            if shared[i.pk].categories
        ],
    )


@dataclass
class WindowAggregate:
    """One integration's sync errors over one digest window: what every recipient is sent."""

    categories: list[CategoryCounts]
    top_errors: list[SyncError]
    errors_url: str  # the integration's health page (a reverse() per recipient otherwise)


def window_share_key(
    integration_id: int, window_start: dt.datetime, window_end: dt.datetime
) -> str:
    return (
        f"notifications:digest-window:v2:{integration_id}:"
        f"{window_start.timestamp()}:{window_end.timestamp()}"
    )


def window_aggregates(
    *, integration_ids: list[int], window_start: dt.datetime, window_end: dt.datetime
) -> dict[int, WindowAggregate]:
    """Each integration's aggregate over the window: shared through the cache, built if missing.

    Daily and weekly digests of one hour end at the same instant for every user of a time zone,
    so a fan-out of a thousand digests builds each integration's aggregate once (two queries
    for all the missing integrations) and reads it from the cache afterwards. It is kept for
    DIGEST_SHARE_SECONDS: the open counts are as of the first recipient's build, minutes old at
    most for the last one.
    """
    keys = {pk: window_share_key(pk, window_start, window_end) for pk in integration_ids}
    cached = cache.get_many(list(keys.values())) if keys else {}
    result = {pk: cached[key] for pk, key in keys.items() if key in cached}
    missing = [pk for pk in integration_ids if pk not in result]
    if missing:
        built = _build_aggregates(missing, window_start, window_end)
        cache.set_many({keys[pk]: built[pk] for pk in missing}, timeout=DIGEST_SHARE_SECONDS)
        result.update(built)
    return result


def _build_aggregates(
    ids: list[int], window_start: dt.datetime, window_end: dt.datetime
) -> dict[int, WindowAggregate]:
    """The aggregates of these integrations: two queries, whatever their number."""
    in_window = Q(first_seen_at__gt=window_start, first_seen_at__lte=window_end)
    resolved_in_window = Q(
        status=SyncError.Status.RESOLVED, resolved_at__gt=window_start, resolved_at__lte=window_end
    )
    # Open errors are counted by the (integration, status, category) index; resolved ones in
    # the window are few.
    rows = (
        SyncError.objects.filter(integration_id__in=ids)
        .filter(Q(status__in=OPEN_STATUSES) | resolved_in_window)
        .values("integration_id", "category", "object_type__name", "object_type__label_plural")
        .annotate(
            n_open=Count("pk", filter=Q(status__in=OPEN_STATUSES)),
            n_new=Count("pk", filter=Q(status__in=OPEN_STATUSES) & in_window),
            n_resolved=Count("pk", filter=resolved_in_window),
        )
        .order_by()
    )
    labels = dict(SyncError.Category.choices)
    counts: dict[int, dict[str, CategoryCounts]] = defaultdict(dict)
    for row in rows:
        category = row["category"]
        c = counts[row["integration_id"]].setdefault(
            category,
            CategoryCounts(
                category=category,
                label=labels.get(category, category),
                errors_url=errors_url(row["integration_id"], category),
            ),
        )
        c.open += row["n_open"]
        c.new += row["n_new"]
        c.resolved += row["n_resolved"]
        if row["object_type__name"] and row["n_open"]:
            c.object_types[row["object_type__label_plural"]] = absolute(
                f"/admin/crm/record/?type={row['object_type__name']}"
            )
    top: dict[int, list[SyncError]] = defaultdict(list)
    for error in _top_errors(ids, window_start, window_end):
        top[error.integration_id].append(error)
    order = {c: i for i, c in enumerate(SyncError.Category.values)}
    return {
        pk: WindowAggregate(
            categories=sorted(counts[pk].values(), key=lambda c: order.get(c.category, 99)),
            top_errors=top[pk],
            errors_url=errors_url(pk),
        )
        for pk in ids
    }


def _top_errors(ids: list[int], start: dt.datetime, end: dt.datetime) -> list[SyncError]:
    """The open errors most worth a look per integration: new first, then the most repeated."""
    is_new = Q(first_seen_at__gt=start, first_seen_at__lte=end)
    affected = (
        SyncErrorAffectedRecord.objects.filter(error=OuterRef("pk"))
        .order_by()
        .values("error")
        .annotate(n=Count("pk"))
        .values("n")
    )
    ranked = (
        SyncError.objects.filter(integration_id__in=ids, status__in=OPEN_STATUSES)
        .alias(
            rank=Window(
                RowNumber(),
                partition_by=[F("integration_id")],
                order_by=[
                    Case(When(is_new, then=Value(1)), default=Value(0)).desc(),
                    F("occurrences").desc(),
                    F("last_seen_at").desc(),
                    F("pk").desc(),
                ],
            )
        )
        .filter(rank__lte=TOP_ERRORS)
        .annotate(affected_count=Coalesce(Subquery(affected), Value(0)))
        .select_related("record__object_type", "object_type")
        .order_by("integration_id", "-last_seen_at")
    )
    errors = list(ranked)
    for error in errors:
        error.is_new = start < error.first_seen_at <= end
    return errors
