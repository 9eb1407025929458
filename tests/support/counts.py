"""Row counts of tables, to show that a refused request wrote nothing."""

from __future__ import annotations


def table_counts(*models) -> tuple[int, ...]:
    """How many rows each model's table holds, in the order given."""
    return tuple(model.objects.count() for model in models)
