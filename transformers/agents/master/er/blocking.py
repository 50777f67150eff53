"""Blocking: candidate pairs from several passes, so the comparison count stays near-linear.

A pass is a list of key expressions concatenated into one blocking key; rows sharing a key
are compared. Expressions: ``column``, ``metaphone(column)``, ``soundex(column)``,
``nysiis(column)``, ``first(column, n)``, ``last(column, n)``, ``year(column)``,
``digits(column)``, and the swap-proof ``min_initial(a, b)`` / ``max_initial(a, b)`` (the
smaller / larger of the two columns' first letters: records with given name and surname
swapped share both keys). A row whose key has a missing part is not blocked by that pass (missing
never agrees with missing). A block larger than ``max_block_size`` is not compared all-pairs:
it falls back to a sorted-neighbourhood window (``block_window``) inside the block, the rows
ordered by the whole record's text. That is a fixed budget of pairs per row per pass: a key
drawn from a fixed value set (a birth date, a postcode) makes blocks that grow with N, and
all-pairs inside them would grow the pairs per row with N. Sorted-neighbourhood passes sort
all rows by a key and compare each row with the next ``window - 1`` rows. The union of the
passes is deduplicated once, on one integer code per pair.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import jellyfish
import numpy as np
import polars as pl

from transformers.errors import InvalidParametersError

FUNCTIONS = (
    "exact",
    "metaphone",
    "soundex",
    "nysiis",
    "first",
    "last",
    "year",
    "digits",
    "min_initial",
    "max_initial",
)
PAIR_FUNCTIONS = ("min_initial", "max_initial")
_EXPR_RE = re.compile(
    r"^\s*(?:(\w+)\s*\(\s*([^,()]+?)\s*(?:,\s*(?:(\d+)|([^,()]*?[^\d\s,()][^,()]*?))\s*)?\)"
    r"|([^()]+?))\s*$"
)


@dataclass(frozen=True)
class KeyExpr:
    fn: str
    column: str
    arg: int | None = None
    column2: str | None = None  # second column of the pair functions

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,) if self.column2 is None else (self.column, self.column2)

    def __str__(self) -> str:
        if self.fn == "exact":
            return self.column
        if self.column2 is not None:
            return f"{self.fn}({self.column}, {self.column2})"
        return f"{self.fn}({self.column}{', ' + str(self.arg) if self.arg else ''})"


def parse_key(text: str) -> KeyExpr:
    m = _EXPR_RE.match(text)
    if not m:
        raise InvalidParametersError(f"golden-record-builder: bad blocking key '{text}'")
    if m.group(5) is not None:
        return KeyExpr("exact", m.group(5).strip())
    fn = m.group(1).lower()
    if fn not in FUNCTIONS:
        raise InvalidParametersError(
            f"golden-record-builder: unknown blocking function '{fn}' in '{text}'",
            details={"functions": list(FUNCTIONS)},
        )
    if (fn in PAIR_FUNCTIONS) != (m.group(4) is not None):
        raise InvalidParametersError(
            f"golden-record-builder: '{text}': {', '.join(PAIR_FUNCTIONS)} take two columns, "
            "the other functions one column and an optional length"
        )
    if m.group(4) is not None:
        return KeyExpr(fn, m.group(2).strip(), None, m.group(4).strip())
    arg = int(m.group(3)) if m.group(3) else None
    if fn in ("first", "last") and arg is None:
        arg = 1
    return KeyExpr(fn, m.group(2).strip(), arg)


def _phonetic(series: pl.Series, fn: str) -> pl.Series:
    algo = {"metaphone": jellyfish.metaphone, "soundex": jellyfish.soundex}.get(
        fn, jellyfish.nysiis
    )
    uniques = series.drop_nulls().unique()
    codes = [algo(v) if v else None for v in uniques.to_list()]
    mapping = pl.DataFrame(
        {"v": uniques, "code": pl.Series(codes, dtype=pl.String)},
    )
    out = pl.DataFrame({"v": series}).join(mapping, on="v", how="left", maintain_order="left")
    return out["code"]


def key_series(text: pl.Series, key: KeyExpr, other: pl.Series | None = None) -> pl.Series:
    """One key expression over a column already in comparable text form (``other``: the
    second column of a pair function)."""
    s = text.cast(pl.String)
    if key.fn in PAIR_FUNCTIONS:
        assert other is not None
        a, b = s.str.slice(0, 1), other.cast(pl.String).str.slice(0, 1)
        pick = pl.min_horizontal if key.fn == "min_initial" else pl.max_horizontal
        out = pl.select(pick(a, b)).to_series()  # one side missing: the other's initial
    elif key.fn == "exact":
        out = s
    elif key.fn in ("metaphone", "soundex", "nysiis"):
        letters = pl.select(s.str.replace_all(r"[^\p{L}]", "")).to_series()
        out = _phonetic(letters, key.fn)
    elif key.fn == "first":
        out = s.str.slice(0, key.arg or 1)
    elif key.fn == "last":
        out = s.str.slice(-(key.arg or 1))
    elif key.fn == "year":
        out = s.str.replace_all(r"\D", "").str.slice(0, 4)
    else:  # digits
        out = s.str.replace_all(r"\D", "")
    return pl.select(pl.when(out == "").then(None).otherwise(out)).to_series()


def _window_pairs(idx: np.ndarray, group: np.ndarray | None, window: int) -> list[np.ndarray]:
    pairs: list[np.ndarray] = []
    for w in range(1, max(window, 2)):
        if idx.size <= w:
            break
        a, b = idx[:-w], idx[w:]
        if group is not None:
            keep = group[:-w] == group[w:]
            a, b = a[keep], b[keep]
        pairs.append(np.stack([a, b], axis=1))
    return pairs


def dense_rank(series: pl.Series) -> np.ndarray:
    """Dense rank (0-based, int64) of each value; missing values rank last."""
    ranked = series.rank("dense").cast(pl.Int64).fill_null(series.len() + 1)
    return np.asarray(ranked.to_numpy(), dtype=np.int64)


def block_pairs(
    key: pl.Series,
    max_block_size: int,
    window: int,
    tiebreak: np.ndarray | None = None,
) -> np.ndarray:
    """Pairs (k x 2, int64 row positions) of rows sharing a non-missing key, with a fixed
    budget per row: the rows of a block are ordered by ``tiebreak`` (a rank, e.g. of the
    whole record's text) and each row is compared with the next ``window - 1`` rows of its
    block; a block of at most ``max_block_size`` rows is compared all-pairs. However large
    the blocks grow with N, a row takes part in at most ``max(window, max_block_size) - 1``
    pairs as the left side, so the pairs per row stay bounded.

    Blocks are found by hashing the key (no string sort), then one integer sort orders the
    rows by (block, tiebreak).
    """
    valid = ~np.asarray(key.is_null().to_numpy(), dtype=bool)
    idx = np.flatnonzero(valid)
    if idx.size < 2:
        return np.empty((0, 2), dtype=np.int64)
    hashed = np.asarray(key.filter(pl.Series(valid)).hash(seed=0x5EED).to_numpy())
    _uniq, group, sizes = np.unique(hashed, return_inverse=True, return_counts=True)
    group = group.reshape(-1).astype(np.int64)
    multi = sizes[group] > 1
    idx, group = idx[multi], group[multi]
    if idx.size < 2:
        return np.empty((0, 2), dtype=np.int64)
    tb = tiebreak[idx] if tiebreak is not None else idx.astype(np.int64)
    order = np.lexsort((idx, tb, group))
    idx, group = idx[order], group[order]
    reach = np.where(sizes[group] <= max_block_size, max_block_size, window)
    parts: list[np.ndarray] = []
    for d in range(1, int(max(window, max_block_size))):
        if idx.size <= d:
            break
        keep = (group[:-d] == group[d:]) & (reach[:-d] > d)
        if not keep.any():
            break
        parts.append(np.stack([idx[:-d][keep], idx[d:][keep]], axis=1))
    return np.concatenate(parts) if parts else np.empty((0, 2), dtype=np.int64)


def sorted_neighbourhood(sort_key: pl.Series, window: int) -> np.ndarray:
    n = sort_key.len()
    df = pl.DataFrame({"idx": np.arange(n, dtype=np.int64), "key": sort_key})
    df = df.filter(pl.col("key").is_not_null()).sort("key")
    parts = _window_pairs(df["idx"].to_numpy(), None, window)
    return np.concatenate(parts) if parts else np.empty((0, 2), dtype=np.int64)


@dataclass
class BlockingResult:
    left: np.ndarray
    right: np.ndarray
    per_pass: dict[str, int] = field(default_factory=dict)


def unique_pairs(parts: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Union of pair sets, each pair once with left < right."""
    if not parts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    allp = np.concatenate(parts).astype(np.int64)
    lo = np.minimum(allp[:, 0], allp[:, 1])
    hi = np.maximum(allp[:, 0], allp[:, 1])
    keep = lo != hi
    code = lo[keep] * n + hi[keep]
    code.sort()  # sort + neighbour test: several times faster than np.unique's hash path
    if code.size:
        code = code[np.concatenate(([True], code[1:] != code[:-1]))]
    return code // n, code % n


def candidate_pairs(
    texts: dict[str, pl.Series],
    passes: list[list[KeyExpr]],
    sn_keys: list[list[str]],
    window: int,
    max_block_size: int,
    n: int,
    block_window: int | None = None,
) -> BlockingResult:
    """Run every blocking and sorted-neighbourhood pass and return the union of their pairs
    (``block_window``: the window inside blocks larger than ``max_block_size``; default
    ``window``)."""
    block_window = window if block_window is None else block_window
    parts: list[np.ndarray] = []
    per_pass: dict[str, int] = {}
    tiebreak = dense_rank(_concat([texts[c] for c in texts])) if texts and passes else None
    for keys in passes:
        series = [
            key_series(texts[k.column], k, texts[k.column2] if k.column2 else None) for k in keys
        ]
        key = _concat(series, strict=True)
        pairs = block_pairs(key, max_block_size, block_window, tiebreak)
        per_pass[" + ".join(str(k) for k in keys)] = int(pairs.shape[0])
        parts.append(pairs)
    for cols in sn_keys:
        key = _concat([texts[c] for c in cols])
        pairs = sorted_neighbourhood(key, window)
        per_pass["sorted_neighbourhood(" + ", ".join(cols) + ")"] = int(pairs.shape[0])
        parts.append(pairs)
    left, right = unique_pairs(parts, n)
    return BlockingResult(left, right, per_pass)


def _concat(series: list[pl.Series], strict: bool = False) -> pl.Series:
    """Join key parts with a separator; strict: missing if any part is missing."""
    frame = pl.DataFrame({f"k{i}": s.cast(pl.String) for i, s in enumerate(series)})
    cols = [pl.col(c) for c in frame.columns]
    if strict:
        expr = pl.concat_str(cols, separator="|")
    else:
        expr = pl.concat_str([c.fill_null("") for c in cols], separator=" ").str.strip_chars()
        expr = pl.when(expr == "").then(None).otherwise(expr)
    return frame.select(expr.alias("key")).to_series()
