"""The sync status dashboard (M-1 … M-4), served in place of the stages' change list."""

from __future__ import annotations

import zoneinfo

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode

from accounts.services import set_time_zone
from crm.models import ObjectType
from syncengine import selectors
from syncengine.export import stages_csv_response
from syncengine.filtersets import DEFAULT_STAGE_ORDERING
from syncengine.models import SyncStage

FILTER_NAMES = (
    "integration",
    "object_type",
    "operation",
    "status",
    "started_after",
    "started_before",
)


@admin.register(SyncStage)
class SyncStageAdmin(admin.ModelAdmin):
    """The sync status dashboard (M-1 … M-4) replaces the plain change list."""

    def get_urls(self):
        return [
            path(
                "",
                self.admin_site.admin_view(self.dashboard_view),
                name="syncengine_syncstage_changelist",
            ),
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="syncengine_syncstage_export",
            ),
        ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def _check(self, request) -> None:
        # M-4: admins only (superusers, or staff given the view permission on stages).
        if not self.has_view_permission(request):
            raise PermissionDenied

    def dashboard_view(self, request):
        self._check(request)
        tz_name, tz = _time_zone(request)
        raw = _filters(request)
        # Filter times without an offset are the chosen zone's, and times are shown in it.
        with timezone.override(tz):
            stages = selectors.group_stages_by_cycle(
                selectors.list_stages(filters={**raw, "ordering": raw["o"]}), ordering=raw["o"]
            )
            page = Paginator(stages, 100).get_page(request.GET.get("page"))
            query = urlencode({k: v for k, v in {**raw, "tz": tz_name}.items() if v and k != "o"})
            context = {
                **self.admin_site.each_context(request),
                "title": "Sync status",
                "opts": self.model._meta,
                "page": page,
                "filters": {**raw, "tz": tz_name},
                "query": query,
                "integrations": selectors.list_integrations(),
                "object_types": ObjectType.objects.order_by("label_plural"),
                "operations": SyncStage.Operation.choices,
                "statuses": SyncStage.Status.choices,
                "timezones": sorted(zoneinfo.available_timezones()),
                "has_time_zone": hasattr(request.user, "preference"),
                "days": selectors.DASHBOARD_DAYS,
                "export_url": reverse("admin:syncengine_syncstage_export"),
            }
            return render(request, "admin/syncengine/dashboard.html", context)

    def export_view(self, request):
        self._check(request)
        _, tz = _time_zone(request)
        raw = _filters(request)
        with timezone.override(tz):  # the CSV's times are in the chosen zone
            stages = selectors.list_stages(filters={**raw, "ordering": raw["o"]})
            return stages_csv_response(stages, filename="sync-status.csv")


def _time_zone(request) -> tuple[str, zoneinfo.ZoneInfo]:
    """The user's zone (X-5); a zone chosen on the page becomes the user's preference first."""
    chosen = request.GET.get("tz")
    if chosen and chosen != timezone.get_current_timezone_name():
        try:
            set_time_zone(user=request.user, time_zone=chosen)
        except ValidationError as error:
            messages.error(request, error.messages[0] + " Your time zone was not changed.")
        else:
            # The middleware activated the old preference for this request; show the new one.
            return chosen, zoneinfo.ZoneInfo(chosen)
    return timezone.get_current_timezone_name(), timezone.get_current_timezone()


def _filters(request) -> dict[str, str]:
    """The page's filters as typed, read by SyncStageFilterSet; the page sorts with "o"."""
    raw = {name: request.GET.get(name, "") for name in FILTER_NAMES}
    raw["o"] = request.GET.get("o") or DEFAULT_STAGE_ORDERING
    return raw
