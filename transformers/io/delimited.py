"""CSV/TSV parsing: a strict fast path in native code, a Python path that names the bad line.

Fast path: Arrow's multi-threaded CSV parser reads every field as text. It is strict about the
number of fields per row (polars silently pads short rows with nulls, which would hide a ragged
row), so a file it accepts has no ragged rows. A file with an odd number of quote characters
(an unterminated quote swallows the rest of the file without an error in any native parser),
or one the fast parser rejects, goes through the Python path instead: it walks the records with
the standard ``csv`` module, tracking physical line numbers, and either raises
InvalidFileError naming the first bad line or (``on_bad_lines="skip"``) drops the bad lines,
writes the good records to a normalised temporary CSV and hands that to the fast path.

Blank lines are not rows (in both paths). Row ids count the data records of the input; a
skipped bad record keeps its id, so later rows keep theirs.
"""

from __future__ import annotations

import csv
import os
import tempfile
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from transformers.errors import InvalidFileError
from transformers.io.decode import Utf8Text

#: Arrow parses blocks of this size; a single record must fit in one block.
BLOCK_BYTES = 16 * 1024 * 1024
#: The streaming reader's block (out-of-core working copies); a record must fit in one.
STREAM_BLOCK_BYTES = 1024 * 1024
MAX_RAW = 200  # characters of a bad line kept in skipped_lines / error details


@dataclass
class DelimitedResult:
    header: list[str | None]
    frame: pl.DataFrame  # text columns named f0..fN-1
    row_ids: Any  # None = 0..n-1, else an array of ids
    skipped: list[dict[str, Any]] = field(default_factory=list)


csv.field_size_limit(2**31 - 1)


def read_delimited(src: Utf8Text, delimiter: str, on_bad_lines: str) -> DelimitedResult:
    if src.quote_count % 2 == 0:
        header = _read_header(src, delimiter)
        if header is None:
            raise InvalidFileError("file is empty (no header row)", details={"problem": "empty"})
        try:
            table = _arrow_read(src.path, src.offset, delimiter, len(header))
        except pa.ArrowInvalid:
            pass  # the Python path finds and names the problem
        else:
            return DelimitedResult(header, _to_frame(table), None)
    return _python_path(src, delimiter, on_bad_lines)


def _read_header(src: Utf8Text, delimiter: str) -> list[str | None] | None:
    with src.path.open("rb") as raw:
        raw.seek(src.offset)
        text = _TextLines(raw)
        reader = csv.reader(text, delimiter=delimiter)
        for row in reader:
            if row:
                return [cell if cell.strip() else None for cell in row]
            if text.consumed > 1024 * 1024:
                break
    return None


class _TextLines:
    """Iterate the UTF-8 lines of a binary file, keeping line endings (``newline=""``)."""

    def __init__(self, raw: Any) -> None:
        import io

        self._text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        self.consumed = 0

    def __iter__(self) -> Iterator[str]:
        for line in self._text:
            self.consumed += len(line)
            yield line


def _csv_options(delimiter: str, ncols: int, block_bytes: int) -> dict[str, Any]:
    """Arrow's CSV options for both paths: every field as text named ``f0..fN-1``, quotes
    doubled, newlines allowed in quoted values, empty lines and empty fields not values."""
    names = [f"f{i}" for i in range(ncols)]
    return {
        "read_options": pacsv.ReadOptions(column_names=names, block_size=block_bytes),
        "parse_options": pacsv.ParseOptions(
            delimiter=delimiter,
            quote_char='"',
            double_quote=True,
            newlines_in_values=True,
            ignore_empty_lines=True,
        ),
        "convert_options": pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    }


def _arrow_read(path: Path, offset: int, delimiter: str, ncols: int) -> pa.Table:
    with path.open("rb") as f:
        f.seek(offset)
        table = pacsv.read_csv(f, **_csv_options(delimiter, ncols, BLOCK_BYTES))
    return table.slice(1)  # row 0 is the header, parsed the same way as the data


def _to_frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table, rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    return frame


class _Lines:
    """Physical lines with 1-based numbers, and a way to push lines back for re-parsing."""

    def __init__(self, it: Iterator[str]) -> None:
        self._it = it
        self._pushed: list[tuple[int, str]] = []
        self.number = 0  # number of the last line handed out
        self.record: list[tuple[int, str]] = []  # lines of the record being parsed
        self.exhausted = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._pushed:
            self.number, line = self._pushed.pop()
        else:
            try:
                line = next(self._it)
            except StopIteration:
                self.exhausted = True
                raise
            self.number += 1
        self.record.append((self.number, line))
        return line

    def push_back(self, lines: list[tuple[int, str]]) -> None:
        self._pushed.extend(reversed(lines))
        self.exhausted = False


