"""Helpers shared by the clean-my-data agents.

Change logs are built vectorised: an agent computes its new column (or the rows it drops), the
helpers diff it against the old one in polars and only the real differences are materialised as
``contract.Change`` objects. A cell counts as changed when its *canonical text* differs, i.e. the
value cast to text (``Int64 42`` and ``"42"`` are the same cell; ``"1,234"`` -> ``1234`` is a
change). ``ChangeList`` keeps the same log as a polars frame so that the writeback can write a
million-line ``change_log.csv`` without walking Python objects.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import repeat
from typing import Any

import polars as pl

from transformers.contract import ROW_ID, AgentContext, Change, ChangeKind, RowIssue
from transformers.params.clean import DEFAULT_NULL_PLACEHOLDERS

__all__ = [
    "CHANGE_SCHEMA",
    "ROW_ID",
    "ChangeBuilder",
    "ChangeList",
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


class ChangeList(list[Change]):
    """A list of ``Change`` that also carries the same entries as a polars frame (``frame``).

    The ``Change`` objects are created on first use: the chain itself (previewer, writeback,
    change-log file) only reads ``frame``, so a million-change run does not build a million
    Python objects unless something (a report, a checkpoint, a test) walks the list. Every
    way of reading the list (len, iteration, indexing, comparison, copying, pickling, C-level
    ``list(...)``/``json``, which iterate a list subclass) gives exactly the eager list; any
    change to it first materialises it.
    """

    frame: pl.DataFrame | None = None
    # class defaults: pickle fills a new instance's items before it sets its attributes
    _pending: list[Callable[[], Iterable[Change]]] | None = None
    _size: int = 0

    def __init__(
        self,
        items: Iterable[Change] = (),
        *,
        pending: list[Callable[[], Iterable[Change]]] | None = None,
        size: int = 0,
    ) -> None:
        super().__init__(items)
        self._pending = pending or None
        self._size = size

    def materialise(self) -> ChangeList:
        pending = self._pending
        if pending:
            self._pending = None
            with _gc_paused():
                for build in pending:
                    list.extend(self, build())
        return self

    # reading
    def __len__(self) -> int:
        return self._size if self._pending else list.__len__(self)

    def __iter__(self) -> Iterator[Change]:
        return list.__iter__(self.materialise())

    def __reversed__(self) -> Iterator[Change]:
        return list.__reversed__(self.materialise())

    def __getitem__(self, i: Any) -> Any:
        return list.__getitem__(self.materialise(), i)

    def __contains__(self, x: object) -> bool:
        return list.__contains__(self.materialise(), x)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ChangeList):
            other.materialise()
        return list.__eq__(self.materialise(), other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]

    def __lt__(self, other: list[Change]) -> bool:
        if isinstance(other, ChangeList):
            other.materialise()
        return list.__lt__(self.materialise(), other)

    def __le__(self, other: list[Change]) -> bool:
        return self == other or self < other

    def __gt__(self, other: list[Change]) -> bool:
        if isinstance(other, ChangeList):
            other.materialise()
        return list.__gt__(self.materialise(), other)

    def __ge__(self, other: list[Change]) -> bool:
        return self == other or self > other

    def __repr__(self) -> str:
        return list.__repr__(self.materialise())

    def __add__(self, other: Any) -> Any:
        if isinstance(other, ChangeList):
            other.materialise()
        return list.__add__(self.materialise(), other)

    def __radd__(self, other: Any) -> Any:
        return list(other) + list(self)

    def __mul__(self, n: Any) -> Any:
        return list.__mul__(self.materialise(), n)

    __rmul__ = __mul__

    def __reduce_ex__(self, protocol: Any) -> Any:
        self.materialise()
        return super().__reduce_ex__(protocol)

    def __sizeof__(self) -> int:
        return list.__sizeof__(self.materialise())

    def index(self, *args: Any) -> int:
        return list.index(self.materialise(), *args)

    def count(self, x: Any) -> int:
        return list.count(self.materialise(), x)

    def copy(self) -> list[Change]:
        return list.copy(self.materialise())

    # changing
    def __setitem__(self, i: Any, v: Any) -> None:
        list.__setitem__(self.materialise(), i, v)

    def __delitem__(self, i: Any) -> None:
        list.__delitem__(self.materialise(), i)

    def __iadd__(self, other: Any) -> ChangeList:  # type: ignore[override,misc]
        if isinstance(other, ChangeList):
            other.materialise()
        list.__iadd__(self.materialise(), other)
        return self

    def __imul__(self, n: Any) -> ChangeList:  # type: ignore[override,misc]
        list.__imul__(self.materialise(), n)
        return self

    def append(self, x: Change) -> None:
        list.append(self.materialise(), x)

    def extend(self, xs: Iterable[Change]) -> None:
        if isinstance(xs, ChangeList):
            xs.materialise()
        list.extend(self.materialise(), xs)

    def insert(self, i: Any, x: Change) -> None:
        list.insert(self.materialise(), i, x)

    def remove(self, x: Change) -> None:
        list.remove(self.materialise(), x)

    def pop(self, *args: Any) -> Change:
        return list.pop(self.materialise(), *args)

    def clear(self) -> None:
        self._pending = None
        list.clear(self)

    def sort(self, *args: Any, **kwargs: Any) -> None:
        list.sort(self.materialise(), *args, **kwargs)

    def reverse(self) -> None:
        list.reverse(self.materialise())


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Creating a million small objects triggers the cyclic GC over every live object again
    and again; nothing created here forms cycles, so pause it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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


def _cell_objects(
    agent_id: str,
    column: str,
    rids: pl.Series,
    before: pl.Series,
    after: pl.Series,
    rules: pl.Series,
    reasons: pl.Series,
) -> Callable[[], list[Change]]:
    def build() -> list[Change]:
        n = rids.len()
        return list(
            map(
                Change,
                repeat(ChangeKind.CELL, n),
                repeat(agent_id, n),
                rules.to_list(),
                rids.to_list(),
                repeat(column, n),
                before.to_list(),
                after.to_list(),
                reasons.to_list(),
            )
        )

    return build


def _row_objects(
    agent_id: str,
    kind: ChangeKind,
    rows: pl.DataFrame,
    rules: pl.Series,
    reasons: pl.Series,
) -> Callable[[], list[Change]]:
    def build() -> list[Change]:
        n = rows.height
        data = rows.drop(ROW_ID)
        dicts: list[Any] = data.to_dicts() if data.width else [{} for _ in range(n)]
        return list(
            map(
                Change,
                repeat(kind, n),
                repeat(agent_id, n),
                rules.to_list(),
                rows[ROW_ID].to_list(),
                repeat(None, n),
                dicts,
                repeat(None, n),
                reasons.to_list(),
            )
        )

    return build


class ChangeBuilder:
    """Collects one agent's changes; ``build()`` returns the ``ChangeList`` (its frame built
    now, its ``Change`` objects on first use)."""

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.pending: list[Callable[[], Iterable[Change]]] = []
        self.size = 0
        self.parts: list[pl.DataFrame] = []
        self._col_rows: list[dict[str, Any]] = []

    def _part(
        self,
        kind: str,
        n: int,
        rules: pl.Series,
        rids: pl.Series,
        column: str | None,
        before: pl.Series,
        after: pl.Series | None,
        reasons: pl.Series,
    ) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "agent_id": pl.repeat(self.agent_id, n, dtype=pl.String, eager=True),
                "kind": pl.repeat(kind, n, dtype=pl.String, eager=True),
                "rule": rules,
                "row_id": rids.cast(pl.Int64),
                "column": pl.repeat(column, n, dtype=pl.String, eager=True),
                "before": before,
                "after": (
                    pl.repeat(None, n, dtype=pl.String, eager=True) if after is None else after
                ),
                "reason": reasons,
            },
            schema=CHANGE_SCHEMA,
        )

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
        bt, at = as_text(before), as_text(after)
        diff = bt.ne_missing(at)
        if mask is not None:
            diff = diff & mask
        n = int(diff.sum())
        if n == 0:
            return 0
        self._flush()
        rids = row_ids.filter(diff)
        rules = _broadcast(rule, diff)
        reasons = _broadcast(reason, diff)
        self.pending.append(
            _cell_objects(
                self.agent_id,
                column,
                rids,
                before.filter(diff),
                after.filter(diff),
                rules,
                reasons,
            )
        )
        self.size += n
        self.parts.append(
            self._part(
                ChangeKind.CELL.value,
                n,
                rules,
                rids,
                column,
                bt.filter(diff),
                at.filter(diff),
                reasons,
            )
        )
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
        self._flush()
        everything = pl.repeat(True, n, dtype=pl.Boolean, eager=True)
        rules = _broadcast(rule, everything)
        reasons = _broadcast(reason, everything)
        data = rows.drop(ROW_ID)
        if data.width:
            encoded = data.select(pl.struct(pl.all()).struct.json_encode()).to_series()
        else:
            encoded = pl.repeat("{}", n, dtype=pl.String, eager=True)
        self.pending.append(_row_objects(self.agent_id, kind, rows, rules, reasons))
        self.size += n
        self.parts.append(
            self._part(kind.value, n, rules, rows[ROW_ID], None, encoded, None, reasons)
        )
        return n

    def column(
        self, kind: ChangeKind, column: str, before: Any, after: Any, rule: str, reason: str
    ) -> None:
        change = Change(kind, self.agent_id, rule, None, column, before, after, reason)
        self.pending.append(lambda: [change])
        self.size += 1
        self._col_rows.append(
            {
                "agent_id": self.agent_id,
                "kind": kind.value,
                "rule": rule,
                "row_id": None,
                "column": column,
                "before": None if before is None else str(before),
                "after": None if after is None else str(after),
                "reason": reason,
            }
        )

    def _flush(self) -> None:
        if self._col_rows:
            self.parts.append(pl.DataFrame(self._col_rows, schema=CHANGE_SCHEMA))
            self._col_rows = []

    def build(self) -> ChangeList:
        self._flush()
        out = ChangeList(pending=list(self.pending), size=self.size)
        out.frame = (
            pl.concat(self.parts, how="vertical")
            if self.parts
            else pl.DataFrame(schema=CHANGE_SCHEMA)
        )
        return out


def count_kind(changes: ChangeList, kind: ChangeKind) -> int:
    if changes.frame is not None:
        return int((changes.frame["kind"] == kind.value).sum())
    return sum(1 for c in changes if c.kind == kind)


def _text_or_none(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, dict):
        import json

        return json.dumps(v, default=str)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _has_full_frame(changes: ChangeList) -> bool:
    frame = changes.frame
    return frame is not None and frame.height == len(changes)


def change_frame(changes: Sequence[Change]) -> pl.DataFrame:
    """The change log of one result as a frame (fast path for ``ChangeList``)."""
    if isinstance(changes, ChangeList) and _has_full_frame(changes):
        assert changes.frame is not None
        return changes.frame
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
