"""Staff screens of the sync engine, one module per screen; importing them registers them."""

from syncengine.admin import (
    connect,
    cycles,
    dashboard,
    errors,
    google_sync,
    health,
    integrations,
    mappings,
)

__all__ = [
    "connect",
    "cycles",
    "dashboard",
    "errors",
    "google_sync",
    "health",
    "integrations",
    "mappings",
]
