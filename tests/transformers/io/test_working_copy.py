"""The out-of-core reader reads a file exactly as the in-memory reader does.

Every case is read both ways, with the streaming reader's blocks made tiny so that a file spans
many of them: the same columns, types, values, row ids, skipped lines and errors.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from transformers.errors import AppError
from transformers.io import ReadOptions, delimited, read_table
from transformers.io.working_copy import build_working_copy


def _rows(n: int, fn) -> str:
    return "".join(fn(i) for i in range(n))


CASES = {
    "types": "id,price,when,stamp,flag,zip,name\n"
    + _rows(
        300,
        lambda i: (
            f"{i},{i * 1.5},2024-01-{i % 28 + 1:02d},2024-02-01T10:{i % 60:02d}:00,"
            f"{'true' if i % 2 else 'False'},{i:05d},n{i}\n"
        ),
    ),
    "late_text_in_numbers": "a,b\n" + _rows(300, lambda i: f"{i},{i}\n") + "n/a,7\n",
    "late_values_in_empty_column": "a,b\n" + _rows(300, lambda i: f"{i},\n") + "1,42\n",
    "late_float_in_ints": "a\n" + _rows(300, lambda i: f"{i}\n") + "2.5\n",
    "beyond_int64": "a\n" + _rows(300, lambda i: f"{i}\n") + "99999999999999999999\n",
    "quoted_newlines": "a,b\n" + _rows(200, lambda i: f'{i},"line one\nline {i}"\n'),
    "semicolons": "a;b;c\n" + _rows(200, lambda i: f"{i};x{i};{i / 4}\n"),
    "duplicate_and_blank_headers": "a,a,,b\n" + _rows(200, lambda i: f"{i},{i},{i},{i}\n"),
    "blank_lines": "a,b\n" + _rows(200, lambda i: f"{i},{i}\n\n"),
    "header_only": "a,b,c\n",
    "cp1252": None,  # written as bytes below
}


def _write(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.csv"
    if name == "cp1252":
        text = "name,city\n" + _rows(200, lambda i: f"Ren\u00e9e {i},K\u00f6ln\n")
        path.write_bytes(text.encode("cp1252"))
    else:
        path.write_text(CASES[name], encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def tiny_blocks(monkeypatch) -> None:
    monkeypatch.setattr(delimited, "STREAM_BLOCK_BYTES", 256)


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_table_both_ways(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path, name)
    memory = read_table(path, filename=path.name, role="primary", options=ReadOptions())
    copy = build_working_copy(
        path, filename=path.name, role="primary", options=ReadOptions(), dest_dir=tmp_path / "wc"
    )
    streamed = pl.read_parquet(copy.frame.path)
    assert streamed.schema == memory.frame.schema
    assert streamed.equals(memory.frame)
    assert copy.frame.height == memory.frame.height
    assert copy.info.rows == memory.info.rows
    assert copy.info.encoding == memory.info.encoding
    assert copy.info.format == memory.info.format
    assert copy.notes == memory.notes
    assert copy.info.out_of_core and not memory.info.out_of_core


RAGGED = "a,b\n1,2\n3,4,5\n6,7\n" + _rows(200, lambda i: f"{i},{i}\n")


@pytest.mark.parametrize("on_bad_lines", ["error", "skip"])
def test_bad_lines_both_ways(tmp_path: Path, on_bad_lines: str) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(RAGGED, encoding="utf-8")
    options = ReadOptions(on_bad_lines=on_bad_lines)  # type: ignore[arg-type]

    def read(fn, **kw):
        try:
            return fn(path, filename=path.name, role="primary", options=options, **kw), None
        except AppError as exc:
            return None, (exc.code, exc.message, exc.details)

    memory, mem_error = read(read_table)
    copy, copy_error = read(build_working_copy, dest_dir=tmp_path / "wc")
    assert copy_error == mem_error
    if on_bad_lines == "error":
        assert mem_error is not None and "line 3" in mem_error[1]
        return
    assert pl.read_parquet(copy.frame.path).equals(memory.frame)
    assert copy.info.skipped_lines == memory.info.skipped_lines


def test_plan_limits_both_ways(tmp_path: Path) -> None:
    path = _write(tmp_path, "types")
    for options in (ReadOptions(max_rows=100), ReadOptions(max_columns=3),
                    ReadOptions(max_cell_length=3)):  # fmt: skip
        with pytest.raises(AppError) as mem:
            read_table(path, filename=path.name, role="primary", options=options)
        with pytest.raises(AppError) as oc:
            build_working_copy(
                path, filename=path.name, role="primary", options=options,
                dest_dir=tmp_path / "wc",
            )  # fmt: skip
        assert oc.value.code == mem.value.code
        assert oc.value.details["limit"] == mem.value.details["limit"]
        if options.max_rows is None:
            assert oc.value.message == mem.value.message
        else:  # streaming stops at the limit instead of counting the whole file
            assert (
                oc.value.message == "The file has more than 100 rows; the limit (max_rows) is 100"
            )


def test_parquet_input_both_ways(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    pl.DataFrame(
        {
            "n": [1, 2, None],
            "x": [0.5, None, 2.0],
            "s": ["2024-01-02", "2024-02-03", None],
            "dup": ["a", "b", "c"],
        }
    ).with_columns(pl.col("dup").alias("dup2")).rename({"dup2": "dup "}).write_parquet(path)
    memory = read_table(path, filename=path.name, role="primary", options=ReadOptions())
    copy = build_working_copy(
        path, filename=path.name, role="primary", options=ReadOptions(), dest_dir=tmp_path / "wc"
    )
    streamed = pl.read_parquet(copy.frame.path)
    assert streamed.schema == memory.frame.schema
    assert streamed.equals(memory.frame)
    assert copy.notes == memory.notes
