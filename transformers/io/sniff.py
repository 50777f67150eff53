"""Format, encoding and delimiter detection from the first bytes of a file.

Standard library only: the gateway imports this module to answer 415 at upload time, without
the data stack (no polars, no pandas, no pyarrow).

The format is decided by the content; the file name's extension only breaks ties (a one-column
text file named ``.tsv``, a one-line JSON object named ``.jsonl``, a YAML document).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from pathlib import PurePath

from transformers.errors import InvalidFileError, UnsupportedFormatError

#: How many bytes callers should pass to :func:`sniff_format`.
HEAD_BYTES = 64 * 1024

#: Delimiters tried, in order of preference when the evidence is equal.
DELIMITERS: tuple[str, ...] = (",", "\t", ";", "|")

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_PARQUET_MAGIC = b"PAR1"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: Recognisable binary formats we do not read, with a user-facing name.
_OTHER_BINARY: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"ARROW1", "an Arrow IPC file"),
    (b"Obj\x01", "an Avro file"),
)

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    # UTF-32 BOMs start with the UTF-16 ones: test them first so they are not misread.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# C0 control characters that never occur in text files (tab, LF, VT, FF, CR are allowed).
_CONTROL = frozenset(range(0x00, 0x09)) | frozenset(range(0x0E, 0x20)) | {0x7F}
_MAX_CONTROL_RATIO = 0.005


def detect_bom(head: bytes) -> tuple[str | None, int]:
    """The encoding announced by a byte-order mark, and the mark's length (or ``(None, 0)``)."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            if name.startswith("utf-32"):
                raise UnsupportedFormatError(
                    "UTF-32 text is not supported; save the file as UTF-8",
                    details={"encoding": name},
                )
            return name, len(bom)
    return None, 0


def decode_head(head: bytes) -> tuple[str, str]:
    """Decode the first bytes of a text file: ``(text, encoding)``.

    BOM first (UTF-8, UTF-16 LE/BE), then strict UTF-8 (a multi-byte character cut at the end
    of the head is tolerated), then cp1252. Raises UnsupportedFormatError for binary content.
    """
    encoding, bom_len = detect_bom(head)
    body = head[bom_len:]
    if encoding is None:
        if b"\x00" in body:
            raise UnsupportedFormatError(
                "The file contains NUL bytes: it is binary, not text (CSV, TSV, JSON)",
                details={"reason": "nul_bytes"},
            )
        try:
            text = codecs.getincrementaldecoder("utf-8")().decode(body, final=False)
            encoding = "utf-8"
        except UnicodeDecodeError:
            text = body.decode("cp1252", errors="replace")
            encoding = "cp1252"
    else:
        codec = "utf-8" if encoding == "utf-8-sig" else encoding
        try:
            text = codecs.getincrementaldecoder(codec)().decode(body, final=False)
        except UnicodeDecodeError as exc:
            raise InvalidFileError(
                f"The file starts with a {encoding} byte-order mark but is not valid {encoding}",
                details={"encoding": encoding, "byte": exc.start + bom_len},
            ) from None
        if "\x00" in text:
            raise UnsupportedFormatError(
                "The file contains NUL characters: it is binary, not text",
                details={"reason": "nul_bytes"},
            )
    check_text(text)
    return text, encoding


def check_text(text: str) -> None:
    """Reject text that is mostly control characters (binary data that happened to decode)."""
    if not text:
        return
    sample = text[:HEAD_BYTES]
    bad = sum(1 for ch in sample if ord(ch) in _CONTROL)
    if bad and bad / len(sample) > _MAX_CONTROL_RATIO:
        raise UnsupportedFormatError(
            "The file is not text: it contains binary control characters",
            details={"reason": "control_characters", "count_in_head": bad},
        )


def _extension(filename: str) -> str:
    return PurePath(filename or "").suffix.lower().lstrip(".")


