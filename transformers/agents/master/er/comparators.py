"""Field comparators: each turns the values of candidate pairs into discrete agreement levels.

Level ``-1`` means "no information" (either side missing): a null never agrees with a null.
Level ``0`` is disagreement; higher levels are closer agreement, the top level is exact
agreement after normalisation. Fuzzy scores come from rapidfuzz's vectorised ``cpdist`` so
millions of pairs cost seconds, not minutes.

At scale the pairs are compared on dictionary codes (:func:`encode`, :func:`compare_encoded`):
each column's distinct values get an integer code once, exact agreement and missingness are
integer tests, and the fuzzy scorer runs once per *distinct* value pair of a chunk, not once
per row pair (a given name or a city has few distinct values, so most pairs repeat a pair of
values already scored). No per-pair Python strings are built, which is also what bounds memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
            sim = _address_similarity(a, b, -1)
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


#: columns with at most this many distinct values keep a table of every value pair scored so
#: far (int8, size^2 bytes), so a value pair is scored once per run, not once per batch
DEDUPE_MAX_VALUES = 4096


@dataclass
class Encoded:
    """A normalised column as dictionary codes: ``codes`` per row (-1 missing) into ``values``
    (the sorted distinct values); numeric columns keep their float values per row instead."""

    codes: np.ndarray
    values: pl.Series
    numeric: np.ndarray | None = None
    #: levels of value pairs already scored (-2: not yet), for small dictionaries
    scored: np.ndarray | None = field(default=None, repr=False)
    #: the distinct values as Python strings, built on the first fuzzy comparison (the fuzzy
    #: scorers take Python strings; the exact-only kinds never need them)
    _objects: np.ndarray | None = field(default=None, repr=False)
    _tokens: np.ndarray | None = field(default=None, repr=False)
    #: per distinct date: year, month and day codes and whether it has 8 digits
    _date_parts: np.ndarray | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return int(self.values.len())

    def objects(self) -> np.ndarray:
        if self._objects is None:
            obj = np.empty(self.size, dtype=object)
            obj[:] = self.values.to_list()
            self._objects = obj
        return self._objects

    def sorted_tokens(self) -> np.ndarray:
        """Each distinct value with its whitespace-separated tokens sorted."""
        if self._tokens is None:
            obj = np.empty(self.size, dtype=object)
            obj[:] = [" ".join(sorted(v.split())) for v in self.values.to_list()]
            self._tokens = obj
        return self._tokens


def encode(series: pl.Series, kind: str) -> Encoded:
    """Dictionary-encode a column already in comparable form (see :func:`normalise`)."""
    if kind == "numeric":
        x = series.cast(pl.Float64, strict=False).to_numpy().astype(np.float64)
        codes = np.where(np.isnan(x), -1, 0).astype(np.int32)
        return Encoded(codes, pl.Series([], dtype=pl.String), x)
    codes, values = dictionary_codes(series)
    return Encoded(codes, values)


def dictionary_codes(series: pl.Series) -> tuple[np.ndarray, pl.Series]:
    """Per row, the position (int32, -1 missing) of its value among the sorted distinct
    values, and those values: one hash pass and a sort of the distinct values only."""
    s = series.cast(pl.String)
    values = s.drop_nulls().unique().sort()
    codes = s.cast(pl.Enum(values)).to_physical().cast(pl.Int32).fill_null(-1).to_numpy()
    return np.asarray(codes, dtype=np.int32), values


def _address_similarity(a: Any, b: Any, workers: int) -> np.ndarray:
    """The better of token-sort (words reordered) and plain edit similarity (a typo that
    merges or splits a word, "12 romanaroad", reorders the sorted tokens)."""
    tokens = process.cpdist(a, b, scorer=fuzz.token_sort_ratio, workers=workers)
    plain = process.cpdist(a, b, scorer=fuzz.ratio, workers=workers)
    return np.asarray(np.maximum(tokens, plain))


def _fuzzy_levels(kind: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Levels for value pairs that differ and are both present (object arrays of str)."""
    out = np.zeros(a.size, dtype=np.int8)
    if kind in ("name", "address", "identifier"):
        la, lb = a, b
        if kind == "name":
            sim = process.cpdist(la, lb, scorer=JaroWinkler.normalized_similarity, workers=1)
            out[sim >= 0.8] = 1
            out[sim >= 0.92] = 2
        elif kind == "address":
            sim = _address_similarity(la, lb, workers=1)
            out[sim >= 70] = 1
            out[sim >= 88] = 2
        else:
            dist = process.cpdist(la, lb, scorer=OSA.distance, workers=1)
            out[dist <= 1] = 1
    elif kind == "date":
        dist = process.cpdist(a, b, scorer=OSA.distance, workers=1)
        frame = pl.DataFrame(
            {
                "a": pl.Series(a.tolist(), dtype=pl.String),
                "b": pl.Series(b.tolist(), dtype=pl.String),
            }
        )
        a_, b_ = pl.col("a"), pl.col("b")
        flags = frame.select(
            (a_.str.slice(0, 4) == b_.str.slice(0, 4)).fill_null(False).alias("year"),
            (
                (a_.str.len_chars() == 8)
                & (b_.str.len_chars() == 8)
                & (a_.str.slice(0, 4) == b_.str.slice(0, 4))
                & (a_.str.slice(4, 2) == b_.str.slice(6, 2))
                & (a_.str.slice(6, 2) == b_.str.slice(4, 2))
            )
            .fill_null(False)
            .alias("swap"),
        )
        out[flags["year"].to_numpy()] = 1
        out[(dist <= 1) | flags["swap"].to_numpy()] = 2
    return out


