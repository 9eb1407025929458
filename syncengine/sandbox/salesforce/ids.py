"""Salesforce record ids: 15 case-sensitive characters plus a 3-character checksum suffix."""

from __future__ import annotations

import itertools
import threading
import time

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_CHARS = frozenset(_BASE62)

# The sandbox's "pod" characters (positions 4-5 of a real id) — fixed, like one instance.
POD = "RS"


class MalformedIdError(ValueError):
    """Raised for anything that is neither a 15-char id nor an 18-char id with a valid suffix."""


def checksum_suffix(id15: str) -> str:
    """The 3-char case-insensitive suffix: one char per 5-char chunk, encoding its capitals."""
    suffix = []
    for start in (0, 5, 10):
        bits = 0
        for offset, char in enumerate(id15[start : start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << offset
        suffix.append(_SUFFIX_ALPHABET[bits])
    return "".join(suffix)


def to_18(record_id: str) -> str:
    """Normalise a 15- or 18-char id to its 18-char form, rejecting bad input like Salesforce."""
    if not isinstance(record_id, str) or len(record_id) not in (15, 18):
        raise MalformedIdError(record_id)
    base = record_id[:15]
    if not set(base) <= _ID_CHARS:
        raise MalformedIdError(record_id)
    expected = checksum_suffix(base)
    if len(record_id) == 18 and record_id[15:].upper() != expected:
        raise MalformedIdError(record_id)
    return base + expected


def is_valid(record_id: object) -> bool:
    try:
        to_18(record_id)  # type: ignore[arg-type]
    except MalformedIdError:
        return False
    return True


def _encode_base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(reversed(chars))


class IdGenerator:
    """Hands out unique 18-char ids for a key prefix.

    The 10-char serial mixes the start time with a counter so that ids stay unique across
    restarts of the server without having to persist a sequence.
    """

    def __init__(self) -> None:
        self._counter = itertools.count(int(time.time() * 1000) * 1000)
        self._lock = threading.Lock()

    def new_id(self, key_prefix: str) -> str:
        with self._lock:
            serial = next(self._counter)
        base = key_prefix + POD + _encode_base62(serial, 10)
        return base + checksum_suffix(base)
