"""Repair migrations: they fix what an earlier mistake left in some databases and not others."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection

stale_gin = importlib.import_module("crm.migrations.0007_drop_stale_gin_index")


def _has_index(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [name])
        return cursor.fetchone() is not None


@pytest.mark.postgres
def test_the_stale_gin_index_is_dropped_where_a_database_still_has_it(db):
    # Given a database migrated before 0004_postgresql_gin_index was deleted
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX {stale_gin.STALE_INDEX} ON crm_record "
            "USING gin (properties jsonb_path_ops)"
        )
    assert _has_index(stale_gin.STALE_INDEX)

    # When the repair migration runs
    with connection.schema_editor() as editor:
        stale_gin.drop_stale_index(None, editor)

    # Then the index is gone
    assert not _has_index(stale_gin.STALE_INDEX)


def test_the_repair_does_nothing_where_the_index_never_was(transactional_db):
    # transactional: SQLite's schema editor cannot open inside a test's transaction
    with connection.schema_editor() as editor:
        stale_gin.drop_stale_index(None, editor)  # no error: nothing to drop

    if connection.vendor == "postgresql":
        assert not _has_index(stale_gin.STALE_INDEX)
