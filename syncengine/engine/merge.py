"""The per-field two-way merge: which side wins a field, given its last agreed value.

Pure (no ORM, no I/O): values arrive in the canonical remote form (`connectors/values.py`),
so the pulled value, the last agreed value and Concord's value compare exactly. Rules are the
SyncRule values of the field mapping.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Literal

Side = Literal["local", "remote"]

# SyncRule values (syncengine.models.SyncRule), named here to keep this module pure.
ALWAYS_REMOTE = "always_remote"
ALWAYS_CONCORD = "always_concord"
PREFER_REMOTE_UNLESS_BLANK = "prefer_remote_unless_blank"


def field_winner(
    *,
    remote: object,
    agreed: object,
    local: object,
    rule: str,
    conflict_winner: str = "newest",
    remote_stamp: dt.datetime | None = None,
    local_changed_at: Callable[[], dt.datetime | None] = lambda: None,
) -> Side | None:
    """The side whose value a field takes; None when both sides already hold the same value.

    - the rule decides first (always remote, always Concord, remote unless it is blank);
    - else the side that changed since the two last agreed wins;
    - both changed (or both had values when first matched): `conflict_winner` ("local" or
      "remote") wins unless its value is blank — then nothing is cleared and the other wins;
      with "newest", the later change wins (Concord's property change time, asked for only
      then, against the remote record's stamp; the remote wins a tie or an unknown time).
    """
    if remote == local:
        return None
    if rule == ALWAYS_REMOTE:
        return "remote"
    if rule == ALWAYS_CONCORD:
        return "local"
    if rule == PREFER_REMOTE_UNLESS_BLANK:
        return "local" if remote is None else "remote"
    remote_changed, local_changed = remote != agreed, local != agreed
    if remote_changed and not local_changed:
        return "remote"
    if local_changed and not remote_changed:
        return "local"
    if conflict_winner in ("local", "remote"):
        if (remote if conflict_winner == "remote" else local) is None:
            return "local" if conflict_winner == "remote" else "remote"
        return conflict_winner  # type: ignore[return-value]
    local_at = local_changed_at()
    return "local" if local_at and remote_stamp and local_at > remote_stamp else "remote"


def reference_winner(*, remote: object, agreed: object, local: object, always_local: bool) -> Side:
    """Which side a reference field (a pointer to another record) takes when the two differ:
    Concord's when its rule says so or only Concord changed it, else the remote's."""
    remote_changed, local_changed = remote != agreed, local != agreed
    if always_local or (local_changed and not remote_changed):
        return "local"
    return "remote"


def unchanged(values: dict, agreed: dict) -> bool:
    """Whether a pulled row holds exactly the values last agreed (every pulled field known)."""
    return bool(agreed) and all(name in agreed and agreed[name] == v for name, v in values.items())
