"""Turn a text input of any supported encoding into UTF-8 bytes on disk, streaming in chunks.

UTF-8 files are validated in place (no copy); UTF-8 with a BOM is read past the mark; UTF-16
(with BOM) and cp1252 files are transcoded chunk by chunk into a temporary UTF-8 file, so a large
file is never held in memory as a whole. The same pass counts quote characters and looks for
NUL bytes (binary content named ``.csv``).
"""

from __future__ import annotations

import codecs
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from transformers.errors import InvalidFileError, UnsupportedFormatError
from transformers.io.sniff import HEAD_BYTES, check_text, detect_bom

CHUNK_BYTES = 4 * 1024 * 1024
CP1252_ERRORS = "agensium-cp1252"


def _cp1252_undefined(exc: UnicodeError) -> tuple[str, int]:
    """cp1252 leaves five bytes undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D): keep them as the
    same-numbered Unicode code points (what latin-1 does) instead of failing the file."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "".join(chr(b) for b in exc.object[exc.start : exc.end]), exc.end


codecs.register_error(CP1252_ERRORS, _cp1252_undefined)


@dataclass
class Utf8Text:
    """UTF-8 text on disk: read ``path`` from byte ``offset`` (past a BOM)."""

    path: Path
    offset: int
    encoding: str  # utf-8 | utf-8-sig | utf-16-le | utf-16-be | cp1252
    quote_count: int
    temporary: bool

    def cleanup(self) -> None:
        if self.temporary:
            self.path.unlink(missing_ok=True)


def _chunks(path: Path, start: int) -> Iterator[bytes]:
    with path.open("rb") as f:
        f.seek(start)
        while chunk := f.read(CHUNK_BYTES):
            yield chunk


def _binary(what: str) -> UnsupportedFormatError:
    return UnsupportedFormatError(
        f"The file contains {what}: it is binary, not text (CSV, TSV, JSON)",
        details={"reason": "nul_bytes"},
    )


def _transcode(path: Path, start: int, codec: str, errors: str, encoding: str) -> Utf8Text:
    decoder = codecs.getincrementaldecoder(codec)(errors=errors)
    fd, tmp_name = tempfile.mkstemp(prefix=".utf8-", suffix=".txt", dir=path.parent)
    tmp = Path(tmp_name)
    quotes = 0
    checked = False
    try:
        with os.fdopen(fd, "wb") as out:
            position = start
            for chunk in _chunks(path, start):
                try:
                    text = decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    raise InvalidFileError(
                        f"The file is not valid {encoding}: bad bytes at offset "
                        f"{position + exc.start}",
                        details={"encoding": encoding, "byte": position + exc.start},
                    ) from None
                position += len(chunk)
                if "\x00" in text:
                    raise _binary("NUL characters")
                if not checked:
                    check_text(text[:HEAD_BYTES])
                    checked = True
                data = text.encode("utf-8")
                quotes += data.count(b'"')
                out.write(data)
            tail = decoder.decode(b"", final=True).encode("utf-8")
            quotes += tail.count(b'"')
            out.write(tail)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Utf8Text(tmp, 0, encoding, quotes, temporary=True)


def to_utf8(path: Path) -> Utf8Text:
    """Detect the encoding of a text file and make it readable as UTF-8 (see module doc)."""
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    encoding, bom_len = detect_bom(head)
    if encoding in ("utf-16-le", "utf-16-be"):
        return _transcode(path, bom_len, encoding, "strict", encoding)

    # UTF-8 (with or without BOM): validate in place, counting quotes and looking for NULs.
    decoder = codecs.getincrementaldecoder("utf-8")()
    quotes = 0
    try:
        for chunk in _chunks(path, bom_len):
            if b"\x00" in chunk:
                raise _binary("NUL bytes")
            decoder.decode(chunk)
            quotes += chunk.count(b'"')
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        pass
    else:
        check_text(head[bom_len:].decode("utf-8", errors="ignore"))
        return Utf8Text(path, bom_len, encoding or "utf-8", quotes, temporary=False)
    # Not UTF-8: Windows-1252, the usual encoding of spreadsheets saved on Windows.
    return _transcode(path, bom_len, "cp1252", CP1252_ERRORS, "cp1252")
