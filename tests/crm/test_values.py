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
        ("number", "1200", 1200),
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


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" 42 ", 42),
        ("-3.25", -3.25),
        (".5", 0.5),
        ("1E3", 1000),
        ("0.30000000000000004", 0.30000000000000004),
        # Whole numbers stay exact integers up to 64 bits (a double would round 2**53 + 1).
        ("9007199254740993", 9007199254740993),
        ("9223372036854775807", 2**63 - 1),
        (2**63 - 1, 2**63 - 1),
        # Past 64 bits a whole number is kept when a double holds it exactly.
        ("1" + "0" * 30, 1e30),
        (10**30, 1e30),
    ],
)
def test_numbers_are_kept_exactly(raw, expected):
    value = coerce_value(spec("number"), raw)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1e400", "'1e400' is out of range"),
        ("-1e400", "'-1e400' is out of range"),
        ("1e999999999", "is out of range"),
        ("1e-400", "is too close to zero to keep"),
        ("inf", "expected a finite number"),
        ("-Infinity", "expected a finite number"),
        ("1,2,3", "without thousands separators"),
        ("1,200", "without thousands separators"),
        ("1_000", "or underscores"),
        ("١٢٣", "is not a number"),  # Arabic-Indic digits: Decimal() would take them
        ("0x10", "is not a number"),
        ("1 000", "is not a number"),
        ("123456789012345678901234567890", "has more digits than a number keeps exactly"),
        (123456789012345678901234567890, "has more digits than a number keeps exactly"),
        ("9223372036854775808", "has more digits than a number keeps exactly"),
        ("1.00000000000000000001", "has more digits than a number keeps exactly"),
        ("9" * 5000, "is out of range"),
    ],
)
def test_numbers_are_parsed_strictly(raw, message):
    with pytest.raises(InvalidValue, match=re.escape(message)):
        coerce_value(spec("number"), raw)


@pytest.mark.parametrize(
    "raw",
    ["9999-12-31T23:59:59-12:00", "9999-12-31T23:00:00-01:00", "0001-01-01T00:00:00+01:00"],
)
def test_datetimes_past_the_range_in_utc_are_refused(raw):
    with pytest.raises(InvalidValue, match="is out of range: in UTC it falls outside"):
        coerce_value(spec("datetime"), raw)


def test_datetimes_at_the_edges_of_the_range_are_kept():
    assert coerce_value(spec("datetime"), "9999-12-31T23:59:59Z") == "9999-12-31T23:59:59Z"
    assert coerce_value(spec("datetime"), "0001-01-01T01:00:00+01:00") == "0001-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("type_", "raw"),
    [
        ("text", "Ada\x00"),
        ("textarea", "\ud800"),
        ("url", "https://example.com/\x00"),  # Django's URL validator lets a NUL through
        ("email", "ada\x00@example.com"),
        ("phone", "+1 555\x00"),
        ("number", "1\x00"),
        ("enumeration", "lead\x00"),
        ("multiselect", ["lead", "\udc80"]),
        ("property_sync", "copied\x00"),
    ],
)
def test_nul_and_lone_surrogates_are_refused_for_every_type(type_, raw):
    with pytest.raises(InvalidValue, match=r"NUL character|lone surrogate"):
        coerce_value(spec(type_, ["lead"]), raw)
