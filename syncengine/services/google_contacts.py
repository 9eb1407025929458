"""Google Contacts integrations: sync rules and filters (G-2, G-3), default field mappings
(G-4), and the metered connector. Connecting is services.connect's; OAuth is the connector's."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from crm.audit import record_audit
from crm.models import ObjectType, Property
from syncengine.connectors.google_contacts import mapping as gm
from syncengine.models import FieldMapping, Integration, ObjectMapping, SyncRule

# SPEC G-2: the sync rule decides the contacts mapping's direction; "filters" is two-way for
# the contacts that pass the Google-side filters (G-3).
SYNC_RULES = {
    "two_way": ObjectMapping.Direction.TWO_WAY,
    "to_google": ObjectMapping.Direction.TO_REMOTE,
    "from_google": ObjectMapping.Direction.FROM_REMOTE,
    "filters": ObjectMapping.Direction.TWO_WAY,
}
CONFLICT_WINNERS = {"concord": "local", "google": "remote"}
# A new integration's settings (a reconnected one keeps its own).
DEFAULT_SETTINGS = {
    "sync_interval_minutes": 5,
    "sync_rule": "two_way",
    "filters": [],
    "conflict_winner": "local",
}


@transaction.atomic
def create_default_mappings(*, integration: Integration) -> ObjectMapping:
    """contacts ↔ Person with the eleven locked default field mappings (SPEC G-4)."""
    contacts = ObjectType.objects.get(name="contacts")
    connector_schema = {
        f.name: {"type": f.type, "label": f.label, "createable": True, "updateable": True,
                 "restricted": False, "picklist": []}
        for f in gm.FIELDS
    }  # fmt: skip
    om, _ = ObjectMapping.objects.get_or_create(
        integration=integration,
        object_type=contacts,
        remote_object=gm.REMOTE_OBJECT,
        defaults={"sync_order": 10, "remote_schema": connector_schema},
    )
    props = {p.name: p for p in Property.objects.filter(object_type=contacts)}
    for prop_name, field in gm.DEFAULT_FIELD_MAPPINGS:
        if prop_name in props:
            FieldMapping.objects.get_or_create(
                object_mapping=om,
                remote_field=field,
                defaults={
                    "property": props[prop_name],
                    "rule": SyncRule.TWO_WAY,
                    "is_default": True,
                },
            )
    return om


@transaction.atomic
def configure_sync(
    *,
    integration: Integration,
    sync_rule: str,
    filters: list[str] | None = None,
    conflict_winner: str = "concord",
    actor=None,
) -> Integration:
    """Set the sync rule, the Google-side filters and the app that wins conflicts (validated
    first: a bad value changes nothing)."""
    errors: dict[str, list[str]] = {}
    filters = list(filters or [])
    if integration.kind != Integration.Kind.GOOGLE_CONTACTS:
        errors["integration"] = ["is not a Google Contacts integration"]
    if sync_rule not in SYNC_RULES:
        errors["sync_rule"] = [f"must be one of {', '.join(SYNC_RULES)}"]
    unknown = sorted(set(filters) - set(gm.FILTER_GROUPS))
    if unknown:
        errors["filters"] = [f"unknown filters {unknown}; use {', '.join(gm.FILTER_GROUPS)}"]
    elif sync_rule == "filters" and not filters:
        errors["filters"] = ["choose at least one filter for the “sync filters” rule"]
    elif filters and sync_rule != "filters":
        errors["filters"] = ["filters apply only with the “sync filters” rule"]
    if conflict_winner not in CONFLICT_WINNERS:
        errors["conflict_winner"] = [f"must be one of {', '.join(CONFLICT_WINNERS)}"]
    if errors:
        raise ValidationError(errors)
    before = dict(integration.settings or {})
    integration.settings = {
        **before,
        "sync_rule": sync_rule,
        "filters": filters,
        "conflict_winner": CONFLICT_WINNERS[conflict_winner],
    }
    integration.save(update_fields=["settings"])
    contacts = ObjectMapping.objects.filter(integration=integration, remote_object=gm.REMOTE_OBJECT)
    contacts.update(direction=SYNC_RULES[sync_rule])
    if _filters_of(before) != _filters_of(integration.settings):
        # Other filters: the next pull lists every contact again (not only those changed since
        # the sync token), so contacts outside the new filters go dormant and those inside
        # them resume.
        contacts.update(pull_cursor="")
    record_audit(
        verb="configure_google_sync",
        source="user" if actor else "system",
        actor=actor,
        target_repr=str(integration),
        detail={"integration": integration.pk, "before": before, "after": integration.settings},
    )
    return integration


def _filters_of(settings_: dict) -> set[str]:
    """The filters in force under some settings (none unless the rule is "filters")."""
    if settings_.get("sync_rule") != "filters":
        return set()
    return set(settings_.get("filters") or [])


def sync_options(integration: Integration) -> dict:
    """The sync rule, filters and conflict winner as staff chose them."""
    settings_ = integration.settings or {}
    winner = {v: k for k, v in CONFLICT_WINNERS.items()}.get(settings_.get("conflict_winner"))
    return {
        "sync_rule": settings_.get("sync_rule", "two_way"),
        "filters": list(settings_.get("filters") or []),
        "conflict_winner": winner or "concord",
    }
