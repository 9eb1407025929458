"""Panels other apps add to a record's admin page, without crm importing them.

An app registers a provider in its AppConfig.ready(); the record's change page asks every
provider for its panel (a template and its context) and renders them below the form. The sync
engine's card (its links, errors and timeline) is one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http import HttpRequest

    from crm.models import Record


@dataclass(frozen=True, slots=True)
class RecordPanel:
    title: str
    template: str  # rendered with `panel` (this object) in its context
    context: dict = field(default_factory=dict)


PanelProvider = Callable[["Record", "HttpRequest"], "RecordPanel | None"]
_providers: list[PanelProvider] = []


def register_record_panel(provider: PanelProvider) -> PanelProvider:
    """Add a provider; usable as a decorator. Registering twice is a no-op."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def list_record_panels(record: Record, request: HttpRequest) -> list[RecordPanel]:
    """The panels of a record's page, from every registered provider that has one for it."""
    panels = (provider(record, request) for provider in _providers)
    return [panel for panel in panels if panel is not None]
