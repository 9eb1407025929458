"""The "Merge selected records…" page of the record list: pick the winner, see what is filled."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from crm import sources
from crm.errors import CrmError
from crm.models import Property, Record
from crm.owners import owner_names, show_owner
from crm.services.merge import MAX_LOSERS, merge_records, planned_fills

HIDDEN = "•••"


def merge_selected(model_admin, request, queryset) -> TemplateResponse | None:
    """Show the merge page for the selected records, or merge them when it is submitted."""
    object_type = model_admin.object_type_for(request)
    records = list(queryset.order_by("pk"))
    if not 2 <= len(records) <= MAX_LOSERS + 1:
        model_admin.message_user(
            request,
            f"Select from 2 to {MAX_LOSERS + 1} records to merge.",
            messages.WARNING,
        )
        return None
    by_id = {r.pk: r for r in records}
    submitted = "winner" in request.POST
    winner_id = _int(request.POST.get("winner"))
    if winner_id not in by_id:
        winner_id = records[0].pk  # the oldest, until staff pick another
    fill_blanks = request.POST.get("fill_blanks") == "on" if submitted else True
    losers = [r for r in records if r.pk != winner_id]
    if submitted and request.POST.get("post"):
        try:
            merge_records(
                object_type=object_type,
                winner_id=winner_id,
                loser_ids=[r.pk for r in losers],
                fill_blanks=fill_blanks,
                actor=request.user,
                source=sources.USER,
            )
        except CrmError as exc:
            model_admin.message_user(request, exc.message, messages.ERROR)
            return None
        model_admin.message_user(
            request,
            f"Merged {len(losers)} records into {by_id[winner_id]}; they are in the recycle bin.",
        )
        return None
    schema = model_admin.schema_for(request, object_type)
    fills = (
        planned_fills(schema, by_id[winner_id], losers, actor=request.user, source=sources.USER)
        if fill_blanks
        else {}
    )
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Merge {object_type.label_plural.lower()}",
        "opts": Record._meta,
        "object_type": object_type,
        "records": records,
        "rows": _rows(schema, records, fills, request.user),
        "winner_id": winner_id,
        "fill_blanks": fill_blanks,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/crm/record/merge.html", context)


def _rows(schema, records: list[Record], fills: dict, user) -> list[dict]:
    """One row per property any selected record has a value for (hidden ones masked)."""
    rows = []
    owners = _owner_names(schema, records, fills)
    for name, prop in schema.properties.items():
        if not any(r.properties.get(name) not in (None, "", []) for r in records):
            continue
        visible = schema.can_view(user, name)
        shown = _owner_shown(owners) if prop.type == Property.Type.OWNER else _shown
        values = [shown(r.properties.get(name), visible) for r in records]
        filled = shown(fills[name][1], visible) if name in fills else ""
        rows.append({"name": name, "label": prop.label, "values": values, "filled": filled})
    return rows


def _owner_names(schema, records: list[Record], fills: dict) -> dict[int, str]:
    """The names of the owners the merged records hold (one query)."""
    names = [n for n, p in schema.properties.items() if p.type == Property.Type.OWNER]
    ids = [r.properties.get(n) for r in records for n in names]
    ids += [fills[n][1] for n in names if n in fills]
    return owner_names(ids) if names else {}


def _owner_shown(owners: dict[int, str]):
    def shown(value: object, visible: bool) -> str:
        return _shown(show_owner(value, owners) if value is not None else None, visible)

    return shown


def _shown(value: object, visible: bool) -> str:
    if value in (None, "", []):
        return ""
    if not visible:
        return HIDDEN
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None
