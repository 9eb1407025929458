"""Triage reads: where staff start (SPEC T-3): the admin index's sync health panel and the
bell's new sync errors, shown on every admin page.

"New" errors are the current ones first seen after the user last opened the integration's
health page. Counting them must not read every current error (a million of them on a large
install, on every page): for an integration the user never opened, all its current errors are
new, and the health cards' kept counts (`SyncErrorCount`) say how many; for one they opened,
the partial index on (integration, first seen) of current errors reads only the errors
since the visit.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, OuterRef, Subquery
from django.urls import reverse

from notifications.models import Notification, SyncHealthVisit
from syncengine.models import Integration, SyncError, SyncErrorCount

OPEN_STATUSES = (SyncError.Status.OPEN, SyncError.Status.RESYNCING)


def health_url(integration_id: int, category: str | None = None) -> str:
    """The integration's sync health page (relative), opened on one card if given."""
    url = reverse("admin:syncengine_integration_health", args=[integration_id])
    return url + (f"?type={category}" if category else "")


def count_unread(*, user) -> int:
    """How many of the user's notifications are unread (the admin bell)."""
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


@dataclass
class _Card:
    integration_id: int
    name: str
    category: str
    errors: int  # current errors (the card's kept count)
    seen_at: dt.datetime | None  # when the user last opened the integration's health page


def _current_cards(*, user) -> list[_Card]:
    """Every card with current errors, with the user's last visit: one query."""
    visit = SyncHealthVisit.objects.filter(user=user, integration=OuterRef("integration_id"))
    rows = (
        SyncErrorCount.objects.filter(errors__gt=0)
        .annotate(seen_at=Subquery(visit.values("seen_at")[:1]))
        .order_by()
        .values_list("integration_id", "integration__name", "category", "errors", "seen_at")
    )
    return [_Card(*row) for row in rows]


def _new_counts(cards: list[_Card]) -> dict[tuple[int, str], int]:
    """New errors per (integration, card): none read for an integration never visited (all
    its current errors are new), one index range per visited one, in one query."""
    new = {(c.integration_id, c.category): c.errors for c in cards if c.seen_at is None}
    visits = {c.integration_id: c.seen_at for c in cards if c.seen_at is not None}
    parts = [
        SyncError.objects.filter(
            integration_id=integration_id, status__in=OPEN_STATUSES, first_seen_at__gt=seen_at
        )
        .values("integration_id", "category")
        .annotate(n=Count("*"))
        .order_by()
        for integration_id, seen_at in visits.items()
    ]
    if parts:
        since = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
        new.update({(r["integration_id"], r["category"]): r["n"] for r in since})
    return new


@dataclass
class NewErrors:
    integration_id: int
    name: str
    count: int

    @property
    def url(self) -> str:
        return health_url(self.integration_id)


@dataclass
class Bell:
    unread: int  # unread in-app notifications
    sync_errors: list[NewErrors]  # per integration with new errors, by name

    @property
    def total(self) -> int:
        return self.unread + sum(n.count for n in self.sync_errors)


def get_bell(*, user, notifications: bool, sync_errors: bool) -> Bell:
    """The bell's counts: unread notifications and new sync errors (the kinds the user may see).

    Unread notifications, the cards, and the errors new since the user's visits if they made
    any: three queries at most, however many integrations and errors there are.
    """
    unread = count_unread(user=user) if notifications else 0
    new: list[NewErrors] = []
    if sync_errors:
        cards = _current_cards(user=user)
        names = {c.integration_id: c.name for c in cards}
        totals: dict[int, int] = defaultdict(int)
        for (integration_id, _), n in _new_counts(cards).items():
            totals[integration_id] += n
        new = sorted(
            (NewErrors(i, names[i], n) for i, n in totals.items() if n and i in names),
            key=lambda e: (e.name, e.integration_id),
        )
    return Bell(unread=unread, sync_errors=new)


@dataclass
class CardTriage:
    category: str
    label: str
    url: str
    open: int = 0
    new: int = 0


@dataclass
class IntegrationTriage:
    integration: Integration
    url: str
    cards: list[CardTriage]

    @property
    def open(self) -> int:
        return sum(c.open for c in self.cards)

    @property
    def new(self) -> int:
        return sum(c.new for c in self.cards)


def list_sync_health(*, user) -> list[IntegrationTriage]:
    """The admin index's panel: each integration with its current errors per card and how many
    are new since the user last opened its health page. The integrations, their cards, and the
    errors new since the user's visits if they made any: three queries at most, whatever the
    number of integrations, cards or errors."""
    integrations = list(Integration.objects.order_by("name", "pk"))
    # The health page's own card counts (kept by the error service), so both always agree.
    current = _current_cards(user=user)
    new = _new_counts(current)
    labels = dict(SyncError.Category.choices)
    cards: dict[int, dict[str, CardTriage]] = defaultdict(dict)
    for card in current:
        key = (card.integration_id, card.category)
        cards[card.integration_id][card.category] = CardTriage(
            category=card.category,
            label=labels.get(card.category, card.category),
            url=health_url(*key),
            open=card.errors,
            # An error counted new but resolved since the count was kept cannot exceed it.
            new=min(new.get(key, 0), card.errors),
        )
    order = {c: i for i, c in enumerate(SyncError.Category.values)}
    return [
        IntegrationTriage(
            integration=integration,
            url=health_url(integration.pk),
            cards=sorted(cards[integration.pk].values(), key=lambda c: order.get(c.category, 99)),
        )
        for integration in integrations
    ]
