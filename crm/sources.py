"""Where a change came from (DESIGN.md principle 2)."""

from __future__ import annotations

import re

USER = "user"  # a person in the admin
API = "api"  # an integrator through the REST API
SYSTEM = "system"  # Concord itself (demo seeding, purges)
IMPORT = "import"

_SOURCE_RE = re.compile(r"^(user|api|system|import|(integration|restore|sync_property):\d+)$")
# Concord's own machinery may write read-only properties (sync properties copy into them,
# restores write back what a backup held); people and integrators may not.
_SYSTEM_PREFIXES = ("system", "integration:", "restore:", "sync_property:")


def validate_source(source: str) -> str:
    if not _SOURCE_RE.match(source):
        raise ValueError(f"unknown change source {source!r}")
    return source


def integration_source(integration_id: int) -> str:
    return f"integration:{integration_id}"


def is_integration_source(source: str) -> bool:
    """A write by a sync: it copies what the remote holds."""
    return source.startswith("integration:")


def is_system_source(source: str) -> bool:
    return source.startswith(_SYSTEM_PREFIXES)
