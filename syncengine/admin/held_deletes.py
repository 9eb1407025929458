"""The "Mass delete held" card's actions (SPEC L-5): confirm or discard after a confirmation
step, and the mappings' mass-delete thresholds; served from IntegrationAdmin.get_urls."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse

from accounts.permissions import check_permissions
from syncengine.errors import SyncEngineError
from syncengine.health import selectors
from syncengine.health.info import HELD_DELETES_INFO
from syncengine.models import HeldDelete, Integration, ObjectMapping
from syncengine.services import held_deletes as services

PERMISSION = "syncengine.change_integration"  # who may confirm, discard or set thresholds
DECISIONS = ("confirm", "discard")


def _effect(group: dict, decision: str, remote: str) -> str:
    """What the decision does, in the words of the confirmation page."""
    n, pull = group["count"], group["direction"] == HeldDelete.Direction.PULL
    if decision == "confirm" and pull:
        return (
            f"{n} Concord {group['object_type']} records will be archived (restorable from the "
            "recycle bin), as their records were deleted in " + remote + "."
        )
    if decision == "confirm":
        return f"{n} {group['remote_object']} records will be deleted in {remote} next cycle."
    if pull:
        return (
            f"{n} Concord records are kept and unlinked; a pushing mapping creates them again "
            f"in {remote}."
        )
    return f"{n} {remote} records are kept; their Concord records stay archived."


def decide_view(model_admin, request, integration_id: int, mapping_id: int, direction: str,
                decision: str):  # fmt: skip
    """GET: the confirmation step (count, sample, effect); POST: apply the decision."""
    check_permissions(request, PERMISSION)
    integration = get_object_or_404(Integration, pk=integration_id)
    if decision not in DECISIONS or direction not in HeldDelete.Direction.values:
        raise Http404("no such decision")
    here = reverse("admin:syncengine_integration_health", args=[integration.pk])
    group = next(
        (
            g
            for g in selectors.list_held_deletes(integration=integration)
            if g["object_mapping"] == mapping_id and g["direction"] == direction
        ),
        None,
    )
    if group is None:
        messages.info(request, "No deletes of this mapping are held (any more).")
        return HttpResponseRedirect(here)
    if request.method == "POST":
        service = services.confirm_held_deletes if decision == "confirm" else (
            services.discard_held_deletes
        )  # fmt: skip
        try:
            result = service(
                integration=integration,
                object_mapping_id=mapping_id,
                direction=direction,
                actor=request.user,
            )
        except SyncEngineError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(here)
        done = "confirmed" if decision == "confirm" else "discarded"
        messages.success(request, f"{result[done]} held deletes {done}.")
        return HttpResponseRedirect(here)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"{decision.capitalize()} {group['count']} held deletes?",
        "opts": model_admin.model._meta,
        "integration": integration,
        "group": group,
        "decision": decision,
        "effect": _effect(group, decision, integration.get_kind_display()),
        "info": HELD_DELETES_INFO,
        "back": here,
    }
    return render(request, "admin/syncengine/health/held_delete_confirm.html", context)


def save_threshold(request, integration: Integration) -> None:
    """The health page's threshold form: one mapping's share and minimum (audited service)."""
    check_permissions(request, PERMISSION)
    om = ObjectMapping.objects.filter(
        pk=_int(request.POST.get("threshold_mapping")), integration=integration
    ).first()
    if om is None:
        messages.error(request, "Choose a mapping of this integration.")
        return
    share, minimum = request.POST.get("share", "").strip(), request.POST.get("minimum", "")
    parsed = _int(minimum.strip())
    if parsed is None:
        messages.error(request, "The minimum must be a whole number ≥ 0.")
        return
    try:
        services.set_mass_delete_threshold(
            object_mapping=om, share=share or None, minimum=parsed, actor=request.user
        )
    except SyncEngineError as exc:
        messages.error(request, exc.message)
        return
    messages.success(request, f"Mass-delete threshold of {om} saved.")


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 11 else None


def held_delete_urls(model_admin) -> list:
    """The card's confirmation URLs, for IntegrationAdmin.get_urls."""
    site = model_admin.admin_site
    return [
        path(
            "<int:integration_id>/health/held-deletes/<int:mapping_id>/<str:direction>/"
            "<str:decision>/",
            site.admin_view(lambda request, **kw: decide_view(model_admin, request, **kw)),
            name="syncengine_integration_held_deletes",
        )
    ]
