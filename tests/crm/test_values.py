import re

import pytest

from crm.values import InvalidValue, PropertySpec, coerce_value


def spec(type_, options=()):
    return PropertySpec(name="p", type=type_, options=frozenset(options))


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [
        ("text", "hello", "hello"),
        ("text", 42, "42"),
        ("number", "1,200", 1200),
        ("number", "3.5", 3.5),
        ("number", 7.0, 7),
        ("boolean", "yes", True),
        ("boolean", "false", False),
        ("date", "2026-02-28", "2026-02-28"),
        ("datetime", "2026-02-28T10:00:00+02:00", "2026-02-28T08:00:00Z"),
        ("email", " Ada@Example.COM ", "ada@example.com"),
        ("phone", "+1 (555) 010-9999", "+1 (555) 010-9999"),
        ("url", "example.com/path", "https://example.com/path"),
        ("text", "", None),
        ("number", None, None),
    ],
)
def test_coerces_to_the_stored_form(type_, raw, expected):
    assert coerce_value(spec(type_), raw) == expected


def test_enumeration_and_multiselect_accept_only_options():
    options = ["lead", "customer"]
    assert coerce_value(spec("enumeration", options), "lead") == "lead"
    assert coerce_value(spec("multiselect", options), "lead;customer;lead") == ["lead", "customer"]
    with pytest.raises(InvalidValue, match="'partner' is not an option; allowed: customer, lead"):
        coerce_value(spec("enumeration", options), "partner")
    with pytest.raises(InvalidValue, match="is not an option"):
        coerce_value(spec("multiselect", options), ["lead", "partner"])


@pytest.mark.parametrize(
    ("type_", "raw", "message"),
    [
        ("number", "twelve", "'twelve' is not a number"),
        ("number", True, "expected a number, got a boolean"),
        ("number", "NaN", "expected a finite number"),
        ("boolean", "maybe", "is not a boolean"),
        ("date", "28/02/2026", "is not a date; use YYYY-MM-DD"),
        ("date", "2026-02-30", "is not a date"),
        ("datetime", "2026-02-28T10:00:00", "has no time zone"),
        ("email", "not-an-email", "is not a valid email address"),
        ("phone", "call me", "is not a phone number"),
        ("url", "ftp://example.com", "is not a valid http(s) URL"),
        ("text", {"a": 1}, "expected text, got an object"),
        ("text", "x" * 70_000, "the limit is 65536"),
    ],
)
def test_bad_values_are_refused_with_a_reason(type_, raw, message):
    with pytest.raises(InvalidValue, match=re.escape(message)):
        coerce_value(spec(type_), raw)
