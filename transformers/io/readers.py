"""Parse an input file once into a typed polars frame with a stable ``__row_id__`` column.

See ``read_table``. Every reader returns text/typed columns plus the header; one shared tail
makes the header names unique, infers types over whole columns, enforces the plan's limits and
adds the row ids.
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from transformers.contract import ROW_ID, InputInfo
from transformers.errors import (
    FileTooLargeError,
    InvalidFileError,
    InvalidParametersError,
    UnsupportedFormatError,
)
from transformers.io.decode import CP1252_ERRORS, to_utf8
from transformers.io.delimited import read_delimited
from transformers.io.flatten import MAX_DEPTH, ColumnSource, flatten, is_nested
from transformers.io.infer import infer_types
from transformers.io.options import LoadedTable, ReadOptions
from transformers.io.sniff import (
    HEAD_BYTES,
    decode_head,
    detect_bom,
    sniff_delimiter,
    sniff_format,
)

TABULAR = ("csv", "tsv", "xlsx", "json", "jsonl", "parquet")


# --------------------------------------------------------------------------- public API


def read_table(path: Path, *, filename: str, role: str, options: ReadOptions) -> LoadedTable:
    """Read a tabular file (CSV, TSV, XLSX, JSON array of objects, JSON Lines, Parquet).

    The format is detected from the content (the extension only breaks ties). Raises
    InvalidFileError (structural problems, naming the 1-based line), UnsupportedFormatError
    (binary or unknown content), FileTooLargeError (a plan limit, named).
    """
    path = Path(path)
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    fmt = sniff_format(head, filename)
    if fmt not in TABULAR:
        raise UnsupportedFormatError(
            f"'{filename}' is a {fmt.upper()} document, not a table",
            details={"format": fmt, "role": role},
        )
    encoding: str | None = None
    skipped: list[dict[str, Any]] = []
    notes: list[str] = []
    row_ids: Any = None
    sources: dict[str, ColumnSource] = {}
    if fmt in ("csv", "tsv"):
        header, frame, row_ids, skipped, encoding, fmt = _read_csv(path, filename, options)
    elif fmt == "xlsx":
        header, frame, row_ids, notes = _read_xlsx(path, options)
    elif fmt == "json":
        header, frame, row_ids, skipped, encoding, sources = _read_json(path, options)
    elif fmt == "jsonl":
        header, frame, row_ids, skipped, encoding, sources = _read_jsonl(path, options)
    else:
        header, frame = _read_parquet(path)

    _check_columns(len(header), options)
    names, header_notes = unique_names(header)
    notes.extend(header_notes)
    frame = frame.rename(dict(zip(frame.columns, names, strict=True)))
    column_sources: dict[str, dict[str, Any]] = {}
    if is_nested(sources):
        for key, name in zip(header, names, strict=True):
            src = sources.get(str(key))
            if src is not None:
                column_sources[name] = src.describe()
        lists = [n for n, d in column_sources.items() if d.get("json_text")]
        flat = sum(len(d["path"]) > 1 for d in column_sources.values())
        notes.append(
            f"nested JSON flattened: {flat} column(s) from nested objects (dotted names, up to "
            f"{MAX_DEPTH} levels)"
            + (f"; kept as JSON text: {', '.join(lists[:10])}" if lists else "")
        )
    _check_rows(frame.height, options)
    frame = infer_types(frame)
    check_cells(frame, options)
    ids = (
        pl.Series(ROW_ID, range(frame.height), dtype=pl.Int64)
        if row_ids is None
        else pl.Series(ROW_ID, row_ids, dtype=pl.Int64)
    )
    frame = frame.insert_column(0, ids)
    info = InputInfo(
        role=role,
        filename=filename,
        format=fmt,
        encoding=encoding,
        rows=frame.height,
        columns=frame.width - 1,
        skipped_lines=skipped,
        column_sources=column_sources,
    )
    return LoadedTable(frame=frame, info=info, notes=notes)


def read_document(path: Path, *, filename: str) -> dict[str, Any]:
    """Parse a JSON or YAML document (e.g. the ``contract`` role) into a dict."""
    path = Path(path)
    raw = path.read_bytes()
    fmt = sniff_format(raw[:HEAD_BYTES], filename)
    text = _decode_all(raw)
    if fmt in ("json", "jsonl"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidFileError(
                f"line {exc.lineno}: invalid JSON: {exc.msg}",
                details={"line": exc.lineno, "column": exc.colno, "problem": exc.msg},
            ) from None
    elif fmt in ("yaml", "csv", "tsv"):
        import yaml

        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or str(exc)
            raise InvalidFileError(
                f"line {line}: invalid YAML: {problem}" if line else f"invalid YAML: {problem}",
                details={"line": line, "problem": problem},
            ) from None
    else:
        raise UnsupportedFormatError(
            f"'{filename}' must be a JSON or YAML document, not {fmt.upper()}",
            details={"format": fmt},
        )
    if not isinstance(doc, dict):
        raise InvalidFileError(
            f"'{filename}' must contain an object (a mapping), not {type(doc).__name__}",
            details={"found": type(doc).__name__},
        )
    return doc


# --------------------------------------------------------------------------- shared tail


def unique_names(header: Sequence[str | None]) -> tuple[list[str], list[str]]:
    """Blank names become ``column_N`` (1-based position); repeated names get ``_2``, ``_3``...

    Deterministic: the first occurrence keeps its name. ``__row_id__`` is reserved.
    """
    notes: list[str] = []
    base: list[str] = []
    for i, name in enumerate(header):
        text = "" if name is None else str(name).strip()
        if not text:
            text = f"column_{i + 1}"
            notes.append(f"column {i + 1} has no header: named '{text}'")
        base.append(text)
    taken = {ROW_ID, *base}
    seen: set[str] = {ROW_ID}
    names: list[str] = []
    for i, name in enumerate(base):
        if name not in seen:
            seen.add(name)
            names.append(name)
            continue
        n = 2
        while f"{name}_{n}" in taken or f"{name}_{n}" in seen:
            n += 1
        new = f"{name}_{n}"
        seen.add(new)
        names.append(new)
        notes.append(f"column {i + 1} '{name}' is a duplicate header: renamed to '{new}'")
    return names, notes


def _check_columns(count: int, options: ReadOptions) -> None:
    if options.max_columns is not None and count > options.max_columns:
        raise FileTooLargeError(
            f"The file has {count} columns; the limit (max_columns) is {options.max_columns}",
            details={"limit": "max_columns", "max": options.max_columns, "found": count},
        )


def _check_rows(count: int, options: ReadOptions) -> None:
    if options.max_rows is not None and count > options.max_rows:
        raise FileTooLargeError(
            f"The file has {count} rows; the limit (max_rows) is {options.max_rows}",
            details={"limit": "max_rows", "max": options.max_rows, "found": count},
        )


def check_cells(frame: Any, options: ReadOptions) -> None:
    """``max_cell_length`` over the text columns of a frame or a working copy."""
    limit = options.max_cell_length
    if limit is None:
        return
    text_cols = [c for c, t in frame.schema.items() if t == pl.String]
    if not text_cols:
        return
    # One expression per column: a working copy reads each column on its own.
    longest = frame.select(pl.col(c).str.len_chars().max().alias(c) for c in text_cols).row(0)
    for column, length in zip(text_cols, longest, strict=True):
        if length is not None and length > limit:
            raise FileTooLargeError(
                f"Column '{column}' has a value of {length} characters; the limit "
                f"(max_cell_length) is {limit}",
                details={
                    "limit": "max_cell_length",
                    "max": limit,
                    "found": length,
                    "column": column,
                },
            )


# --------------------------------------------------------------------------- CSV / TSV


def _read_csv(
    path: Path, filename: str, options: ReadOptions
) -> tuple[list[str | None], pl.DataFrame, Any, list[dict[str, Any]], str, str]:
    src = to_utf8(path)
    try:
        with src.path.open("rb") as f:
            f.seek(src.offset)
            head = f.read(HEAD_BYTES)
        text, _ = decode_head(head)
        if not text.strip():
            raise InvalidFileError("file is empty (only whitespace)", details={"problem": "empty"})
        delimiter = sniff_delimiter(text, filename)
        result = read_delimited(src, delimiter, options.on_bad_lines)
    finally:
        src.cleanup()
    fmt = "tsv" if delimiter == "\t" else "csv"
    return result.header, result.frame, result.row_ids, result.skipped, src.encoding, fmt


# --------------------------------------------------------------------------- typed values


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time"
    if isinstance(value, dt.timedelta):
        return "duration"
    return "nested"


def _as_text(value: Any, kind: str) -> str:
    if kind == "bool":
        return "true" if value else "false"
    if kind == "float" and float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    if kind in ("date", "datetime", "time"):
        return str(value.isoformat())
    if kind == "nested":
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


_DTYPES: dict[frozenset[str], pl.DataType] = {
    frozenset({"bool"}): pl.Boolean(),
    frozenset({"int"}): pl.Int64(),
    frozenset({"float"}): pl.Float64(),
    frozenset({"int", "float"}): pl.Float64(),
    frozenset({"str"}): pl.String(),
    frozenset({"date"}): pl.Date(),
    frozenset({"datetime"}): pl.Datetime("us"),
    frozenset({"date", "datetime"}): pl.Datetime("us"),
    frozenset({"time"}): pl.Time(),
    frozenset({"duration"}): pl.Duration("us"),
}


def column_from_values(name: str, values: list[Any], *, integral_floats: bool = False) -> pl.Series:
    """One column from Python values of one source column, typed over ALL its values.

    A single kind (or ints with floats) keeps its type; anything mixed becomes text holding each
    raw value (never nulled). ``integral_floats``: spreadsheet numbers are floats; a column of
    whole numbers becomes Int64.
    """
    kinds = {_kind(v) for v in values if v is not None}
    dtype = _DTYPES.get(frozenset(kinds))
    if not kinds:
        return pl.Series(name, values, dtype=pl.String)
    if dtype is not None and kinds <= {"int", "float"}:
        numbers = [v for v in values if v is not None]
        if (integral_floats or kinds == {"int"}) and all(
            float(v).is_integer() and abs(v) < 2**63 for v in numbers
        ):
            return pl.Series(name, [None if v is None else int(v) for v in values], pl.Int64)
        if kinds == {"int"}:  # beyond Int64: keep the exact digits as text
            return pl.Series(name, [None if v is None else str(v) for v in values], pl.String)
        return pl.Series(name, [None if v is None else float(v) for v in values], pl.Float64)
    if dtype is not None:
        try:
            return pl.Series(name, values, dtype=dtype, strict=True)
        except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
            pass
    return pl.Series(
        name, [None if v is None else _as_text(v, _kind(v)) for v in values], dtype=pl.String
    )


def _frame_from_records(
    records: Iterable[dict[str, Any]], options: ReadOptions
) -> tuple[list[str | None], pl.DataFrame, dict[str, ColumnSource]]:
    columns: dict[str, list[Any]] = {}
    sources: dict[str, ColumnSource] = {}
    for count, nested in enumerate(records, start=1):
        record = flatten(nested, sources)
        for key in record:
            if key not in columns:
                columns[key] = [None] * (count - 1)
                _check_columns(len(columns), options)
        for key, values in columns.items():
            values.append(record.get(key))
        _check_rows(count, options)
    series = [column_from_values(f"f{i}", v) for i, v in enumerate(columns.values())]
    return list(columns), pl.DataFrame(series), sources


# --------------------------------------------------------------------------- JSON


def _decode_all(raw: bytes) -> str:
    encoding, bom_len = detect_bom(raw[:4])
    if encoding is not None:
        codec = "utf-8" if encoding == "utf-8-sig" else encoding
        try:
            return raw[bom_len:].decode(codec)
        except UnicodeDecodeError as exc:
            raise InvalidFileError(
                f"The file is not valid {encoding} at byte {exc.start + bom_len}",
                details={"encoding": encoding},
            ) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors=CP1252_ERRORS)


def _read_json(
    path: Path, options: ReadOptions
) -> tuple[list[str | None], pl.DataFrame, Any, list[dict[str, Any]], str, dict[str, ColumnSource]]:
    src = to_utf8(path)
    try:
        with src.path.open("rb") as f:
            f.seek(src.offset)
            text = f.read().decode("utf-8")
    finally:
        src.cleanup()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidFileError(
            f"line {exc.lineno}: invalid JSON: {exc.msg}",
            details={"line": exc.lineno, "column": exc.colno, "problem": exc.msg},
        ) from None
    del text
    if not isinstance(doc, list):
        raise InvalidFileError(
            "JSON input must be an array of objects (or JSON Lines: one object per line), "
            f"found a top-level {type(doc).__name__}",
            details={"problem": "not_an_array"},
        )
    skipped: list[dict[str, Any]] = []
    ids: list[int] = []
    records: list[dict[str, Any]] = []
    for i, item in enumerate(doc):
        if isinstance(item, dict):
            records.append(item)
            ids.append(i)
            continue
        problem = f"item {i + 1} of the array is a {type(item).__name__}, not an object"
        if options.on_bad_lines != "skip":
            raise InvalidFileError(problem, details={"item": i + 1, "problem": problem})
        raw = json.dumps(item, ensure_ascii=False, default=str)[:200]
        skipped.append({"line": None, "item": i + 1, "problem": problem, "raw": raw})
    header, frame, sources = _frame_from_records(records, options)
    return header, frame, ids, skipped, src.encoding, sources


def _read_jsonl(
    path: Path, options: ReadOptions
) -> tuple[list[str | None], pl.DataFrame, Any, list[dict[str, Any]], str, dict[str, ColumnSource]]:
    src = to_utf8(path)
    skipped: list[dict[str, Any]] = []
    ids: list[int] = []

    def records() -> Iterable[dict[str, Any]]:
        row_id = 0
        with src.path.open("rb") as f:
            f.seek(src.offset)
            for number, raw_line in enumerate(f, start=1):
                line = raw_line.decode("utf-8").strip()
                if not line:
                    continue
                try:
                    value = json.loads(line)
                    problem = (
                        None
                        if isinstance(value, dict)
                        else f"expected a JSON object, found {type(value).__name__}"
                    )
                except json.JSONDecodeError as exc:
                    problem = f"invalid JSON: {exc.msg} (column {exc.colno})"
                if problem is None:
                    ids.append(row_id)
                    row_id += 1
                    yield value
                    continue
                if options.on_bad_lines != "skip":
                    raise InvalidFileError(
                        f"line {number}: {problem}",
                        details={"line": number, "problem": problem, "raw": line[:200]},
                    )
                skipped.append({"line": number, "problem": problem, "raw": line[:200]})
                row_id += 1

    try:
        header, frame, sources = _frame_from_records(records(), options)
    finally:
        src.cleanup()
    return header, frame, ids, skipped, src.encoding, sources


# --------------------------------------------------------------------------- Parquet


def _read_parquet(path: Path) -> tuple[list[str | None], pl.DataFrame]:
    try:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
    except Exception as exc:
        raise InvalidFileError(
            f"not a readable Parquet file: {exc}", details={"problem": "parquet"}
        ) from None
    header: list[str | None] = list(table.column_names)
    table = table.rename_columns([f"f{i}" for i in range(len(header))])
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return header, frame


# --------------------------------------------------------------------------- XLSX


def check_xlsx_zip(path: Path, limit: int | None) -> None:
    """Zip-bomb guard: sum the uncompressed sizes the zip directory declares, before reading."""
    try:
        with zipfile.ZipFile(path) as zf:
            entries = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidFileError(
            f"not a readable XLSX file (broken zip: {exc})", details={"problem": "zip"}
        ) from None
    names = {e.filename for e in entries}
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
        raise UnsupportedFormatError(
            "The file is a zip archive but not an Excel workbook (.xlsx)",
            details={"detected": "zip"},
        )
    total = sum(e.file_size for e in entries)
    if limit is not None and total > limit:
        raise FileTooLargeError(
            f"The workbook expands to {total} bytes; the limit "
            f"(max_xlsx_uncompressed_bytes) is {limit}",
            details={"limit": "max_xlsx_uncompressed_bytes", "max": limit, "found": total},
        )


def _read_xlsx(
    path: Path, options: ReadOptions
) -> tuple[list[str | None], pl.DataFrame, list[int], list[str]]:
    check_xlsx_zip(path, options.max_xlsx_uncompressed_bytes)
    import python_calamine as calamine

    try:
        workbook = calamine.CalamineWorkbook.from_path(str(path))
    except Exception as exc:
        raise InvalidFileError(
            f"not a readable XLSX file: {exc}", details={"problem": "xlsx"}
        ) from None
    notes: list[str] = []
    try:
        if options.sheet is not None:
            if options.sheet not in workbook.sheet_names:
                raise InvalidParametersError(
                    f"The workbook has no sheet named '{options.sheet}'",
                    details={"sheet": options.sheet, "sheets": workbook.sheet_names},
                )
            name = options.sheet
        else:
            visible = [
                m.name
                for m in workbook.sheets_metadata
                if m.typ == calamine.SheetTypeEnum.WorkSheet
                and m.visible == calamine.SheetVisibleEnum.Visible
            ]
            if not visible:
                raise InvalidFileError("The workbook has no visible worksheet")
            name = visible[0]
        rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=True)
    except (InvalidParametersError, InvalidFileError):
        raise
    except Exception as exc:
        raise InvalidFileError(
            f"sheet could not be read: {exc}", details={"problem": "xlsx"}
        ) from None
    finally:
        workbook.close()
    if options.sheet is None and len(workbook.sheet_names) > 1:
        notes.append(f"read sheet '{name}' (the workbook has {len(workbook.sheet_names)})")

    def clean(value: Any) -> Any:
        return None if value == "" else value

    if not rows:
        raise InvalidFileError(
            f"The sheet '{name}' is empty (no header row)", details={"sheet": name}
        )
    header_row = rows[0]
    header: list[str | None] = [
        None if clean(v) is None else _as_text(v, _kind(v)) for v in header_row
    ]
    body = rows[1:]
    width = len(header)
    _check_columns(width, options)
    ids: list[int] = []
    kept: list[list[Any]] = []
    for index, row in enumerate(body):
        values = [clean(v) for v in row]
        if all(v is None for v in values):
            continue  # an empty spreadsheet row is not a data row
        ids.append(index)
        kept.append(values)
        _check_rows(len(kept), options)
    # Trailing columns with neither a header nor a value are formatting leftovers.
    while width and header[width - 1] is None and all(r[width - 1] is None for r in kept):
        width -= 1
    header = header[:width]
    series = [
        column_from_values(f"f{i}", [r[i] for r in kept], integral_floats=True)
        for i in range(width)
    ]
    return header, pl.DataFrame(series), ids, notes