def _levels_of_codes(spec: FieldSpec, enc: Encoded, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Levels of differing value-code pairs, each distinct value pair scored once."""
    size = enc.size
    key = np.minimum(a, b).astype(np.int64) * size + np.maximum(a, b)  # scorers are symmetric
    if size <= DEDUPE_MAX_VALUES:
        if enc.scored is None:
            enc.scored = np.full(size * size, -2, dtype=np.int8)
        # distinct by sort + neighbour test (numpy's hash-based unique is several times slower)
        todo = np.sort(key[enc.scored[key] == -2])
        todo = todo[np.concatenate(([True], todo[1:] != todo[:-1]))] if todo.size else todo
        if todo.size:
            enc.scored[todo] = _score(spec, enc, todo // size, todo % size)
        return enc.scored[key]
    return _score(spec, enc, a, b)


def _score(spec: FieldSpec, enc: Encoded, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if spec.kind == "date":
        return _date_levels(enc, a, b)
    vals = enc.objects()
    if spec.kind == "address":
        # token-sort similarity is plain similarity of the token-sorted strings: sort each
        # distinct value's tokens once instead of once per pair
        toks = enc.sorted_tokens()
        tokens = process.cpdist(toks[a], toks[b], scorer=fuzz.ratio, workers=1)
        plain = process.cpdist(vals[a], vals[b], scorer=fuzz.ratio, workers=1)
        sim = np.maximum(tokens, plain)
        out = np.zeros(a.size, dtype=np.int8)
        out[sim >= 70] = 1
        out[sim >= 88] = 2
        return out
    return _fuzzy_levels(spec.kind, vals[a], vals[b])


def _date_levels(enc: Encoded, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The date levels of :func:`_fuzzy_levels` on value codes: year and day/month-swap tests
    on per-value parts (computed once per distinct date), the edit distance per pair."""
    if enc._date_parts is None:
        v = enc.values
        parts = pl.DataFrame({"v": v}).select(
            pl.col("v").str.slice(0, 4).alias("year"),
            pl.col("v").str.slice(4, 2).alias("mm"),
            pl.col("v").str.slice(6, 2).alias("dd"),
            (pl.col("v").str.len_chars() == 8).alias("len8"),
        )
        year = dictionary_codes(parts["year"])[0]
        two = pl.concat([parts["mm"], parts["dd"]])
        two_codes = dictionary_codes(two)[0]
        mm, dd = two_codes[: v.len()], two_codes[v.len() :]
        enc._date_parts = np.stack([year, mm, dd, parts["len8"].to_numpy().astype(np.int32)])
    year, mm, dd, len8 = enc._date_parts
    vals = enc.objects()
    dist = process.cpdist(vals[a], vals[b], scorer=OSA.distance, workers=1)
    same_year = year[a] == year[b]
    swap = (len8[a] == 1) & (len8[b] == 1) & same_year & (mm[a] == dd[b]) & (dd[a] == mm[b])
    out = np.zeros(a.size, dtype=np.int8)
    out[same_year] = 1
    out[(dist <= 1) | swap] = 2
    return out


def compare_encoded(
    spec: FieldSpec, enc: Encoded, left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    """Agreement levels (int8, -1 = missing) of row pairs ``(left[i], right[i])``; the same
    levels as :func:`compare`, with the fuzzy scorer run once per distinct value pair."""
    n = len(left)
    out = np.zeros(n, dtype=np.int8)
    if n == 0:
        return out
    ca, cb = enc.codes[left], enc.codes[right]
    null = (ca < 0) | (cb < 0)
    if enc.numeric is not None:
        x, y = enc.numeric[left], enc.numeric[right]
        with np.errstate(invalid="ignore"):
            diff = np.abs(x - y)
            scale = np.maximum(np.abs(x), np.abs(y))
            out[diff <= 0.01 * scale] = 1
            out[diff == 0] = 2
        out[null] = -1
        return out
    eq = ca == cb
    top = spec.n_levels - 1
    out[eq] = top
    fuzzy = np.flatnonzero(~eq & ~null)
    if top > 1 and fuzzy.size:
        out[fuzzy] = _levels_of_codes(spec, enc, ca[fuzzy], cb[fuzzy])
    out[null] = -1
    return out


def similarity_of_level(spec: FieldSpec, levels: np.ndarray) -> np.ndarray:
    """Map levels to a similarity in [0, 1] (for the weighted scorer); NaN for missing."""
    sim = levels.astype(np.float64) / float(spec.n_levels - 1)
    sim[levels < 0] = np.nan
    return sim
