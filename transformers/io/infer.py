"""Type inference for text columns, over the whole column, never nulling a value.

A text column becomes a typed column only when EVERY non-null value has that type's exact shape;
otherwise it stays text with the raw values (the type-fixer agent handles partial conversions
and reports what does not parse). Conversions are strict: if polars would null any value, the
column stays text.

Recognised on load: integers (Int64; not when any value has a leading zero, like ``00123``,
since that would lose the zeros of zip codes and ids), decimals and scientific notation
(Float64), ``true``/``false`` in any case (Boolean), ISO 8601 dates ``YYYY-MM-DD`` (Date) and
date-times ``YYYY-MM-DD[T ]HH:MM[:SS[.fff]]`` with an optional ``Z``/offset (Datetime).
Other date formats (``31/01/2024``) stay text: the day/month order is the type-fixer's call.
"""

from __future__ import annotations

import polars as pl

_INT = r"^[+-]?(0|[1-9][0-9]*)$"
_FLOAT = r"^[+-]?(0|[1-9][0-9]*)?(\.[0-9]*)?([eE][+-]?[0-9]+)?$"
_FLOAT_HAS_DIGIT = r"[0-9]"
_BOOL = r"^(?i)(true|false)$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DATETIME = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?$"
)
_SAMPLE = 1000


def _all_match(values: pl.Series, pattern: str) -> bool:
    return bool(values.str.contains(pattern).all())


def _convert(values: pl.Series) -> pl.Series | None:
    """``values``: the non-null values of one text column. The converted full column or None."""
    head = values.head(_SAMPLE)
    if _all_match(head, _INT) and _all_match(values, _INT):
        try:
            return values.cast(pl.Int64, strict=True)
        except pl.exceptions.PolarsError:
            pass  # beyond Int64: try as a decimal number below? No: keep the exact digits.
        return None
    if (
        _all_match(head, _FLOAT)
        and _all_match(head, _FLOAT_HAS_DIGIT)
        and _all_match(values, _FLOAT)
        and _all_match(values, _FLOAT_HAS_DIGIT)
    ):
        try:
            return values.cast(pl.Float64, strict=True)
        except pl.exceptions.PolarsError:
            return None
    if _all_match(head, _BOOL) and _all_match(values, _BOOL):
        return values.str.to_lowercase() == "true"
    if _all_match(head, _DATE) and _all_match(values, _DATE):
        try:
            return values.str.to_date("%Y-%m-%d", strict=True)
        except pl.exceptions.PolarsError:
            return None
    if _all_match(head, _DATETIME) and _all_match(values, _DATETIME):
        try:
            converted = values.str.to_datetime(strict=True, time_unit="us")
        except pl.exceptions.PolarsError:
            return None
        if converted.null_count() == 0:
            return converted
    return None


def infer_column(column: pl.Series) -> pl.Series:
    """Type one text column over all its values (see module doc); other dtypes pass through."""
    if column.dtype != pl.String:
        return column
    mask = column.is_not_null()
    values = column.filter(mask)
    if values.len() == 0:
        return column
    converted = _convert(values)
    if converted is None or converted.null_count():
        return column
    if values.len() == column.len():
        return converted.alias(column.name)
    # Scatter the converted values back among the nulls, keeping positions.
    full = pl.Series(column.name, [None] * column.len(), dtype=converted.dtype)
    return full.scatter(mask.arg_true(), converted)


def infer_types(frame: pl.DataFrame) -> pl.DataFrame:
    """Apply :func:`infer_column` to every text column."""
    columns = [infer_column(frame.get_column(name)) for name in frame.columns]
    return pl.DataFrame(columns) if columns else frame
