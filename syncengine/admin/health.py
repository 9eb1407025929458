"""The sync health page of an integration (SPEC H, S-4), served from IntegrationAdmin.get_urls."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode

from accounts.permissions import check_permissions, has_permissions
from config.bounds import parse_id
from crm.models import Record
from syncengine import hooks
from syncengine.admin.held_deletes import held_delete_urls, save_threshold
from syncengine.errors import SyncEngineError
from syncengine.health import selectors
from syncengine.health.export import errors_csv_response
from syncengine.health.info import HELD_DELETES_INFO, INFO
from syncengine.health.record_filter import PARAMETER as SYNC_ERROR_PARAMETER
from syncengine.health.rows import error_rows
from syncengine.health.services import MAX_RESYNC, TOO_MANY, resync_errors
from syncengine.health.texts import count_of, record_name
from syncengine.models import Integration, SyncError
from syncengine.services.usage import set_api_allocation

CHART_W, CHART_H = 480, 120


def _check(request, perm: str = "syncengine.view_syncerror") -> None:
    # Staff who may see sync errors see the page; resyncing needs the start-sync permission.
    check_permissions(request, perm)


def _chart(points: list[dict]) -> dict:
    """Bars of an inline SVG: usage per hour, scaled to the busiest hour."""
    peak = max((p["calls"] for p in points), default=0) or 1
    width = CHART_W / len(points)
    bars = []
    for i, point in enumerate(points):
        height = round(point["calls"] / peak * (CHART_H - 20), 1)
        bars.append(
            {
                "x": round(i * width + 1, 1),
                "y": round(CHART_H - 14 - height, 1),
                "w": round(width - 2, 1),
                "h": height,
                "calls": point["calls"],
                "hour": point["hour"],
                "label": i % 6 == 0,
            }
        )
    return {"bars": bars, "peak": peak, "w": CHART_W, "h": CHART_H, "base": CHART_H - 14}


def _filters(request) -> dict:
    """The list's filters: an error type, a status, one record (from a cause link) and one
    sync stage (from the dashboard's failed count). Values it cannot read are left out."""
    category = request.GET.get("type") or None
    status = request.GET.get("status") or None
    return {
        "category": category if category in SyncError.Category.values else None,
        "status": status if status in SyncError.Status.values else None,
        "record": parse_id(request.GET.get("record") or ""),
        "stage": selectors.get_stage(stage_id=parse_id(request.GET.get("stage") or "")),
    }


FILTER_PARAMS = ("type", "status", "record", "stage")


def health_view(model_admin, request, integration_id: int):
    """API usage, the eight cards and, for a chosen card, its errors; resync; allocation."""
    _check(request)
    integration = get_object_or_404(Integration, pk=integration_id)
    here = reverse("admin:syncengine_integration_health", args=[integration.pk])
    if request.method == "POST":
        return _post(request, integration, here)
    # Stamped before the cards are read: an error arriving while the page renders stays new.
    seen = hooks.SyncHealthViewed(integration=integration, user=request.user, at=timezone.now())
    filters = _filters(request)
    if filters["stage"] is not None and filters["stage"].integration_id != integration.pk:
        filters["stage"] = None  # another integration's stage: not this page's errors
    cards = selectors.list_cards(integration=integration)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Sync health: {integration}",
        "opts": model_admin.model._meta,
        "integration": integration,
        "system": integration.get_kind_display(),
        "is_google": integration.kind == Integration.Kind.GOOGLE_CONTACTS,
        "usage": selectors.get_api_usage(integration=integration),
        "chart": _chart(selectors.list_usage_by_hour(integration=integration)),
        "cards": [{**card, "info": INFO[card["type"]]} for card in cards],
        "filters": filters,
        "max_resync": MAX_RESYNC,
        "can_change": has_permissions(request, ["syncengine.start_sync"]),
        "can_allocate": has_permissions(request, ["syncengine.change_integration"]),
        "held_deletes": selectors.list_held_deletes(integration=integration),
        "held_info": HELD_DELETES_INFO,
        "thresholds": selectors.list_mass_delete_thresholds(integration=integration),
        "export_url": reverse("admin:syncengine_integration_health_export", args=[integration.pk])
        + "?"
        + urlencode({k: v for k, v in request.GET.items() if k in FILTER_PARAMS and v}),
        # The changelist of settings opens the signed-in user's own settings page.
        "notifications_url": reverse("admin:notifications_notificationsetting_changelist"),
    }
    if filters["category"] or filters["stage"]:
        queryset = selectors.with_page_details(
            selectors.list_errors(integration=integration, **filters)
        )
        after = selectors.get_cursor_row(cursor=request.GET.get("after"))
        rows, last = selectors.keyset_page(queryset, after=after)
        context.update(
            info=INFO[filters["category"]] if filters["category"] else None,
            label=_list_label(filters),
            rows=error_rows(rows),
            record_filter=_record_filter(filters["record"]),
            next_url="?" + urlencode({**request.GET.dict(), "after": last.pk}) if last else "",
            first_url="?" + urlencode({k: v for k, v in request.GET.items() if k != "after"}),
        )
    response = render(request, "admin/syncengine/health/health.html", context)
    hooks.emit_sync_health_viewed(seen)
    return response


