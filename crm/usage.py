"""Where a property is used ("Used in", SPEC P-8), without crm importing the apps that use it.

Each app that refers to properties (sync properties, integration field mappings, saved
filters) registers a provider in its AppConfig.ready(). Deleting a used property is refused
with the list.
"""

from __future__ import annotations

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


UsageProvider = Callable[["Property"], list[PropertyUsage]]
_providers: list[UsageProvider] = []


def register_usage_provider(provider: UsageProvider) -> UsageProvider:
    """Add a provider; usable as a decorator. Registering twice is a no-op."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def list_property_usages(prop: Property) -> list[PropertyUsage]:
    """Every place that refers to the property, from every registered provider."""
    return [usage for provider in _providers for usage in provider(prop)]
