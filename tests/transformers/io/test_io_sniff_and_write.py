"""Format sniffing (for the gateway, stdlib only), documents, and writing tables back out."""

from __future__ import annotations

import codecs
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from transformers.contract import ROW_ID
from transformers.errors import InvalidFileError, UnsupportedFormatError
from transformers.io import ReadOptions, read_document, read_table, sniff_format, write_table


@pytest.mark.parametrize(
    ("head", "name", "fmt"),
    [
        (b"a,b\n1,2\n", "x.csv", "csv"),
        (b"a\tb\n1\t2\n", "x.csv", "tsv"),  # content wins over the extension
        (b"a,b\n1,2\n", "x.tsv", "csv"),
        (b"value\n1\n", "x.tsv", "tsv"),  # one column: the extension breaks the tie
        (b'[{"a": 1}]', "data.txt", "json"),
        (b'  \n[\n  {"a": 1}\n]', "x", "json"),
        (b'{"a": 1}\n{"a": 2}\n', "x.json", "jsonl"),
        (b'{"a": 1}\n', "x.jsonl", "jsonl"),
        (b'{\n  "columns": []\n}', "contract.json", "json"),
        (b"PAR1\x15\x04", "x.csv", "parquet"),
        (b"PK\x03\x04\x14\x00[Content_Types].xml xl/workbook.xml", "x.bin", "xlsx"),
        (b"columns:\n  - name: id\n", "contract.yaml", "yaml"),
        (b"---\ncolumns: []\n", "contract", "yaml"),
        (codecs.BOM_UTF16_LE + "a;b\n1;2\n".encode("utf-16-le"), "x.csv", "csv"),
    ],
)
def test_sniff_format(head: bytes, name: str, fmt: str) -> None:
    assert sniff_format(head, name) == fmt


def test_sniff_rejects_binary_and_empty() -> None:
    with pytest.raises(UnsupportedFormatError):
        sniff_format(b"\x00\x01\x02\x03binary", "x.csv")
    with pytest.raises(UnsupportedFormatError):
        sniff_format(b"PK\x03\x04....word/document.xml", "x.xlsx")
    with pytest.raises(InvalidFileError, match="file is empty"):
        sniff_format(b"", "x.csv")


def test_sniff_imports_no_data_stack() -> None:
    code = (
        "import sys; import transformers.io.sniff as s; s.sniff_format(b'a,b\\n', 'x.csv');"
        "import transformers.io;"
        "print(sorted(m for m in ('polars', 'pandas', 'pyarrow', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path.cwd()
    )
    assert out.stdout.strip() == "[]"


def test_read_document_json_and_yaml(tmp_path: Path) -> None:
    j = tmp_path / "c1"
    j.write_text('{"columns": [{"name": "id", "type": "integer"}]}')
    assert read_document(j, filename="contract.json")["columns"][0]["name"] == "id"
    y = tmp_path / "c2"
    y.write_text("columns:\n  - name: id\n    required: true\n")
    assert read_document(y, filename="contract.yaml") == {
        "columns": [{"name": "id", "required": True}]
    }


def test_read_document_bad_syntax_names_line(tmp_path: Path) -> None:
    j = tmp_path / "c1"
    j.write_text('{\n  "columns": [\n    {"name": }\n  ]\n}')
    with pytest.raises(InvalidFileError, match=r"^line 3: invalid JSON"):
        read_document(j, filename="contract.json")
    y = tmp_path / "c2"
    y.write_text("columns:\n  - name: id\n   bad: [\n")
    with pytest.raises(InvalidFileError, match="invalid YAML"):
        read_document(y, filename="contract.yaml")
    lst = tmp_path / "c3"
    lst.write_text("[1, 2]")
    with pytest.raises(InvalidFileError, match="must contain an object"):
        read_document(lst, filename="contract.json")


FRAME = pl.DataFrame(
    {
        ROW_ID: [0, 1, 2],
        "name": ['=HYPERLINK("http://evil")', "+1", "plain"],
        "note": ["@SUM(A1)", "-2", "\tcmd"],
        "amount": [1.5, -2.0, None],
        "day": [dt.date(2024, 1, 1), None, dt.date(2024, 3, 1)],
    }
)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "jsonl", "parquet"])
def test_write_table_round_trips_without_row_id(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"out.{fmt}"
    write_table(FRAME, path, fmt)
    back = read_table(path, filename=path.name, role="primary", options=ReadOptions())
    assert back.info.format == fmt
    assert back.frame.columns == [ROW_ID, "name", "note", "amount", "day"]
    # Data files keep exact values (only spreadsheets are neutralised).
    assert back.frame["name"].to_list() == FRAME["name"].to_list()
    assert back.frame["amount"].to_list() == [1.5, -2.0, None]
    if fmt == "json":
        assert ROW_ID not in json.loads(path.read_text())[0]


def test_write_xlsx_neutralises_formulas(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    write_table(FRAME, path, "xlsx")
    ws = openpyxl.load_workbook(path).active
    assert ws is not None
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("name", "note", "amount", "day")
    assert rows[1][:3] == ('\'=HYPERLINK("http://evil")', "'@SUM(A1)", 1.5)
    assert rows[2][:3] == ("'+1", "'-2", -2)
    assert rows[3][:2] == ("plain", "'\tcmd")
    assert rows[1][3] == dt.datetime(2024, 1, 1)
    for row in ws.iter_rows():
        for cell in row:
            assert cell.data_type != "f"  # no cell is a formula
