"""Structural problems name the line (or are skipped and listed); bad inputs get the right code."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import xlsxwriter

from core.errors import AppError
from transformers.contract import ROW_ID
from transformers.errors import FileTooLargeError, InvalidFileError, UnsupportedFormatError
from transformers.io import LoadedTable, ReadOptions, read_table


def load(tmp_path: Path, content: bytes, name: str = "x.csv", **options: object) -> LoadedTable:
    path = tmp_path / "in"
    path.write_bytes(content)
    return read_table(path, filename=name, role="primary", options=ReadOptions(**options))  # type: ignore[arg-type]


def error(tmp_path: Path, content: bytes, name: str = "x.csv", **options: object) -> AppError:
    with pytest.raises(AppError) as info:
        load(tmp_path, content, name, **options)
    return info.value


@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [
        (b"a,b\n1,2\n3,4,5\n6,7\n", 3, "expected 2 fields but found 3"),
        (b"a,b\n1,2\n3,4\n5\n", 4, "expected 2 fields but found 1"),
        (b'a,b\n1,2\n3,"unclosed\n4,5\n', 3, "unterminated quoted field"),
        (b'a,b\n1,"multi\nline",3\n4,5\n', 2, "expected 2 fields but found 3"),
    ],
)
def test_structural_error_names_line_and_problem(
    tmp_path: Path, content: bytes, line: int, problem: str
) -> None:
    exc = error(tmp_path, content)
    assert isinstance(exc, InvalidFileError)
    assert exc.code == "INVALID_FILE" and exc.status_code == 422
    assert exc.message.startswith(f"line {line}: ")
    assert problem in exc.message
    assert exc.details["line"] == line


def test_ragged_row_line_counts_multiline_records(tmp_path: Path) -> None:
    content = b'id,note\n1,"a\nb\nc"\n2,ok\n3\n'
    assert error(tmp_path, content).details["line"] == 6


def test_skip_drops_bad_lines_lists_them_and_keeps_row_ids(tmp_path: Path) -> None:
    content = b'a,b\n1,2\n3,4,5\n6,7\n8\n9,"open\n10,11\n'
    t = load(tmp_path, content, on_bad_lines="skip")
    assert t.frame.select("a", "b").rows() == [(1, 2), (6, 7), (10, 11)]
    # Row ids are positions of the records in the input: skipped records keep theirs.
    assert t.frame[ROW_ID].to_list() == [0, 2, 5]
    assert [(s["line"], s["problem"].split(" (")[0]) for s in t.info.skipped_lines] == [
        (3, "expected 2 fields but found 3"),
        (5, "expected 2 fields but found 1"),
        (6, "unterminated quoted field"),
    ]
    assert t.info.skipped_lines[0]["raw"] == "3,4,5"
    assert t.info.rows == 3


def test_stray_quote_inside_a_field_is_data_not_an_error(tmp_path: Path) -> None:
    t = load(tmp_path, b'size,label\n5,24" screen\n6,plain\n')
    assert t.frame["label"].to_list() == ['24" screen', "plain"]
    assert t.info.skipped_lines == []


def test_blank_lines_are_not_rows(tmp_path: Path) -> None:
    t = load(tmp_path, b"a,b\n1,2\n\n3,4\n\n\n")
    assert t.frame.select("a", "b").rows() == [(1, 2), (3, 4)]
    assert t.frame[ROW_ID].to_list() == [0, 1]


def test_jsonl_bad_line_named_or_skipped(tmp_path: Path) -> None:
    content = b'{"a": 1}\n{"a": 2\n[3]\n{"a": 4}\n'
    exc = error(tmp_path, content, "x.jsonl")
    assert isinstance(exc, InvalidFileError) and exc.message.startswith("line 2: invalid JSON")
    t = load(tmp_path, content, "x.jsonl", on_bad_lines="skip")
    assert t.frame["a"].to_list() == [1, 4]
    assert t.frame[ROW_ID].to_list() == [0, 3]
    assert [s["line"] for s in t.info.skipped_lines] == [2, 3]


def test_bad_json_names_line(tmp_path: Path) -> None:
    exc = error(tmp_path, b'[\n  {"a": 1},\n  {"a": }\n]', "x.json")
    assert isinstance(exc, InvalidFileError) and exc.message.startswith("line 3: invalid JSON")


def test_empty_file(tmp_path: Path) -> None:
    exc = error(tmp_path, b"")
    assert isinstance(exc, InvalidFileError) and exc.message == "file is empty"


@pytest.mark.parametrize(
    "content",
    [
        bytes(range(256)) * 40,  # random-looking binary with NUL bytes
        b"a,b\n1,2\n" + b"\x00\x01\x02" * 10,  # text that turns binary
        bytes(b % 250 + 1 for b in range(0, 5000, 7)),  # no NUL, but control characters
        b"%PDF-1.7\n...",
        b"\x1f\x8b\x08\x00" + b"\x00" * 20,
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 50,  # legacy .xls
    ],
)
def test_binary_named_csv_is_unsupported(tmp_path: Path, content: bytes) -> None:
    exc = error(tmp_path, content)
    assert isinstance(exc, UnsupportedFormatError)
    assert (exc.code, exc.status_code) == ("UNSUPPORTED_FORMAT", 415)


def test_zip_that_is_not_a_workbook_is_unsupported(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("data.csv", "a,b\n1,2\n")
    exc = error(tmp_path, buf.getvalue(), "x.xlsx")
    assert isinstance(exc, UnsupportedFormatError)


def test_xlsx_zip_bomb_rejected_from_the_zip_directory(tmp_path: Path) -> None:
    # A real workbook plus one entry of 3 MB of zeros (compresses to a few KB).
    book = tmp_path / "book.xlsx"
    wb = xlsxwriter.Workbook(str(book))
    wb.add_worksheet().write_row(0, 0, ["a", "b"])
    wb.close()
    with zipfile.ZipFile(book, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/media/bomb.bin", b"\x00" * (3 * 1024 * 1024))
    assert book.stat().st_size < 100_000
    with pytest.raises(FileTooLargeError) as info:
        read_table(
            book,
            filename="book.xlsx",
            role="primary",
            options=ReadOptions(max_xlsx_uncompressed_bytes=1024 * 1024),
        )
    assert info.value.status_code == 413
    assert "max_xlsx_uncompressed_bytes" in info.value.message
    assert info.value.details["found"] > 3 * 1024 * 1024


@pytest.mark.parametrize(
    ("options", "limit"),
    [
        ({"max_rows": 2}, "max_rows"),
        ({"max_columns": 2}, "max_columns"),
        ({"max_cell_length": 5}, "max_cell_length"),
    ],
)
def test_plan_limits_name_the_limit(tmp_path: Path, options: dict[str, int], limit: str) -> None:
    exc = error(tmp_path, b"a,b,c\n1,2,x\n3,4,y\n5,6,longer text\n", **options)
    assert isinstance(exc, FileTooLargeError) and exc.status_code == 413
    assert limit in exc.message and exc.details["limit"] == limit


def test_limits_allow_what_fits(tmp_path: Path) -> None:
    t = load(tmp_path, b"a,b\n1,hello\n", max_rows=1, max_columns=2, max_cell_length=5)
    assert t.frame.height == 1


def test_empty_xlsx_sheet_is_invalid(tmp_path: Path) -> None:
    book = tmp_path / "book.xlsx"
    wb = xlsxwriter.Workbook(str(book))
    wb.add_worksheet("Blank")
    wb.close()
    with pytest.raises(InvalidFileError, match="sheet 'Blank' is empty"):
        read_table(book, filename="book.xlsx", role="primary", options=ReadOptions())
