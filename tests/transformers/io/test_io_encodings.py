"""Encodings are decoded, not rejected, and the info says which one was used."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from transformers.io import ReadOptions, read_table

TEXT = "name,city,amount\nJosé,Zürich,1\nRenée,Besançon,2\n"


def read(tmp_path: Path, content: bytes, name: str = "x.csv") -> tuple[list[str], str | None]:
    path = tmp_path / "in"
    path.write_bytes(content)
    t = read_table(path, filename=name, role="primary", options=ReadOptions())
    assert t.frame["amount"].to_list() == [1, 2]
    return t.frame["name"].to_list() + t.frame["city"].to_list(), t.info.encoding


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16-le"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16-be"),
        (TEXT.encode("cp1252"), "cp1252"),
    ],
)
def test_encodings(tmp_path: Path, content: bytes, encoding: str) -> None:
    values, used = read(tmp_path, content)
    assert values == ["José", "Renée", "Zürich", "Besançon"]
    assert used == encoding


def test_bom_does_not_leak_into_first_header(tmp_path: Path) -> None:
    path = tmp_path / "in"
    path.write_bytes(codecs.BOM_UTF8 + b"id,v\n1,2\n")
    t = read_table(path, filename="x.csv", role="primary", options=ReadOptions())
    assert t.frame.columns[1] == "id"


def test_cp1252_euro_sign_and_quotes(tmp_path: Path) -> None:
    path = tmp_path / "in"
    path.write_bytes("item,price\n“Deluxe”,€5\n".encode("cp1252"))
    t = read_table(path, filename="x.csv", role="primary", options=ReadOptions())
    assert t.info.encoding == "cp1252"
    assert t.frame.row(0)[1:] == ("“Deluxe”", "€5")


def test_utf16_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "in"
    path.write_bytes(codecs.BOM_UTF16_LE + '{"a": "é"}\n{"a": "ü"}\n'.encode("utf-16-le"))
    t = read_table(path, filename="x.jsonl", role="primary", options=ReadOptions())
    assert (t.info.format, t.info.encoding) == ("jsonl", "utf-16-le")
    assert t.frame["a"].to_list() == ["é", "ü"]
