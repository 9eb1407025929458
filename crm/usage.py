"""Where a property is used ("Used in", SPEC P-8), without crm importing the apps that use it.

Each app that refers to properties (sync properties, integration field mappings, saved
filters) registers a provider in its AppConfig.ready(). Deleting a used property is refused
with the list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crm.models import Property


@dataclass(frozen=True, slots=True)
class PropertyUsage:
    kind: str  # "sync_property", "field_mapping", "saved_view", …
    label: str  # what a person reads, e.g. "Salesforce field mapping Contact.Email"
    url: str = ""  # where to see it in the admin, if anywhere
    # The user it belongs to (a saved view's owner): only they see it by name, others a count.
    owner_id: int | None = None


UsageProvider = Callable[["Property"], list[PropertyUsage]]
_providers: list[UsageProvider] = []


def register_usage_provider(provider: UsageProvider) -> UsageProvider:
    """Add a provider; usable as a decorator. Registering twice is a no-op."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def list_property_usages(prop: Property, *, viewer=None) -> list[PropertyUsage]:
    """Every place that refers to the property, from every registered provider.

    What belongs to another user than `viewer` (e.g. their saved views) is counted, not
    named: a view's name and owner are theirs, that it exists still blocks a deletion.
    """
    usages, others = [], Counter()
    for usage in (usage for provider in _providers for usage in provider(prop)):
        if usage.owner_id is None or usage.owner_id == getattr(viewer, "pk", None):
            usages.append(usage)
        else:
            others[usage.kind] += 1
    for kind, count in others.items():
        noun = kind.replace("_", " ") + ("" if count == 1 else "s")
        usages.append(PropertyUsage(kind=kind, label=f"{count} {noun} of other users"))
    return usages
