"""Write a frame in one of the tabular formats (the data outputs of data-changing tools)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl

from transformers.contract import ROW_ID
from transformers.errors import UnsupportedFormatError
from transformers.io.neutralize import neutralize_cell

WRITABLE = ("csv", "tsv", "xlsx", "json", "jsonl", "parquet")
#: Excel's hard limit, header included.
XLSX_MAX_ROWS = 1_048_576


def _flatten_nested(frame: pl.DataFrame) -> pl.DataFrame:
    """Text formats cannot hold lists/structs: write them as JSON text."""
    nested = [c for c, t in frame.schema.items() if t.is_nested()]
    if not nested:
        return frame
    return frame.with_columns(
        pl.col(c).map_elements(
            lambda v: json.dumps(v, ensure_ascii=False, default=str), return_dtype=pl.String
        )
        for c in nested
    )


#: rows up to which a data output is CSV (what a person opens); above it Parquet (compact,
#: typed, read by every data tool)
CSV_MAX_ROWS = 500_000


def data_output_format(frame: pl.DataFrame) -> str:
    """``csv`` for a small frame, ``parquet`` for a large one (see ``CSV_MAX_ROWS``)."""
    return "csv" if frame.height <= CSV_MAX_ROWS else "parquet"


def write_table(frame: pl.DataFrame, path: Path, fmt: str) -> None:
    """Write ``frame`` (without ``__row_id__``) to ``path`` as csv/tsv/xlsx/json/jsonl/parquet.

    XLSX text cells are neutralised against formula injection (:func:`neutralize_cell`); the
    text formats keep the exact values.
    """
    path = Path(path)
    if ROW_ID in frame.columns:
        frame = frame.drop(ROW_ID)
    if fmt == "csv":
        _flatten_nested(frame).write_csv(path)
    elif fmt == "tsv":
        _flatten_nested(frame).write_csv(path, separator="\t")
    elif fmt == "json":
        with path.open("w", encoding="utf-8") as f:
            json.dump(
                [_jsonable_row(r) for r in frame.iter_rows(named=True)], f, ensure_ascii=False
            )
    elif fmt == "jsonl":
        frame.write_ndjson(path)
    elif fmt == "parquet":
        frame.write_parquet(path)
    elif fmt == "xlsx":
        _write_xlsx(frame, path)
    else:
        raise UnsupportedFormatError(
            f"Cannot write format '{fmt}'", details={"format": fmt, "formats": list(WRITABLE)}
        )


def _jsonable_row(row: dict[str, Any]) -> dict[str, Any]:
    from transformers.serialization import jsonable

    return {k: jsonable(v) for k, v in row.items()}


def _write_xlsx(frame: pl.DataFrame, path: Path, sheet: str = "data") -> None:
    import xlsxwriter

    if frame.height + 1 > XLSX_MAX_ROWS:
        raise UnsupportedFormatError(
            f"{frame.height} rows do not fit in an XLSX sheet (max {XLSX_MAX_ROWS - 1})",
            details={"rows": frame.height},
        )
    workbook = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
            "nan_inf_to_errors": True,
        },
    )
    try:
        ws = workbook.add_worksheet(sheet)
        date_fmt = workbook.add_format({"num_format": "yyyy-mm-dd"})
        datetime_fmt = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        bold = workbook.add_format({"bold": True})
        for c, name in enumerate(frame.columns):
            ws.write_string(0, c, str(neutralize_cell(name)), bold)
        for r, row in enumerate(frame.iter_rows(), start=1):
            for c, value in enumerate(row):
                write_cell(ws, r, c, value, date_fmt, datetime_fmt)
    finally:
        workbook.close()


def write_cell(ws: Any, row: int, col: int, value: Any, date_fmt: Any, datetime_fmt: Any) -> None:
    """Write one value to an xlsxwriter sheet with its type; text is always neutralised."""
    if value is None:
        return
    if isinstance(value, bool):
        ws.write_boolean(row, col, value)
    elif isinstance(value, int | float):
        if isinstance(value, int) and abs(value) >= 2**53:
            ws.write_string(row, col, str(value))  # Excel would round it
        else:
            ws.write_number(row, col, value)
    elif isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        ws.write_datetime(row, col, value, datetime_fmt)
    elif isinstance(value, dt.date):
        ws.write_datetime(row, col, value, date_fmt)
    elif isinstance(value, str):
        ws.write_string(row, col, neutralize_cell(value))
    else:
        text = (
            json.dumps(value, ensure_ascii=False, default=str)
            if isinstance(value, dict | list)
            else str(value)
        )
        ws.write_string(row, col, neutralize_cell(text))
