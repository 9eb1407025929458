"""Bounds every id and filter value must keep, so a database never sees what it cannot hold.

SQLite raises OverflowError for an integer past 64 bits and Python for a datetime that leaves
the years 1-9999 on its way to UTC; PostgreSQL takes both and answers nothing. Checked before a
query instead, the same on both: a 400 naming the parameter (or a 404 for an id in a path).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

MAX_ID = 2**63 - 1  # BigAutoField's range on every database Concord runs on
MIN_INTEGER = -(2**63)


def parse_id(raw: str | None) -> int | None:
    """The id written in `raw` (ASCII digits, 1 to MAX_ID), or None if it cannot be one."""
    # isdigit() alone takes "²" and other scripts' digits, which int() then refuses.
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_ID else None


def bound_problem(value: object) -> str | None:
    """Why a parsed query value cannot reach the database, or None if it can."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal) and not MIN_INTEGER <= value <= MAX_ID:
        return f"must be between {MIN_INTEGER} and {MAX_ID}"
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        try:
            value.astimezone(dt.UTC)
        except OverflowError:
            return "is out of range: in UTC it falls outside the years 0001 to 9999"
    if isinstance(value, list | tuple):
        return next((p for p in map(bound_problem, value) if p), None)
    if isinstance(value, slice):  # range filters
        return bound_problem([value.start, value.stop])
    return None