def sniff_delimiter(text: str, filename: str = "") -> str:
    """The field delimiter of delimited text: ``,`` ``;`` tab or ``|``.

    Each candidate parses up to 200 records of the head; it must give the header at least two
    fields, and the candidate whose records most often have the header's field count wins (then
    the one with more fields). Ties go to the extension's delimiter (``.tsv`` → tab), then to the
    order of :data:`DELIMITERS`. A single-column file gets the extension's delimiter.
    """
    ext = _extension(filename)
    preferred = "\t" if ext in ("tsv", "tab") else ","
    # Drop a last line that the head may have cut in two.
    if len(text) >= HEAD_BYTES // 2 and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    best: tuple[float, int, int] | None = None
    best_delim = preferred
    for rank, delim in enumerate(DELIMITERS):
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
        counts: list[int] = []
        try:
            for row in reader:
                if row:
                    counts.append(len(row))
                if len(counts) >= 200:
                    break
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        consistency = sum(1 for c in counts if c == counts[0]) / len(counts)
        tie = 0 if delim == preferred else -1 - rank
        score = (consistency, counts[0], tie)
        if best is None or score > best:
            best, best_delim = score, delim
    return best_delim


_JSON_ARRAY_START = re.compile(r"\[\s*(\{|\]|$)")
_JSON_OBJECT_START = re.compile(r"\{\s*(\"|\}|$)")


def _json_kind(stripped: str, ext: str) -> str | None:
    if stripped.startswith("[") and (
        _JSON_ARRAY_START.match(stripped) or ext in ("json", "jsonl", "ndjson")
    ):
        return "json"
    if stripped.startswith("{") and (
        _JSON_OBJECT_START.match(stripped) or ext in ("json", "jsonl", "ndjson")
    ):
        lines = [ln.strip() for ln in stripped.splitlines() if ln.strip()]
        try:
            first_complete = isinstance(json.loads(lines[0]), dict)
        except ValueError:
            first_complete = False
        if first_complete and (
            (len(lines) > 1 and lines[1].startswith("{")) or ext in ("jsonl", "ndjson")
        ):
            return "jsonl"
        if ext in ("jsonl", "ndjson"):
            return "jsonl"
        return "json"
    return None


def sniff_format(head: bytes, filename: str) -> str:
    """Detect a file's format from its first bytes (see :data:`HEAD_BYTES`).

    Returns one of ``csv``, ``tsv``, ``xlsx``, ``json``, ``jsonl``, ``parquet``, ``yaml``.
    Raises InvalidFileError for an empty file, UnsupportedFormatError for anything else
    (binary data, other archives and documents, legacy ``.xls``).
    """
    if not head:
        raise InvalidFileError("file is empty", details={"filename": filename})
    ext = _extension(filename)
    if head.startswith(_ZIP_MAGIC):
        for marker, what in ((b"word/", "a Word document"), (b"ppt/", "a PowerPoint file")):
            if marker in head and b"xl/" not in head:
                raise UnsupportedFormatError(
                    f"The file is {what}, not a spreadsheet; upload XLSX, CSV, JSON or Parquet",
                    details={"detected": what},
                )
        return "xlsx"
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if head.startswith(_OLE_MAGIC):
        raise UnsupportedFormatError(
            "Legacy Excel (.xls) and other OLE files are not supported; save it as .xlsx or CSV",
            details={"detected": "ole2"},
        )
    for magic, what in _OTHER_BINARY:
        if head.startswith(magic):
            raise UnsupportedFormatError(
                f"The file is {what}; upload CSV, TSV, XLSX, JSON, JSON Lines or Parquet",
                details={"detected": what},
            )
    text, _encoding = decode_head(head)
    stripped = text.lstrip()
    if not stripped:
        raise InvalidFileError("file is empty (only whitespace)", details={"filename": filename})
    kind = _json_kind(stripped, ext)
    if kind is not None:
        return kind
    if ext in ("yaml", "yml") or stripped.startswith(("---", "%YAML")):
        return "yaml"
    return "tsv" if sniff_delimiter(text, filename) == "\t" else "csv"
