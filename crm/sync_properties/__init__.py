"""Sync properties (SPEC P): read-only properties that copy a value from an associated record.

- `services`: create and change sync properties, with their refusals; backfill; the queue worker.
- `engine`: the set-based recompute, one query per batch of target records.
- `queue`: the change-hook listeners that queue recomputes in the writing transaction.
- `selectors`: reads (configs that read a property, "Used in", backfill progress).
"""
