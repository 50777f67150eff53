"""Helpers shared by the clean-my-data agents.

Change logs are built vectorised: an agent computes its new column (or the rows it drops), the
helpers diff it against the old one in polars and keep only the real differences, as columnar
blocks (``contract.Changes`` of ``ChangeBlock``: the raw old and new values in their own types);
``Change`` objects exist only while something iterates the log. A cell counts as changed when its
*canonical text* differs, i.e. the value cast to text (``Int64 42`` and ``"42"`` are the same
cell; ``"1,234"`` -> ``1234`` is a change). ``change_frame`` renders a log as a frame of text
so that the writeback writes a million-line ``change_log.csv`` without walking Python objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import repeat
from typing import Any

import polars as pl

from transformers.contract import (
    ROW_ID,
    AgentContext,
    Change,
    ChangeBlock,
    ChangeKind,
    Changes,
    RowIssue,
)
from transformers.params.clean import DEFAULT_NULL_PLACEHOLDERS

__all__ = [
    "CHANGE_SCHEMA",
    "ROW_ID",
    "ChangeBuilder",
    "as_text",
    "change_frame",
    "count_kind",
    "data_columns",
    "detect_day_first",
    "is_email_like",
    "is_id_like",
    "is_year_like",
    "missing_expr",
    "missing_mask",
    "parse_bool",
    "parse_dates",
    "parse_numbers",
    "resolve_all",
    "row_issues",
    "text_columns",
]

CHANGE_SCHEMA: dict[str, Any] = {
    "agent_id": pl.String,
    "kind": pl.String,
    "rule": pl.String,
    "row_id": pl.Int64,
    "column": pl.String,
    "before": pl.String,
    "after": pl.String,
    "reason": pl.String,
}


def as_text(s: pl.Series) -> pl.Series:
    """The canonical text of each value (what a CSV writer prints); null stays null."""
    if s.dtype == pl.String:
        return s
    if s.dtype.is_nested() or s.dtype == pl.Object:
        return s.map_elements(lambda v: None if v is None else str(v), return_dtype=pl.String)
    return s.cast(pl.String)


def _broadcast(value: str | pl.Series, mask: pl.Series) -> pl.Series:
    """``value`` (one text for all, or one per row) at the rows of ``mask``."""
    if isinstance(value, pl.Series):
        return value.filter(mask).cast(pl.String)
    return pl.repeat(value, int(mask.sum()), dtype=pl.String, eager=True)


class ChangeBuilder:
    """Collects one agent's changes; ``build()`` returns them as ``Changes``: a block (a frame
    of the raw values) per call of ``cells``/``rows``, single ``Change`` objects for column
    changes, in the order they were logged."""

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.parts: list[ChangeBlock | Change] = []

    def cells(
        self,
        row_ids: pl.Series,
        column: str,
        before: pl.Series,
        after: pl.Series,
        rule: str | pl.Series,
        reason: str | pl.Series = "",
        mask: pl.Series | None = None,
    ) -> int:
        """Log every cell whose canonical text differs between ``before`` and ``after``."""
        diff = as_text(before).ne_missing(as_text(after))
        if mask is not None:
            diff = diff & mask
        n = int(diff.sum())
        if n == 0:
            return 0
        frame = pl.DataFrame(
            {
                ROW_ID: row_ids.filter(diff).cast(pl.Int64),
                "rule": _broadcast(rule, diff),
                "reason": _broadcast(reason, diff),
                "before": before.filter(diff),
                "after": after.filter(diff),
            }
        )
        self.parts.append(ChangeBlock(frame, ChangeKind.CELL, self.agent_id, column))
        return n

    def rows(
        self,
        kind: ChangeKind,
        rows: pl.DataFrame,
        rule: str | pl.Series,
        reason: str | pl.Series,
    ) -> int:
        """Log removed/quarantined rows; ``before`` is the whole row (a dict / JSON text)."""
        n = rows.height
        if n == 0:
            return 0
        everything = pl.repeat(True, n, dtype=pl.Boolean, eager=True)
        columns: dict[str, pl.Series] = {
            ROW_ID: rows[ROW_ID].cast(pl.Int64),
            "rule": _broadcast(rule, everything),
            "reason": _broadcast(reason, everything),
        }
        data = rows.drop(ROW_ID)
        if data.width:
            columns["before"] = data.to_struct("before")
        self.parts.append(ChangeBlock(pl.DataFrame(columns), kind, self.agent_id))
        return n

    def column(
        self, kind: ChangeKind, column: str, before: Any, after: Any, rule: str, reason: str
    ) -> None:
        self.parts.append(Change(kind, self.agent_id, rule, None, column, before, after, reason))

    def build(self) -> Changes:
        return Changes(self.parts)


def count_kind(changes: Sequence[Change], kind: ChangeKind) -> int:
    if not isinstance(changes, Changes):
        return sum(1 for c in changes if c.kind == kind)
    n = 0
    for p in changes.parts:
        if isinstance(p, ChangeBlock):
            n += len(p) if p.kind == kind else 0
        else:
            n += sum(1 for c in p if c.kind == kind)
    return n


def _text_or_none(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, dict):
        import json

        return json.dumps(v, default=str)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _block_text(block: ChangeBlock) -> pl.DataFrame:
    """A block as text columns of ``CHANGE_SCHEMA`` (before/after: the canonical text; a
    removed row: its JSON)."""
    f = block.frame
    n = f.height
    if "after" in f.columns:
        before, after = as_text(f["before"]), as_text(f["after"])
        column = block.column
    else:
        before = (
            f.select(pl.col("before").struct.json_encode()).to_series()
            if "before" in f.columns
            else pl.repeat("{}", n, dtype=pl.String, eager=True)
        )
        after = pl.repeat(None, n, dtype=pl.String, eager=True)
        column = None
    return pl.DataFrame(
        {
            "agent_id": pl.repeat(block.agent_id, n, dtype=pl.String, eager=True),
            "kind": pl.repeat(block.kind.value, n, dtype=pl.String, eager=True),
            "rule": f["rule"],
            "row_id": f[ROW_ID],
            "column": pl.repeat(column, n, dtype=pl.String, eager=True),
            "before": before,
            "after": after,
            "reason": f["reason"],
        },
        schema=CHANGE_SCHEMA,
    )


def _objects_text(changes: Iterable[Change]) -> pl.DataFrame:
    changes = list(changes)
    return pl.DataFrame(
        {
            "agent_id": [c.agent_id for c in changes],
            "kind": [str(c.kind) for c in changes],
            "rule": [c.rule for c in changes],
            "row_id": [c.row_id for c in changes],
            "column": [c.column for c in changes],
            "before": [_text_or_none(c.before) for c in changes],
            "after": [_text_or_none(c.after) for c in changes],
            "reason": [c.reason for c in changes],
        },
        schema=CHANGE_SCHEMA,
    )


def change_frame(changes: Sequence[Change]) -> pl.DataFrame:
    """The change log of one result as a frame of text (``CHANGE_SCHEMA``): a cell's before
    and after as their canonical text, a removed row as JSON. ``Changes`` blocks are rendered
    by polars, without building ``Change`` objects."""
    if not isinstance(changes, Changes):
        return _objects_text(changes)
    parts = [
        _block_text(p) if isinstance(p, ChangeBlock) else _objects_text(p) for p in changes.parts
    ]
    if not parts:
        return pl.DataFrame(schema=CHANGE_SCHEMA)
    return pl.concat(parts, how="vertical")


# ----------------------------------------------------------------------------- columns


def data_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c in frame.columns if c != ROW_ID]


def text_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c, t in frame.schema.items() if c != ROW_ID and t == pl.String]


def resolve_all(ctx: AgentContext, columns: Iterable[str], frame: pl.DataFrame) -> list[str]:
    return [ctx.resolve(c, frame) for c in columns]


_ID_NAME = re.compile(
    r"(^|[_\s.-])(id|uuid|guid|key|code|sku|ssn|number|no|num)$|^id[_\s.-]|[a-z]Id$|^id$",
    re.IGNORECASE,
)
_YEAR_NAME = re.compile(r"(^|[_\s.-])(year|yr|yyyy)$|^year", re.IGNORECASE)
EMAIL_RE = r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"


def is_id_like(name: str, s: pl.Series | None = None) -> bool:
    """An identifier: by name (``id``, ``customer_id``, ``customerId``, ``sku``...), or an
    integer column whose values are all distinct and form a consecutive run."""
    if _ID_NAME.search(name):
        return True
    if s is None or not s.dtype.is_integer():
        return False
    nn = s.drop_nulls()
    if nn.len() < 3 or nn.n_unique() != nn.len():
        return False
    lo, hi = nn.min(), nn.max()
    return isinstance(lo, int) and isinstance(hi, int) and hi - lo + 1 == nn.len()


def is_year_like(name: str, s: pl.Series | None = None) -> bool:
    """A year: by name, or whole numbers that all lie in 1900..2100."""
    if _YEAR_NAME.search(name):
        return True
    if s is None or not s.dtype.is_numeric():
        return False
    nn = s.drop_nulls()
    if nn.len() == 0:
        return False
    if s.dtype.is_float() and not bool((nn == nn.round(0)).all()):
        return False
    lo, hi = nn.min(), nn.max()
    return isinstance(lo, int | float) and isinstance(hi, int | float) and 1900 <= lo <= hi <= 2100


def is_email_like(name: str, s: pl.Series) -> bool:
    if "mail" in name.lower():
        return True
    if s.dtype != pl.String:
        return False
    nn = s.drop_nulls()
    if nn.len() == 0:
        return False
    share = nn.str.strip_chars().str.contains(EMAIL_RE).mean()
    return isinstance(share, float) and share >= 0.5


def missing_expr(
    name: str, dtype: Any, tokens: Iterable[str] = DEFAULT_NULL_PLACEHOLDERS
) -> pl.Expr:
    """``missing_mask`` as an expression (to evaluate many columns in one query)."""
    if dtype != pl.String:
        return pl.col(name).is_null()
    toks = sorted({t.strip().lower() for t in tokens} | {""})
    return pl.col(name).is_null() | pl.col(name).str.strip_chars().str.to_lowercase().is_in(toks)


def missing_mask(s: pl.Series, tokens: Iterable[str] = DEFAULT_NULL_PLACEHOLDERS) -> pl.Series:
    """True where the value is null, blank, or a placeholder token (trimmed, case-insensitive)."""
    if s.dtype != pl.String:
        return s.is_null()
    toks = sorted({t.strip().lower() for t in tokens} | {""})
    return s.is_null() | s.str.strip_chars().str.to_lowercase().is_in(toks)


def row_issues(
    row_ids: pl.Series,
    values: pl.Series,
    column: str | None,
    issue_type: str,
    severity: str,
    message: str | pl.Series,
) -> list[RowIssue]:
    n = row_ids.len()
    msgs = message.to_list() if isinstance(message, pl.Series) else repeat(message, n)
    return list(
        map(
            RowIssue,
            row_ids.to_list(),
            repeat(column, n),
            repeat(issue_type, n),
            repeat(severity, n),
            values.to_list(),
            msgs,
        )
    )


# ----------------------------------------------------------------------------- parsing

#: A number as people type it: sign, optional currency symbol, thousands separators.
NUMBER_RE = r"^[+-]?[$€£¥]?\s?[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][+-]?\d+)?$"
_LEADING_ZERO_RE = r"^[+-]?0\d"
BOOL_TRUE = ("true", "yes", "y", "t")
BOOL_FALSE = ("false", "no", "n", "f")

YMD_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d")
DMY_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y")
MDY_FORMATS = ("%m/%d/%Y", "%m-%d-%Y", "%m.%d.%Y")
TEXT_DATE_FORMATS = (
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
    "%B %d %Y",
    "%d-%b-%Y",
)
DATETIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
)
#: Something shaped like a date (cheap test before trying every format).
DATE_SHAPE_RE = (
    r"\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}|\d{1,2}\s+[A-Za-z]{3,}\.?\s+\d{4}"
    r"|[A-Za-z]{3,}\.?\s+\d{1,2},?\s+\d{4}|\d{1,2}-[A-Za-z]{3}-\d{4}"
)
_NUMERIC_DATE_RE = r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$"


def parse_numbers(s: pl.Series) -> tuple[pl.Series, bool, bool]:
    """Parse text as numbers. Returns (Float64 values, null where not a number; all parsed
    values are whole numbers written without a decimal point; some value has a leading zero)."""
    t = s.str.strip_chars()
    ok = t.str.contains(NUMBER_RE)
    cleaned = t.str.replace_all(r"[$€£¥,\s]", "")
    vals = pl.select(pl.when(ok).then(cleaned).otherwise(None)).to_series()
    num = vals.cast(pl.Float64, strict=False)
    integral = not bool(vals.drop_nulls().str.contains(r"[.eE]").any())
    leading_zero = bool(vals.drop_nulls().str.contains(_LEADING_ZERO_RE).any())
    return num, integral, leading_zero


def parse_bool(s: pl.Series) -> pl.Series:
    t = s.str.strip_chars().str.to_lowercase()
    return (
        pl.select(
            pl.when(t.is_in(BOOL_TRUE))
            .then(True)
            .when(t.is_in(BOOL_FALSE))
            .then(False)
            .otherwise(None)
        )
        .to_series()
        .cast(pl.Boolean)
    )


def detect_day_first(s: pl.Series) -> bool | None:
    """Day/month order from values like ``31/01/2024``: True (day first), False (month first)
    or None (no value decides it, or the values contradict each other)."""
    t = s.drop_nulls().str.strip_chars()
    parts = t.str.extract_groups(_NUMERIC_DATE_RE)
    a = parts.struct.field("1").cast(pl.Int32, strict=False)
    b = parts.struct.field("2").cast(pl.Int32, strict=False)
    a_big = bool((a > 12).any())
    b_big = bool((b > 12).any())
    if a_big and not b_big:
        return True
    if b_big and not a_big:
        return False
    return None


def _parse_formats(
    s: pl.Series, dtype: Any, formats: Sequence[str], present: pl.Series | None
) -> pl.Series:
    """Each value parsed with the first format that fits; formats are tried in order and the
    loop stops once every present value has parsed (most columns need one or two formats)."""
    t = s.str.strip_chars()
    want = t.is_not_null() if present is None else (present & t.is_not_null())
    out: pl.Series | None = None
    for f in formats:
        # later formats only see the values no earlier format parsed (same result, less work)
        todo = t if out is None else t.zip_with(out.is_null(), pl.Series([None], dtype=pl.String))
        parsed = todo.str.strptime(dtype, f, strict=False)
        out = parsed if out is None else out.fill_null(parsed)
        if not bool((out.is_null() & want).any()):
            break
    if out is None:
        return pl.Series(s.name, [None] * s.len(), dtype=dtype)
    return out.alias(s.name)


def parse_dates(s: pl.Series, day_first: bool, present: pl.Series | None = None) -> pl.Series:
    """Parse text as dates trying ISO, the numeric order given, then month-name formats."""
    ordered = (*YMD_FORMATS, *(DMY_FORMATS if day_first else MDY_FORMATS), *TEXT_DATE_FORMATS)
    return _parse_formats(s, pl.Date, ordered, present)


def parse_datetimes(s: pl.Series, present: pl.Series | None = None) -> pl.Series:
    if not bool(s.str.contains(":").any()):
        return pl.Series(s.name, [None] * s.len(), dtype=pl.Datetime("us"))
    return _parse_formats(s, pl.Datetime("us"), DATETIME_FORMATS, present)
