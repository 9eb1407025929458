"""Validation and coercion of property values by type.

Every write passes each value through `coerce_value`, which returns the canonical stored form
(JSON-friendly) or raises `InvalidValue` with a message a user can act on. `None` and "" clear.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils.dateparse import parse_date, parse_datetime

TEXT_MAX_LENGTH = 65_536
# Whole numbers are stored as JSON integers: exact on PostgreSQL (JSONB numeric), SQLite (64-bit
# JSON integers) and in Python, as long as they fit in 64 bits. Anything else is a double.
MAX_EXACT_INTEGER = 2**63 - 1
# Plain ASCII decimal notation: no thousands separators, underscores, other scripts' digits,
# "inf" or "nan" (Python's Decimal would take all of those).
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NOT_FINITE = {"nan", "snan", "inf", "infinity"}
# PostgreSQL refuses NUL in text and JSONB; a lone surrogate is not Unicode (no UTF-8 for it).
_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")


class _EagerEmailValidator(EmailValidator):
    """Django's email rules with its patterns compiled up front: Django compiles them lazily,
    and going through the lazy wrapper on every match cost more than the match itself."""

    user_regex = re.compile(EmailValidator.user_regex.pattern, EmailValidator.user_regex.flags)
    domain_regex = re.compile(
        EmailValidator.domain_regex.pattern, EmailValidator.domain_regex.flags
    )
    literal_regex = re.compile(
        EmailValidator.literal_regex.pattern, EmailValidator.literal_regex.flags
    )


_email_validator = _EagerEmailValidator()
_url_validator = URLValidator(schemes=["http", "https"])
_PHONE_RE = re.compile(r"^\+?[0-9 ().\-/]{3,40}(\s*(x|ext\.?)\s*[0-9]{1,6})?$", re.IGNORECASE)
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class InvalidValue(ValueError):
    """A value that does not fit its property's type; the message says why."""


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """What coercion needs to know of a property, loaded once per write."""

    name: str
    type: str
    options: frozenset[str] = frozenset()


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored (a NUL, a lone surrogate), or None if it can."""
    match = _UNSTORABLE_RE.search(text)
    if match is None:
        return None
    if match.group() == "\x00":
        return "contains a NUL character (\\u0000), which cannot be stored"
    return f"contains a lone surrogate (\\u{ord(match.group()):04x}), which is not valid Unicode"


def printable(text: str) -> str:
    """`text` with NULs and lone surrogates written as \\uXXXX escapes, safe to echo back."""
    return _UNSTORABLE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def coerce_value(spec: PropertySpec, raw: object) -> object | None:
    """Return the stored form of `raw` for the property, or raise InvalidValue."""
    if raw is None:
        return None
    # Before any type's own checks: a URL validator, for one, lets a NUL through.
    if type(raw) is str:  # the common case, checked once (every value of a bulk write)
        if not raw or raw.isspace():  # what strip() removes is exactly what isspace() is
            return None
        if _UNSTORABLE_RE.search(raw) is not None:
            raise InvalidValue(text_problem(raw))
        return _COERCERS[spec.type](spec, raw)
    if isinstance(raw, str) and raw.strip() == "":
        return None
    for text in raw if isinstance(raw, list | tuple) else (raw,):
        if isinstance(text, str) and (problem := text_problem(text)):
            raise InvalidValue(problem)
    return _COERCERS[spec.type](spec, raw)


def _text(spec: PropertySpec, raw: object) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise InvalidValue(f"expected text, got {_kind(raw)}")
    value = str(raw)
    if len(value) > TEXT_MAX_LENGTH:
        raise InvalidValue(f"is {len(value)} characters long; the limit is {TEXT_MAX_LENGTH}")
    return value


def _number(spec: PropertySpec, raw: object) -> int | float:
    if isinstance(raw, bool):
        raise InvalidValue("expected a number, got a boolean")
    if isinstance(raw, int):
        return raw if abs(raw) <= MAX_EXACT_INTEGER else _exact(Decimal(raw), raw)
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise InvalidValue("expected a finite number")
        return int(raw) if raw.is_integer() and abs(raw) < 2**53 else raw
    if isinstance(raw, Decimal):
        number = raw
    elif isinstance(raw, str):
        text = raw.strip()
        if text.lower().lstrip("+-") in _NOT_FINITE:
            raise InvalidValue("expected a finite number")
        if not _NUMBER_RE.fullmatch(text):
            raise InvalidValue(
                f"{raw!r} is not a number; write digits with an optional decimal point and "
                "exponent (1234.5, 1.2e6), without thousands separators or underscores"
            )
        number = Decimal(text)
    else:
        raise InvalidValue(f"expected a number, got {_kind(raw)}")
    if not number.is_finite():
        raise InvalidValue("expected a finite number")
    return _exact(number, raw)


def _exact(number: Decimal, raw: object) -> int | float:
    """The stored form of `number` if it keeps the value exactly; refuse it otherwise."""
    # adjusted() first: int() of 1e999999999 would build a gigantic integer.
    if (
        number.adjusted() < 19
        and number == number.to_integral_value()
        and abs(number) <= MAX_EXACT_INTEGER
    ):
        return int(number)
    as_float = float(number)
    if not math.isfinite(as_float):
        raise InvalidValue(f"{_shown(raw)} is out of range; the limit is about ±1.8e308")
    if as_float == 0:
        raise InvalidValue(f"{_shown(raw)} is too close to zero to keep; the limit is about 2e-308")
    if Decimal(repr(as_float)) != number:
        raise InvalidValue(
            f"{_shown(raw)} has more digits than a number keeps exactly: whole numbers up to "
            f"±{MAX_EXACT_INTEGER}, others up to 15 significant digits"
        )
    if as_float.is_integer() and abs(as_float) < 2**53:
        return int(as_float)
    return as_float


def _shown(raw: object) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else f"{text[:37]}…"


def _boolean(spec: PropertySpec, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    raise InvalidValue(f"{raw!r} is not a boolean; use true or false")


def _date(spec: PropertySpec, raw: object) -> str:
    if isinstance(raw, dt.datetime):
        return raw.date().isoformat()
    if isinstance(raw, dt.date):
        return raw.isoformat()
    if isinstance(raw, str):
        try:
            parsed = parse_date(raw.strip())
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed.isoformat()
    raise InvalidValue(f"{raw!r} is not a date; use YYYY-MM-DD")


def _datetime(spec: PropertySpec, raw: object) -> str:
    value: dt.datetime | None = None
    if isinstance(raw, dt.datetime):
        value = raw
    elif isinstance(raw, str):
        try:
            value = parse_datetime(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            value = None
    if value is None:
        raise InvalidValue(f"{raw!r} is not a date and time; use ISO 8601 with a time zone")
    if value.tzinfo is None:
        raise InvalidValue(f"{raw!r} has no time zone; add Z or an offset such as +02:00")
    try:
        utc = value.astimezone(dt.UTC)
    except OverflowError:
        raise InvalidValue(
            f"{raw!r} is out of range: in UTC it falls outside the years 0001 to 9999"
        ) from None
    return utc.isoformat().replace("+00:00", "Z")


def _enumeration(spec: PropertySpec, raw: object) -> str:
    if not isinstance(raw, str):
        raise InvalidValue(f"expected one of the options, got {_kind(raw)}")
    value = raw.strip()
    if value not in spec.options:
        raise InvalidValue(f"{value!r} is not an option; allowed: {_list(spec.options)}")
    return value


def _multiselect(spec: PropertySpec, raw: object) -> list[str] | None:
    if isinstance(raw, str):
        items: Iterable[object] = raw.split(";")
    elif isinstance(raw, list | tuple):
        items = raw
    else:
        raise InvalidValue(
            f"expected a list of options or a ';'-separated string, got {_kind(raw)}"
        )
    values: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidValue(f"expected option values as text, got {_kind(item)}")
        value = item.strip()
        if not value or value in values:
            continue
        if value not in spec.options:
            raise InvalidValue(f"{value!r} is not an option; allowed: {_list(spec.options)}")
        values.append(value)
    return values or None


def _email(spec: PropertySpec, raw: object) -> str:
    if not isinstance(raw, str):
        raise InvalidValue(f"expected an email address, got {_kind(raw)}")
    value = raw.strip().lower()
    try:
        _email_validator(value)
    except ValidationError:
        raise InvalidValue(f"{raw!r} is not a valid email address") from None
    return value


def _phone(spec: PropertySpec, raw: object) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        raise InvalidValue(f"expected a phone number, got {_kind(raw)}")
    value = raw.strip()
    if not _PHONE_RE.match(value) or sum(c.isdigit() for c in value) < 3:
        raise InvalidValue(f"{raw!r} is not a phone number")
    return value


def _url(spec: PropertySpec, raw: object) -> str:
    if not isinstance(raw, str):
        raise InvalidValue(f"expected a URL, got {_kind(raw)}")
    value = raw.strip()
    if "://" not in value:
        value = f"https://{value}"
    try:
        _url_validator(value)
    except ValidationError:
        raise InvalidValue(f"{raw!r} is not a valid http(s) URL") from None
    return value


def _synced(spec: PropertySpec, raw: object) -> object:
    # A sync property holds a copy of its source's stored value, already coerced by the
    # source's type; only Concord writes it, so it is kept as it is.
    if isinstance(raw, str | bool | int | float):
        return raw
    if isinstance(raw, list | tuple) and all(isinstance(item, str) for item in raw):
        return list(raw) or None
    raise InvalidValue(f"expected a copied property value, got {_kind(raw)}")


def _owner(spec: PropertySpec, raw: object) -> int:
    # The owner's id. Whether that owner exists and is active is the write path's check
    # (one query for a whole batch), not a per-value one.
    if isinstance(raw, bool):
        raise InvalidValue(f"expected an owner id, got {_kind(raw)}")
    if isinstance(raw, int) and 0 < raw <= MAX_EXACT_INTEGER:
        return raw
    text = raw.strip() if isinstance(raw, str) else ""
    # A bounded length: int() of a megabyte of digits is slow, and no id is that long.
    if text.isascii() and text.isdecimal() and len(text) < 19 and int(text) > 0:
        return int(text)
    raise InvalidValue(f"expected an owner id, got {_kind(raw)}")


def _kind(raw: object) -> str:
    return {
        bool: "a boolean",
        dict: "an object",
        list: "a list",
        int: "a number",
        float: "a number",
        str: "text",
    }.get(type(raw), type(raw).__name__)


def _list(options: Iterable[str]) -> str:
    shown = sorted(options)
    more = f" … ({len(shown)} in all)" if len(shown) > 10 else ""
    return ", ".join(shown[:10]) + more


_COERCERS = {
    "text": _text,
    "textarea": _text,
    "number": _number,
    "boolean": _boolean,
    "date": _date,
    "datetime": _datetime,
    "enumeration": _enumeration,
    "multiselect": _multiselect,
    "email": _email,
    "phone": _phone,
    "url": _url,
    "property_sync": _synced,
    "owner": _owner,
}
