"""How backups read to a person: sizes in B/KB/MB/GB and counts with their noun."""

from __future__ import annotations

# Decimal units, as file managers and download dialogs show them (2,400,000 bytes is "2.4 MB").
_UNITS = ("KB", "MB", "GB", "TB")


def human_size(size: int | None) -> str:
    """Bytes as a person reads them: "812 bytes", "2.4 MB"; "—" when unknown."""
    if size is None:
        return "—"
    if size < 1000:
        return f"{size:,} byte{'' if size == 1 else 's'}"
    value, unit = size / 1000, 0
    # Compared rounded, so 999,960 bytes reads "1.0 MB", not "1,000.0 KB".
    while round(value, 1) >= 1000 and unit < len(_UNITS) - 1:
        value, unit = value / 1000, unit + 1
    return f"{value:,.1f} {_UNITS[unit]}"


def count_phrase(count: int, singular: str, plural: str | None = None) -> str:
    """ "1 record", "3,200 records": the count with thousands separators and its noun."""
    noun = singular if count == 1 else (plural or f"{singular}s")
    return f"{count:,} {noun}"
