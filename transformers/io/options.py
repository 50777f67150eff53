"""Reading options and the loaded table (importable without the data stack)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from transformers.contract import InputInfo

if TYPE_CHECKING:
    import polars as pl

MIB = 1024 * 1024


@dataclass
class ReadOptions:
    """How to read a tabular input; the limits come from the tenant's plan (None = no limit)."""

    #: ``error``: a structural problem (ragged row, unterminated quote) fails the read, naming
    #: the line. ``skip``: such lines are dropped and listed in ``InputInfo.skipped_lines``.
    on_bad_lines: Literal["error", "skip"] = "error"
    #: XLSX sheet to read (default: the first visible worksheet).
    sheet: str | None = None
    max_rows: int | None = None
    max_columns: int | None = None
    #: Longest text cell, in characters.
    max_cell_length: int | None = None
    #: Zip-bomb guard: the sum of the uncompressed sizes declared in an XLSX's zip directory.
    max_xlsx_uncompressed_bytes: int | None = 200 * MIB


@dataclass
class LoadedTable:
    """A parsed input: ``frame``'s first column is ``__row_id__`` (Int64, 0-based position)."""

    frame: pl.DataFrame
    info: InputInfo
    #: What the reader changed or noticed that the user should know (renamed headers, ...).
    notes: list[str] = field(default_factory=list)
