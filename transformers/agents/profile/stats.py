"""Shared helpers of the profile-my-data agents: column kinds, result building, moments.

Statistical definitions used by every profile agent (and checked against pandas/scipy in the
tests):

* quantiles use linear interpolation between order statistics (numpy's and pandas' default
  ``linear``): ``q(p) = x[floor(h)] + (h - floor(h)) * (x[floor(h)+1] - x[floor(h)])`` with
  ``h = (n - 1) * p`` on the sorted non-null values;
* ``std`` is the sample standard deviation (``ddof=1``);
* ``skew`` is the adjusted Fisher-Pearson coefficient ``G1 = g1 * sqrt(n(n-1)) / (n-2)`` (pandas'
  ``Series.skew``), ``kurtosis`` the bias-corrected excess kurtosis
  ``G2 = ((n+1) g2 + 6)(n-1) / ((n-2)(n-3))`` (pandas' ``Series.kurt``); both are computed from
  two-pass central moments and are 0 for a constant column, ``None`` below 3 / 4 values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import polars as pl

from transformers.contract import ROW_ID, AgentResult, AgentStatus

NUMERIC = "numeric"
STRING = "string"
TEMPORAL = "temporal"
BOOLEAN = "boolean"
NULL = "null"
OTHER = "other"

QUANTILES: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def data_columns(frame: pl.DataFrame) -> list[str]:
    """Every column except the row id."""
    return [c for c in frame.columns if c != ROW_ID]


def row_ids(frame: pl.DataFrame) -> pl.Series:
    if ROW_ID in frame.columns:
        return frame.get_column(ROW_ID)
    return pl.Series(ROW_ID, range(frame.height), dtype=pl.Int64)


def kind_of(dtype: pl.DataType) -> str:
    if dtype == pl.Null:
        return NULL
    if dtype == pl.Boolean:
        return BOOLEAN
    if dtype.is_numeric():
        return NUMERIC
    if dtype.is_temporal():
        return TEMPORAL
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum | pl.Categorical):
        return STRING
    return OTHER


def numeric_expr(name: str, dtype: pl.DataType, has_nan: bool = True) -> pl.Expr:
    """The column as Float64 with NaN treated as missing (as pandas does).

    ``has_nan=False`` (known from a cheap ``is_nan().any()``) skips the NaN replacement."""
    expr = pl.col(name)
    if dtype != pl.Float64:
        expr = expr.cast(pl.Float64)
    if dtype.is_float() and has_nan:
        expr = expr.fill_nan(None)
    return expr


def nan_columns(frame: pl.DataFrame, columns: list[str]) -> set[str]:
    """Float columns that contain at least one NaN."""
    schema = frame.schema
    floats = [c for c in columns if schema[c].is_float()]
    if not floats or frame.height == 0:
        return set()
    row = frame.select(pl.col(c).is_nan().any().alias(str(i)) for i, c in enumerate(floats))
    return {c for c, hit in zip(floats, row.row(0), strict=True) if hit}


def moments_exprs(x: pl.Expr, prefix: str) -> list[pl.Expr]:
    """Two-pass central moment sums (``sum(d^k)``, ``d = x - mean``) for k = 2, 3, 4."""
    d = x - x.mean()
    return [
        (d * d).sum().alias(f"{prefix}m2"),
        (d * d * d).sum().alias(f"{prefix}m3"),
        (d * d * d * d).sum().alias(f"{prefix}m4"),
    ]


def _zero_fp(v: float) -> float:
    # pandas' _zero_out_fperr: sums this small are floating-point noise of a constant column
    return 0.0 if abs(v) < 1e-14 else v


def skew_from_moments(n: int, m2: float | None, m3: float | None) -> float | None:
    if n < 3 or m2 is None or m3 is None:
        return None
    m2, m3 = _zero_fp(m2), _zero_fp(m3)
    if m2 == 0:
        return 0.0
    return (n * math.sqrt(n - 1) / (n - 2)) * (m3 / m2**1.5)


def kurtosis_from_moments(n: int, m2: float | None, m4: float | None) -> float | None:
    if n < 4 or m2 is None or m4 is None:
        return None
    m2, m4 = _zero_fp(m2), _zero_fp(m4)
    if m2 == 0:
        return 0.0
    # pandas nankurt, written in the same order of operations
    adj = 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))
    numerator = n * (n + 1) * (n - 1) * m4
    denominator = (n - 2) * (n - 3) * m2**2
    return numerator / denominator - adj


def finite(v: Any) -> float | None:
    """A float for JSON: None for missing, NaN and infinities."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def pct(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


class Ids:
    """Sequential, readable ids for alerts/issues/recommendations of one result."""

    def __init__(self, agent_prefix: str) -> None:
        self.prefix = agent_prefix
        self.counters: dict[str, int] = {}

    def next(self, kind: str) -> str:
        self.counters[kind] = self.counters.get(kind, 0) + 1
        return f"{self.prefix}-{kind}-{self.counters[kind]}"


def skipped(agent_id: str, code: str, message: str) -> AgentResult:
    return AgentResult(
        agent_id=agent_id, status=AgentStatus.SKIPPED, error_code=code, error=message
    )


_WORD_SPLIT = re.compile(r"[^0-9a-z]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def name_tokens(name: str) -> list[str]:
    """Words of a column name: ``customerEmail`` / ``customer_email`` -> [customer, email]."""
    return [t for t in _WORD_SPLIT.split(_CAMEL.sub(" ", name).lower()) if t]


def grade(score: float | None) -> str:
    """A >= 90, B >= 80, C >= 70, D >= 60, F below; N/A when there is nothing to score."""
    if score is None:
        return "N/A"
    for letter, floor in (("A", 90.0), ("B", 80.0), ("C", 70.0), ("D", 60.0)):
        if score >= floor:
            return letter
    return "F"


def chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