def _list_label(filters: dict) -> str:
    """The list's heading: its error type, and the stage it came from."""
    label = SyncError.Category(filters["category"]).label if filters["category"] else ""
    stage = filters["stage"]
    if stage is None:
        return label
    what = stage.get_operation_display()
    if stage.object_type:
        what = f"{what} · {stage.object_type.label_plural}"
    started = date_format(timezone.localtime(stage.started_at), "j M H:i")
    errors = f"{label} errors" if label else "Errors"
    return f"{errors} reported by the stage {what} (started {started})"


def _record_filter(record_id: int | None) -> dict | None:
    """The record a cause link narrowed the list to, named, with the link that widens it."""
    if record_id is None:
        return None
    record = Record.objects.select_related("object_type").filter(pk=record_id).first()
    return {
        "id": record_id,
        "label": record_name(record) if record else "a record that no longer exists",
    }


def _post(request, integration: Integration, here: str):
    if "threshold_mapping" in request.POST:
        save_threshold(request, integration)
        return HttpResponseRedirect(here)
    if "allocated" in request.POST:
        check_permissions(request, "syncengine.change_integration")
        raw = request.POST["allocated"].strip()
        if raw and not raw.isdigit():
            messages.error(request, "The allocation must be a whole number of calls (or blank).")
        else:
            try:
                set_api_allocation(
                    integration=integration,
                    allocated=int(raw) if raw else None,
                    actor=request.user,
                )
            except SyncEngineError as exc:
                messages.error(request, f"{exc.message} Nothing was changed.")
            else:
                messages.success(request, "API call allocation saved.")
        return HttpResponseRedirect(here)
    _check(request, "syncengine.start_sync")
    back = request.POST.get("back") or here
    if not back.startswith(here):
        back = here
    raw_ids = request.POST.getlist("ids")
    if len(set(raw_ids)) > MAX_RESYNC:
        messages.error(request, TOO_MANY.format(max=MAX_RESYNC, n=len(set(raw_ids))))
        return HttpResponseRedirect(back)
    try:
        ids = [int(i) for i in raw_ids]  # only the parsing: a ValueError elsewhere is a bug
    except ValueError:
        messages.error(request, "Select errors to resync.")
        return HttpResponseRedirect(back)
    try:
        counts = resync_errors(integration=integration, error_ids=ids, actor=request.user)
    except SyncEngineError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(back)
    messages.success(
        request,
        f"Resyncing {count_of(counts['resyncing'], 'error', 'errors')}: "
        f"{count_of(counts['records'], 'record is', 'records are')} being pushed now. Errors "
        "resolve when their records sync, or re-open with the new details.",
    )
    return HttpResponseRedirect(back)


def export_view(model_admin, request, integration_id: int):
    """The errors of the page's filter (or all current ones) as a streamed CSV."""
    _check(request)
    integration = get_object_or_404(Integration, pk=integration_id)
    queryset = selectors.list_errors(integration=integration, **_filters(request))
    return errors_csv_response(queryset, filename=f"sync-errors-{integration.pk}.csv")


def affected_view(model_admin, request, integration_id: int, error_id: int):
    """ "[N] records": the record list filtered to the records the error affects."""
    _check(request)
    error = get_object_or_404(
        SyncError.objects.select_related("record__object_type"),
        pk=error_id,
        integration_id=integration_id,
    )
    type_name, ids = selectors.list_affected_record_ids(error=error)
    if not ids:
        messages.info(request, "This error affects no records.")
        return HttpResponseRedirect(
            reverse("admin:syncengine_integration_health", args=[integration_id])
        )
    # The list follows the error (not a copy of today's ids), says why, and can be saved.
    query = urlencode({"type": type_name, SYNC_ERROR_PARAMETER: error.pk})
    return HttpResponseRedirect(f"{reverse('admin:crm_record_changelist')}?{query}")


def health_urls(model_admin) -> list:
    """The health page's URLs, for IntegrationAdmin.get_urls."""
    site = model_admin.admin_site

    def wrap(view):
        return site.admin_view(lambda request, **kw: view(model_admin, request, **kw))

    return [
        path(
            "<int:integration_id>/health/",
            wrap(health_view),
            name="syncengine_integration_health",
        ),
        path(
            "<int:integration_id>/health/export/",
            wrap(export_view),
            name="syncengine_integration_health_export",
        ),
        path(
            "<int:integration_id>/health/errors/<int:error_id>/records/",
            wrap(affected_view),
            name="syncengine_integration_health_affected",
        ),
        *held_delete_urls(model_admin),
    ]
