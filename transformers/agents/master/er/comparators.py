"""Field comparators: each turns the values of candidate pairs into discrete agreement levels.

Level ``-1`` means "no information" (either side missing): a null never agrees with a null.
Level ``0`` is disagreement; higher levels are closer agreement, the top level is exact
agreement after normalisation. Fuzzy scores come from rapidfuzz's vectorised ``cpdist`` so
millions of pairs cost seconds, not minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, JaroWinkler

from transformers.agents.master._common import (
    ADDRESS_ROLES,
    CATEGORY_ROLES,
    IDENTIFIER_ROLES,
    NAME_ROLES,
    as_text,
)

KINDS = ("name", "address", "email", "phone", "identifier", "date", "numeric", "category")


@dataclass(frozen=True)
class FieldSpec:
    column: str
    kind: str

    @property
    def n_levels(self) -> int:
        return {
            "name": 4,
            "address": 4,
            "email": 2,
            "phone": 2,
            "identifier": 3,
            "date": 4,
            "numeric": 3,
            "category": 2,
        }[self.kind]


def kind_for(column: str, role: str | None, series: pl.Series) -> str:
    """Comparator kind by canonical role, else by the column's type and values."""
    if role in NAME_ROLES:
        return "name"
    if role in ADDRESS_ROLES:
        return "address"
    if role == "email":
        return "email"
    if role == "phone":
        return "phone"
    if role in IDENTIFIER_ROLES:
        return "identifier"
    if role == "date_of_birth":
        return "date"
    if role in CATEGORY_ROLES:
        return "category"
    dtype = series.dtype
    if dtype.is_temporal():
        return "date"
    if dtype == pl.Boolean:
        return "category"
    if dtype.is_numeric():
        return "numeric"
    non_null = series.drop_nulls()
    if non_null.len() == 0:
        return "category"
    if non_null.n_unique() <= 20 and non_null.len() > 100:
        return "category"
    mean_len = non_null.cast(pl.String).str.len_chars().mean()
    return "address" if mean_len is not None and float(mean_len) > 25 else "name"  # type: ignore[arg-type]


def normalise(series: pl.Series, kind: str) -> pl.Series:
    """The comparable form of a column (computed once per row, not once per pair)."""
    frame = pl.DataFrame({"v": series})
    text = as_text(pl.col("v"), series.dtype)
    if kind == "numeric":
        expr = pl.col("v").cast(pl.Float64, strict=False)
    elif kind == "name":
        expr = text.str.to_lowercase().str.replace_all(r"[^\p{L}\p{N} ]", "")
        expr = expr.str.replace_all(r"\s+", " ").str.strip_chars()
    elif kind in ("address", "category"):
        expr = text.str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    elif kind == "email":
        expr = text.str.to_lowercase()
    elif kind == "phone":
        digits = text.str.replace_all(r"\D", "")
        expr = pl.when(digits.str.len_chars() > 9).then(digits.str.slice(-9)).otherwise(digits)
    elif kind == "identifier":
        expr = text.str.to_lowercase().str.replace_all(r"[\s\-./]", "")
    elif kind == "date":
        if series.dtype.is_temporal():
            expr = pl.col("v").cast(pl.Date).dt.to_string("%Y%m%d")
        else:
            expr = text.str.replace_all(r"\D", "")
    else:
        expr = text
    out = frame.select(expr.alias(series.name)).to_series()
    if out.dtype == pl.String:
        out = pl.select(pl.when(out == "").then(None).otherwise(out)).to_series().alias(series.name)
    return out


def compare(spec: FieldSpec, left: pl.Series, right: pl.Series) -> np.ndarray:
    """Agreement levels (int8, -1 = missing) for aligned left/right normalised values."""
    n = left.len()
    out = np.zeros(n, dtype=np.int8)
    if n == 0:
        return out
    null = (left.is_null() | right.is_null()).to_numpy()
    if spec.kind == "numeric":
        x = left.to_numpy().astype(np.float64)
        y = right.to_numpy().astype(np.float64)
        with np.errstate(invalid="ignore"):
            diff = np.abs(x - y)
            scale = np.maximum(np.abs(x), np.abs(y))
            out[diff <= 0.01 * scale] = 1
            out[diff == 0] = 2
        out[null] = -1
        return out
    eq = (left == right).fill_null(False).to_numpy()
    top = spec.n_levels - 1
    out[eq] = top
    fuzzy = ~eq & ~null
    if top > 1 and fuzzy.any():
        idx = np.flatnonzero(fuzzy)
        mask = pl.Series(fuzzy)
        a = left.filter(mask).to_list()
        b = right.filter(mask).to_list()
        if spec.kind == "name":
            sim = process.cpdist(a, b, scorer=JaroWinkler.normalized_similarity, workers=-1)
            out[idx[sim >= 0.8]] = 1
            out[idx[sim >= 0.92]] = 2
        elif spec.kind == "address":
            sim = process.cpdist(a, b, scorer=fuzz.token_sort_ratio, workers=-1)
            out[idx[sim >= 70]] = 1
            out[idx[sim >= 88]] = 2
        elif spec.kind == "identifier":
            dist = process.cpdist(a, b, scorer=OSA.distance, workers=-1)
            out[idx[dist <= 1]] = 1
        elif spec.kind == "date":
            dist = process.cpdist(a, b, scorer=OSA.distance, workers=-1)
            la, rb = left.filter(mask), right.filter(mask)
            same_year = (la.str.slice(0, 4) == rb.str.slice(0, 4)).fill_null(False).to_numpy()
            swapped = (
                (
                    (la.str.len_chars() == 8)
                    & (la.str.slice(0, 4) == rb.str.slice(0, 4))
                    & (la.str.slice(4, 2) == rb.str.slice(6, 2))
                    & (la.str.slice(6, 2) == rb.str.slice(4, 2))
                )
                .fill_null(False)
                .to_numpy()
            )
            out[idx[same_year]] = 1
            out[idx[(dist <= 1) | swapped]] = 2
    out[null] = -1
    return out


def similarity_of_level(spec: FieldSpec, levels: np.ndarray) -> np.ndarray:
    """Map levels to a similarity in [0, 1] (for the weighted scorer); NaN for missing."""
    sim = levels.astype(np.float64) / float(spec.n_levels - 1)
    sim[levels < 0] = np.nan
    return sim
