"""The one CSV writer of every export (sync errors, sync stages, backups).

Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` (and, in some, a tab or carriage
return) as a formula, so text that came from a user or a remote system could run one on the
machine of whoever opens the export (OWASP "CSV injection"). Every text cell that starts with
one of those characters gets a single quote in front, which spreadsheets read as "this is text"
and do not show.

Two decisions, so the rule is the same everywhere:
- A cell that already starts with a single quote gets one more. Spreadsheets show the value as
  it was, and the encoding is reversible: `restore_cell` gives back exactly the stored value,
  which is what the backup restore relies on (a backup CSV is both a download a person may open
  and the restore's source).
- Numbers (int, float, Decimal; never bool) are not text: Concord wrote them, a spreadsheet
  reads `-5` as minus five and never as a formula, so they stay numbers. Text that looks like a
  number (a text property holding "-5") is text, and is prefixed like any other.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.http import StreamingHttpResponse

# The characters OWASP lists as starting a formula, plus the quote itself (see above).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
NEUTRALISED_STARTS = (*FORMULA_STARTS, QUOTE)
CSV_MEDIA_TYPE = "text/csv"
# json.dumps(value, sort_keys=True, ensure_ascii=False), without building an encoder per value.
JSON_CELL = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


def neutralise(text: str) -> str:
    """Text a spreadsheet shows as it is and never runs as a formula."""
    return QUOTE + text if text.startswith(NEUTRALISED_STARTS) else text


def restore_cell(text: str) -> str:
    """The text `neutralise` was given (its inverse)."""
    return text[1:] if text.startswith(QUOTE) else text


def csv_cell(value: object) -> object:
    """One exported value as a CSV cell: numbers stay numbers, everything else is safe text."""
    if type(value) is str:  # the common case first: exports are mostly text
        return neutralise(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return neutralise(JSON_CELL.encode(value))
    return neutralise(str(value))


class CsvWriter:
    """csv.writer whose rows are made of `csv_cell`s."""

    def __init__(self, out, **fmtparams):
        self._writer = csv.writer(out, **fmtparams)

    def writerow(self, row: Iterable[object]):
        return self._writer.writerow([csv_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        """`writerow` for each row; text cells are neutralised inline (`neutralise`, without a
        call per cell: a large export is millions of cells)."""
        starts, cell = NEUTRALISED_STARTS, csv_cell
        self._writer.writerows(
            [
                (QUOTE + value if value.startswith(starts) else value)
                if type(value) is str
                else cell(value)
                for value in row
            ]
            for row in rows
        )


class _Echo:
    def write(self, value: str) -> str:
        return value


def iter_csv(header: Iterable[object], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """The header line, then one line per row, produced as they are read."""
    writer = CsvWriter(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def iter_csv_chunks(
    header: Iterable[object], rows: Iterable[Iterable[object]], *, rows_per_chunk: int = 500
) -> Iterator[str]:
    """`iter_csv`'s lines joined a few hundred to a string: the same bytes, for large exports
    where handing the server one string per line costs more than writing it."""
    buffer = io.StringIO()
    writer = CsvWriter(buffer)
    writer.writerow(header)
    yield _take(buffer)
    rows = iter(rows)
    for chunk in iter(lambda: list(itertools.islice(rows, rows_per_chunk)), []):
        writer.writerows(chunk)
        yield _take(buffer)


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def csv_download(lines: Iterable[str], *, filename: str) -> StreamingHttpResponse:
    """A streamed CSV attachment of already formatted lines.

    The header and the first row are produced before the answer starts: the query runs then,
    so a query that fails is an error answer rather than a 200 cut off after its header.
    """
    iterator = iter(lines)
    started = list(itertools.islice(iterator, 2))
    response = StreamingHttpResponse(
        itertools.chain(started, iterator), content_type=f"{CSV_MEDIA_TYPE}; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
