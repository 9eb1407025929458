"""Template filters of the backup pages: counts and sizes as people read them."""

from __future__ import annotations

from django import template

from backups.display import count_phrase, human_size

register = template.Library()


@register.filter
def records(count) -> str:
    """{{ n|records }} → "3,200 records"."""
    return count_phrase(int(count or 0), "record")


@register.filter
def thousands(count) -> str:
    """{{ n|thousands }} → "3,200"."""
    return f"{int(count or 0):,}"


@register.filter
def size(size_in_bytes) -> str:
    """{{ backup.size|size }} → "2.4 MB"."""
    return human_size(size_in_bytes)
