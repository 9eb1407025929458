"""The one CSV writer of every export (sync errors, sync stages, backups).

Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` (and, in some, a tab or carriage
return) as a formula, so text that came from a user or a remote system could run one on the
machine of whoever opens the export (OWASP "CSV injection"). Every text cell that starts with
one of those characters gets a single quote in front, which spreadsheets read as "this is text"
and do not show.

PostgreSQL exports that stream straight from a `COPY … TO STDOUT (FORMAT csv)` apply the same
rules in SQL (`sql_text_cell`) and go through `iter_copy_csv`, which makes COPY's lines the
bytes `iter_csv_chunks` writes for the same values.

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
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal

import psycopg
from django.db import connections
from django.http import StreamingHttpResponse
from psycopg.pq import TransactionStatus

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


def sql_literal(text: str) -> str:
    """A constant of our own code as an SQL string literal (never user input: that is a
    parameter)."""
    return "'" + text.replace("'", "''") + "'"


def sql_text_cell(column: str) -> str:
    """SQL making a text column the cell `csv_cell` writes for it: neutralised, and NULL when
    empty, because COPY quotes an empty string ("") where csv.writer writes nothing, which is
    how COPY writes a NULL. `column` is a column name, not an expression: it is read 3 times.
    (ascii() gives the first character's code: comparing numbers is the cheap test per cell.)"""
    starts = ", ".join(str(ord(c)) for c in NEUTRALISED_STARTS)
    return (
        f"CASE WHEN ascii({column}) IN ({starts}) THEN {sql_literal(QUOTE)} || {column} "
        f"WHEN {column} = '' THEN NULL ELSE {column} END"
    )


def sql_isoformat(column: str) -> str:
    """SQL writing a timestamptz as `csv_cell` writes Django's UTC datetimes (`isoformat`:
    microseconds only when there are any)."""
    iso = f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
    return f"replace({iso}, '.000000+', '+')"


def iter_copy_rows(*, using: str, statement: str, params: Iterable[object]) -> Iterator[bytes]:
    """The rows of `COPY (<statement>) TO STDOUT (FORMAT csv)`, one a time, as PostgreSQL sends
    them (each with its "\n"): libpq hands a row over whole, so a row's end is never a newline
    inside a quoted cell.

    `statement` holds %s placeholders for `params`; they are bound on the client, as COPY has
    no server-side parameters. The COPY holds the connection until the rows are read or the
    iterator is closed: psycopg then cancels it, inside a savepoint when the caller is in a
    transaction (which the cancelled statement would otherwise abort).
    """
    connection = connections[using]
    connection.ensure_connection()
    in_transaction = connection.in_atomic_block
    copy_sql = "COPY (" + statement + ") TO STDOUT (FORMAT csv)"
    with psycopg.ClientCursor(connection.connection) as cursor:
        if in_transaction:
            cursor.execute("SAVEPOINT concord_copy")
        # An export's statement is long and runs once: JIT-compiling it took seconds and
        # saved none (the planner's cost of its per-row subqueries is far above what runs).
        # Parallel workers sorted a few hundred ms faster, then their Gather Merge fed the one
        # process that computes the columns several times slower than a plain sort.
        cursor.execute("SET jit = off; SET max_parallel_workers_per_gather = 0")
        try:
            with cursor.copy(copy_sql, list(params)) as copy:
                yield from copy
        except BaseException:
            if in_transaction:  # also undoes the SET
                cursor.execute("ROLLBACK TO SAVEPOINT concord_copy")
            raise
        finally:
            if connection.connection.info.transaction_status != TransactionStatus.INERROR:
                cursor.execute("RESET jit; RESET max_parallel_workers_per_gather")
        if in_transaction:
            cursor.execute("RELEASE SAVEPOINT concord_copy")


def iter_copy_csv(
    header: Iterable[object],
    rows: Iterable[bytes],
    *,
    render_row: Callable[[str], Iterable[object]],
    rows_per_chunk: int = 2000,
) -> Iterator[bytes]:
    """`iter_csv_chunks`' bytes, from COPY rows whose cells SQL made (`sql_text_cell`).

    Each row's first cell says who writes it. Empty (the row starts with a comma): SQL wrote
    the rest in full. Otherwise it holds what `render_row` needs to give the row's values, which
    are written here as `iter_csv_chunks` writes them: the few rows whose text SQL cannot
    reproduce exactly. COPY ends a row with "\n", csv.writer with "\r\n".
    """
    buffer = io.StringIO()
    writer = CsvWriter(buffer)
    writer.writerow(header)
    yield _take(buffer).encode()
    lines: list[bytes] = []
    for row in rows:
        if row[0] == 44:  # ","
            lines.append(row[1:-1])
        else:
            raw = next(csv.reader(io.StringIO(bytes(row).decode(), newline="")))[0]
            writer.writerow(render_row(raw))
            lines.append(_take(buffer)[:-2].encode())
        if len(lines) >= rows_per_chunk:
            yield b"\r\n".join(lines) + b"\r\n"
            lines = []
    if lines:
        yield b"\r\n".join(lines) + b"\r\n"


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