def _unterminated(lines: list[tuple[int, str]], delimiter: str) -> bool:
    """Whether a record's raw text ends inside a quoted field."""
    try:
        for _ in csv.reader([ln for _, ln in lines], delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


@dataclass
class Normalised:
    """The good records of a file the fast parser could not take, rewritten as plain CSV."""

    path: Path  # a temporary file beside the input; the caller removes it
    header: list[str]
    kept: Any  # array of the kept records' row ids
    skipped: list[dict[str, Any]]


def _python_path(src: Utf8Text, delimiter: str, on_bad_lines: str) -> DelimitedResult:
    norm = normalise(src, delimiter, on_bad_lines)
    try:
        table = _arrow_read(norm.path, 0, delimiter, len(norm.header))
    finally:
        norm.path.unlink(missing_ok=True)
    out_header: list[str | None] = [c if c.strip() else None for c in norm.header]
    return DelimitedResult(out_header, _to_frame(table), norm.kept, norm.skipped)


def normalise(src: Utf8Text, delimiter: str, on_bad_lines: str) -> Normalised:
    """Walk the records with the ``csv`` module (physical line numbers), raise InvalidFileError
    naming the first bad line or (``skip``) drop it, and write the good records to a temporary
    CSV, streaming: memory holds one record at a time plus the kept row ids."""
    skipped: list[dict[str, Any]] = []
    kept = array("q")
    fd, tmp_name = tempfile.mkstemp(prefix=".normalised-", suffix=".csv", dir=src.path.parent)
    tmp = Path(tmp_name)
    try:
        with (
            src.path.open("rb") as raw,
            os.fdopen(fd, "w", encoding="utf-8", newline="") as out,
        ):
            raw.seek(src.offset)
            lines = _Lines(iter(_TextLines(raw)))
            writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
            reader = csv.reader(lines, delimiter=delimiter)
            header: list[str] | None = None
            row_id = 0
            while True:
                lines.record = []
                try:
                    row = next(reader)
                except StopIteration:
                    break
                record = lines.record
                if not row:
                    continue  # blank line
                first, last = record[0][0], record[-1][0]
                problem: str | None = None
                if lines.exhausted and _unterminated(record, delimiter):
                    problem = "unterminated quoted field (a quote is opened and never closed)"
                elif header is not None and len(row) != len(header):
                    problem = f"expected {len(header)} fields but found {len(row)}"
                    if last > first:
                        problem += f" (the record spans lines {first}-{last}: check its quotes)"
                if problem is None:
                    if header is None:
                        header = row
                    else:
                        kept.append(row_id)
                        row_id += 1
                    writer.writerow(row)
                    continue
                if header is None:
                    raise InvalidFileError(
                        f"line {first}: the header row has an {problem}",
                        details={"line": first, "problem": problem},
                    )
                raw_line = record[0][1].rstrip("\r\n")[:MAX_RAW]
                if on_bad_lines != "skip":
                    raise InvalidFileError(
                        f"line {first}: {problem}",
                        details={"line": first, "problem": problem, "raw": raw_line},
                    )
                skipped.append({"line": first, "problem": problem, "raw": raw_line})
                row_id += 1
                if problem.startswith("unterminated") and len(record) > 1:
                    # Re-parse what the open quote swallowed, from the line after its start.
                    lines.push_back(record[1:])
        if header is None:
            raise InvalidFileError("file is empty (no header row)", details={"problem": "empty"})
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Normalised(tmp, header, kept, skipped)


def read_header(src: Utf8Text, delimiter: str) -> list[str | None]:
    header = _read_header(src, delimiter)
    if header is None:
        raise InvalidFileError("file is empty (no header row)", details={"problem": "empty"})
    return header


def stream_batches(
    path: Path, offset: int, delimiter: str, ncols: int, block_bytes: int = 0
) -> Iterator[pa.Table]:
    """The data records as Arrow tables of text columns ``f0..fN-1``, one block at a time
    (Arrow's streaming CSV reader, same options as the fast path). Raises ``pa.ArrowInvalid``
    on a ragged record, possibly after some batches: the caller then starts over from
    :func:`normalise`."""
    # Smaller blocks than the in-memory path: the reader's read-ahead holds a few of them
    # (measured on 5M rows: 16 MiB blocks peaked at 691 MiB, 4 MiB at 293 MiB, 1 MiB at 153 MiB,
    # same speed). A record longer than a block fails here; the caller retries with larger ones.
    options = _csv_options(delimiter, ncols, block_bytes or STREAM_BLOCK_BYTES)
    with path.open("rb") as f:
        f.seek(offset)
        reader = pacsv.open_csv(f, **options)
        first = True
        for batch in reader:
            table = pa.Table.from_batches([batch])
            if first:
                table = table.slice(1)  # the header, parsed the same way as the data
                first = False
            if table.num_rows:
                yield table
