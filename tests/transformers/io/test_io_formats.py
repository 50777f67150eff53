"""Each input format is parsed once into typed columns with stable row ids."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from transformers.contract import ROW_ID
from transformers.io import LoadedTable, ReadOptions, read_table


def load(tmp_path: Path, name: str, content: bytes, **options: object) -> LoadedTable:
    path = tmp_path / "upload.bin"  # stored without the user's name: detection is by content
    path.write_bytes(content)
    return read_table(path, filename=name, role="primary", options=ReadOptions(**options))  # type: ignore[arg-type]


def test_csv_types_and_row_ids(tmp_path: Path) -> None:
    t = load(
        tmp_path,
        "people.csv",
        b"id,name,score,joined,active,zip\n"
        b"1,Ann,1.5,2024-01-31,true,02134\n"
        b"2,Bob,,2024-02-29,FALSE,10001\n"
        b'3,"Smith, Jo",3e2,2023-12-01,true,00501\n',
    )
    f = t.frame
    assert f.columns[0] == ROW_ID
    assert f[ROW_ID].dtype == pl.Int64
    assert f[ROW_ID].to_list() == [0, 1, 2]
    assert f.schema["id"] == pl.Int64
    assert f.schema["score"] == pl.Float64
    assert f["score"].to_list() == [1.5, None, 300.0]
    assert f.schema["joined"] == pl.Date
    assert f["joined"][1] == dt.date(2024, 2, 29)
    assert f["active"].to_list() == [True, False, True]
    # Leading zeros are data (zip codes, ids): the column stays text, zeros intact.
    assert f["zip"].to_list() == ["02134", "10001", "00501"]
    assert f["name"][2] == "Smith, Jo"
    assert (t.info.format, t.info.rows, t.info.columns, t.info.role) == ("csv", 3, 6, "primary")


def test_mixed_column_stays_text_with_every_raw_value(tmp_path: Path) -> None:
    rows = [f"{i},{i * 10}" for i in range(5000)] + ["5000,n/a", "5001,12.5kg"]
    t = load(tmp_path, "m.csv", ("id,amount\n" + "\n".join(rows) + "\n").encode())
    amount = t.frame["amount"]
    assert amount.dtype == pl.String  # inferred over the whole column, not the first rows
    assert amount.null_count() == 0
    assert amount[-2:].to_list() == ["n/a", "12.5kg"]
    assert amount[0] == "0"
    # A bad date in a date column: no silent null either.
    t = load(tmp_path, "d.csv", b"d\n2024-01-01\n2024-02-30\n")
    assert t.frame["d"].to_list() == ["2024-01-01", "2024-02-30"]


def test_datetime_and_big_integer(tmp_path: Path) -> None:
    t = load(
        tmp_path,
        "x.csv",
        b"ts,big\n2024-01-02 03:04:05,123456789012345678901234\n2024-01-03T00:00:00,1\n",
    )
    assert t.frame["ts"].to_list() == [dt.datetime(2024, 1, 2, 3, 4, 5), dt.datetime(2024, 1, 3)]
    assert t.frame["big"].to_list() == ["123456789012345678901234", "1"]


def test_empty_fields_are_null_but_text_is_kept(tmp_path: Path) -> None:
    t = load(tmp_path, "e.csv", b'a,b\nx,\n"",y\n" ",z\n')
    assert t.frame["a"].to_list() == ["x", None, " "]
    assert t.frame["b"].to_list() == [None, "y", "z"]


def test_multiline_quoted_field_is_one_row(tmp_path: Path) -> None:
    t = load(tmp_path, "q.csv", b'id,note\n1,"line one\nline two"\n2,"say ""hi"""\n')
    assert t.frame["note"].to_list() == ["line one\nline two", 'say "hi"']
    assert t.frame[ROW_ID].to_list() == [0, 1]


@pytest.mark.parametrize(
    ("content", "expected_delim_format"),
    [
        (b"a;b;c\n1;2,5;x\n3;4,0;y\n", "csv"),
        (b"a\tb\tc\n1\t2\tx, y\n", "tsv"),
        (b"a|b|c\n1|2|x\n", "csv"),
        (b'a,b,c\n1,"2;3",x\n', "csv"),
    ],
)
def test_delimiter_sniffing(tmp_path: Path, content: bytes, expected_delim_format: str) -> None:
    t = load(tmp_path, "data.txt", content)
    assert t.frame.columns == [ROW_ID, "a", "b", "c"]
    assert t.info.format == expected_delim_format


def test_semicolon_file_keeps_decimal_comma_text(tmp_path: Path) -> None:
    t = load(tmp_path, "eu.csv", b"name;price\nA;2,5\nB;4,0\n")
    assert t.frame["price"].to_list() == ["2,5", "4,0"]


def test_header_only_gives_zero_rows_with_columns(tmp_path: Path) -> None:
    t = load(tmp_path, "h.csv", b"id,name,amount\n")
    assert t.frame.height == 0
    assert t.frame.columns == [ROW_ID, "id", "name", "amount"]
    assert t.info.rows == 0 and t.info.columns == 3


