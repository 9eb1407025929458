"""Pure unit tests of the sandbox's id and SOQL modules (no server)."""

from __future__ import annotations

import pytest

from syncengine.sandbox.salesforce import ids, soql


def test_checksum_matches_salesforce_documented_ids() -> None:
    # Ids quoted in Salesforce's own REST docs (reference §1.7).
    assert ids.to_18("001RM000003oLnn") == "001RM000003oLnnYAE"
    assert ids.to_18("003RM0000068xV6") == "003RM0000068xV6YAI"


def test_generated_ids_are_18_chars_with_prefix_and_valid_suffix() -> None:
    generator = ids.IdGenerator()
    new = {generator.new_id("00Q") for _ in range(1000)}
    assert len(new) == 1000
    for record_id in new:
        assert len(record_id) == 18 and record_id.startswith("00Q")
        assert ids.to_18(record_id[:15]) == record_id


def test_malformed_ids_are_rejected() -> None:
    for bad in ("001", "001RM000003oLnnAAA", "001RM000003oLn!", None):
        with pytest.raises(ids.MalformedIdError):
            ids.to_18(bad)  # type: ignore[arg-type]


def test_soql_where_evaluation_with_and_or_in_like_and_dates() -> None:
    condition = soql.parse_condition(
        "(Name LIKE 'ac%' OR Industry IN ('Banking', 'Retail'))"
        " AND CreatedDate >= 2024-01-15T00:00:00Z"
        " AND Amount != null AND NOT Amount > 10"
    )
    record = {
        "Name": "Acme",
        "Industry": "Other",
        "CreatedDate": "2024-02-01T10:00:00.000+0000",
        "Amount": 5,
    }
    assert soql.evaluate(condition, record.get) is True
    assert soql.evaluate(condition, {**record, "Amount": 11}.get) is False
    assert soql.evaluate(condition, {**record, "Name": "Zeta"}.get) is False


VALUES = [
    None,
    "",
    "acme",
    "ACME",
    "2024-01-15",
    "2024-01-15T10:00:00.000+0000",
    "2024-01-16T00:00:00.000+0000",
    "001000000000001AAA",
    True,
    False,
    0,
    5,
    5.5,
    "5",
]
LITERALS = ["acme", "Acme", "2024-01-15", "2024-01-15T10:00:00.000+0000",
            soql.IdValue("001000000000001AAA"), "5", 5, 5.5, True, None]  # fmt: skip


@pytest.mark.parametrize("op", ["=", "!=", "<", ">", "<=", ">="])
def test_compiled_comparisons_with_a_literal_decide_as_the_generic_comparison(op) -> None:
    # A query compiles its condition once; the comparison it prepares for a literal must
    # answer as _compare does for every kind of value a record holds.
    for literal in LITERALS:
        test = soql._against_literal(op, literal)
        for value in VALUES:
            assert test(value) == soql._compare(value, op, literal), (value, op, literal)


def test_a_compiled_condition_reads_each_record_through_its_paths_readers() -> None:
    condition = soql.parse_condition(
        "Email LIKE '%@acme.com' AND NOT (Title = 'Intern' OR Score__c > Floor__c)"
        " AND Phone != null AND Region__c IN ('EU', 'US')"
    )
    matches = soql.compile_condition(condition, lambda path: lambda record: record.get(path))
    record = {"Email": "ada@ACME.com", "Title": "CTO", "Score__c": 3, "Floor__c": 5,
              "Phone": "1", "Region__c": "eu"}  # fmt: skip
    assert matches(record) is True
    assert matches({**record, "Title": "intern"}) is False
    assert matches({**record, "Score__c": 6}) is False
    assert matches({**record, "Phone": None}) is False
    assert matches({**record, "Region__c": "APAC"}) is False
    assert matches({**record, "Email": "ada@acme.co"}) is False


def test_soql_syntax_errors_raise() -> None:
    with pytest.raises(soql.SoqlSyntaxError):
        soql.parse_query("SELECT FROM Account")
    with pytest.raises(soql.SoqlSyntaxError):
        soql.parse_query("SELECT Id FROM Account WHERE")
