"""The one CSV writer: formula-like text is neutralised (OWASP), reversibly; numbers stay."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from crm.csv_writer import CsvWriter, csv_cell, iter_csv, neutralise, restore_cell


@pytest.mark.parametrize(
    "text, cell",
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("'quoted", "''quoted"),
        ("-5", "'-5"),  # text that looks like a number is still text
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_text_that_starts_like_a_formula_gets_a_quote_and_comes_back(text, cell):
    assert neutralise(text) == cell
    assert restore_cell(cell) == text


def test_cells_keep_numbers_and_format_the_rest_as_safe_text():
    assert csv_cell(-5) == -5
    assert csv_cell(-2.5) == -2.5
    assert csv_cell(Decimal("-1.10")) == Decimal("-1.10")
    assert csv_cell(True) == "true"
    assert csv_cell(None) == ""
    assert csv_cell(dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)) == "2026-01-02T03:04:00+00:00"
    assert csv_cell({"b": 1, "a": "=x"}) == '{"a": "=x", "b": 1}'
    assert csv_cell(["=x"]) == '["=x"]'
    assert csv_cell("=x") == "'=x"


def test_writer_and_stream_neutralise_every_row():
    buffer = io.StringIO()
    CsvWriter(buffer).writerow(["=1+1", -5, "ok"])
    assert next(csv.reader(io.StringIO(buffer.getvalue()))) == ["'=1+1", "-5", "ok"]
    lines = list(iter_csv(["Name", "@head"], [["+x", 3]]))
    assert list(csv.reader(io.StringIO("".join(lines)))) == [["Name", "'@head"], ["'+x", "3"]]