def test_headers_duplicate_blank_and_non_ascii(tmp_path: Path) -> None:
    t = load(tmp_path, "h.csv", "name,name,,Straße,名前,name\n1,2,3,4,5,6\n".encode())
    assert t.frame.columns == [ROW_ID, "name", "name_2", "column_3", "Straße", "名前", "name_3"]
    assert t.frame.row(0)[1:] == (1, 2, 3, 4, 5, 6)
    assert any("name_2" in n for n in t.notes) and any("column_3" in n for n in t.notes)
    # A header that collides with the reserved row-id column is renamed, not overwritten.
    t = load(tmp_path, "r.csv", b"__row_id__,x\n7,8\n")
    assert t.frame.columns == [ROW_ID, "__row_id___2", "x"]
    assert t.frame["__row_id___2"].to_list() == [7] and t.frame[ROW_ID].to_list() == [0]


def test_thousand_columns(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(1000))
    rows = "\n".join(",".join(str(r * 1000 + i) for i in range(1000)) for r in range(3))
    t = load(tmp_path, "wide.csv", f"{header}\n{rows}\n".encode())
    assert t.frame.width == 1001
    assert t.info.columns == 1000
    assert t.frame["c999"].to_list() == [999, 1999, 2999]


def test_xlsx_first_sheet_types_and_row_ids(tmp_path: Path) -> None:
    path = tmp_path / "book"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Customers")
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, ["id", "name", "amount", "joined", "mixed", "zip"])
    ws.write_row(1, 0, [1, "Ann", 1.5, None, 5, "02134"])
    ws.write_datetime(1, 3, dt.datetime(2024, 1, 2), date_fmt)
    ws.write_row(2, 0, [2, "Bob", 2, None, "n/a", "10001"])
    ws.write_datetime(2, 3, dt.datetime(2024, 3, 4), date_fmt)
    ws.write_row(4, 0, [4, "Cy", 3.25, None, None, None])  # row 4 after an empty row 3
    wb.add_worksheet("Other").write(0, 0, "ignored")
    wb.close()
    t = read_table(path, filename="book.xlsx", role="primary", options=ReadOptions())
    f = t.frame
    assert t.info.format == "xlsx"
    assert f.columns == [ROW_ID, "id", "name", "amount", "joined", "mixed", "zip"]
    assert f.schema["id"] == pl.Int64  # Excel stores 1.0: whole numbers become integers
    assert f["amount"].to_list() == [1.5, 2.0, 3.25]
    assert f["joined"].to_list()[:2] == [dt.date(2024, 1, 2), dt.date(2024, 3, 4)]
    assert f["mixed"].to_list() == ["5", "n/a", None]
    assert f["zip"].to_list() == ["02134", "10001", None]
    # The empty spreadsheet row is not data; ids stay the position below the header.
    assert f[ROW_ID].to_list() == [0, 1, 3]


def test_xlsx_named_sheet(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("First").write_row(0, 0, ["a"])
    second = wb.add_worksheet("Second")
    second.write_row(0, 0, ["b", "c"])
    second.write_row(1, 0, ["x", 2])
    wb.close()
    t = read_table(path, filename="book.xlsx", role="primary", options=ReadOptions(sheet="Second"))
    assert t.frame.columns == [ROW_ID, "b", "c"]
    assert t.frame.row(0) == (0, "x", 2)


def test_json_array_and_json_lines(tmp_path: Path) -> None:
    records = [
        {"id": 1, "name": "Ann", "tags": ["a"], "score": 1.5, "ok": True},
        {"id": 2, "name": "Bob", "score": 2, "ok": False, "extra": "late key"},
        {"id": 3, "name": None, "score": None, "ok": None},
    ]
    t = load(tmp_path, "data.json", json.dumps(records, indent=2).encode())
    f = t.frame
    assert t.info.format == "json"
    assert f.columns == [ROW_ID, "id", "name", "tags", "score", "ok", "extra"]
    assert f.schema["id"] == pl.Int64 and f.schema["score"] == pl.Float64
    assert f["ok"].to_list() == [True, False, None]
    assert f["tags"].to_list() == ['["a"]', None, None]
    assert f["extra"].to_list() == [None, "late key", None]

    lines = "\n".join(json.dumps(r) for r in records) + "\n\n"
    t = load(tmp_path, "data.jsonl", lines.encode())
    assert t.info.format == "jsonl"
    assert t.frame[ROW_ID].to_list() == [0, 1, 2]
    assert t.frame["score"].to_list() == [1.5, 2.0, None]


def test_json_mixed_types_stay_text(tmp_path: Path) -> None:
    t = load(tmp_path, "m.json", b'[{"v": 1}, {"v": "one"}, {"v": true}]')
    assert t.frame["v"].to_list() == ["1", "one", "true"]


def test_parquet_detected_by_content(tmp_path: Path) -> None:
    path = tmp_path / "p"
    pl.DataFrame({"a": [1, 2], "b": ["x", None], "d": [dt.date(2024, 1, 1), None]}).write_parquet(
        path
    )
    t = read_table(path, filename="export.csv", role="baseline", options=ReadOptions())
    assert t.info.format == "parquet" and t.info.role == "baseline"
    assert t.frame.to_dicts() == [
        {ROW_ID: 0, "a": 1, "b": "x", "d": dt.date(2024, 1, 1)},
        {ROW_ID: 1, "a": 2, "b": None, "d": None},
    ]
