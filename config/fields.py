"""Serializer fields shared by every API: ids bounded to what the database can hold."""

from __future__ import annotations

from rest_framework import serializers

from config.bounds import MAX_ID


class IdField(serializers.IntegerField):
    """A row id in a request body: 1 to 2**63 - 1 (past that SQLite raises OverflowError)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)
