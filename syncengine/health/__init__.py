"""Sync health (SPEC H): API usage, error cards by type, error lists, resync, CSV export."""
