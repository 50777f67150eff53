"""Blocking: candidate pairs from several passes, with the same number of pairs per row at
every input size, generated on integer row positions in bounded-memory batches.

A pass is a list of key expressions concatenated into one blocking key. Expressions:
``column``, ``metaphone(column)``, ``soundex(column)``, ``nysiis(column)``, ``first(column,
n)``, ``last(column, n)``, ``year(column)``, ``digits(column)``, and the swap-proof
``min_initial(a, b)`` / ``max_initial(a, b)`` (the smaller / larger of the two columns' first
letters: records with given name and surname swapped share both keys). A row whose key has a
missing part is not blocked by that pass (missing never agrees with missing).

Why pairs per row stay flat. A key drawn from a fixed value set (a postcode and an initial, a
birth date and an initial) makes blocks whose size grows with N; comparing all pairs inside
them grows the pairs per row with N, and even a window inside each block does (a block of s
rows gives ``(w - 1) - w(w - 1) / 2s`` pairs per row, so the count climbs while the blocks
fill up: 14.6 -> 16.2 -> 17.7 per row from 250k to 1M rows). So a pass of a *derived or
composite* key is a sorted neighbourhood on its key: the rows are ordered by (key, whole
record) and each row is compared with the next ``block_window - 1`` rows, whatever their
blocks: exactly ``block_window - 1`` pairs per blocked row at any N, the rows of one block
adjacent, the neighbouring blocks (keys sharing a prefix) next to them. A pass of a single
*exact* column (an identifier: email, phone, national id) keeps blocks: its values are
(nearly) unique, so a neighbourhood would only add strangers; a block of at most
``max_block_size`` rows is compared all-pairs, a larger one with the ``block_window`` inside
it. Sorted-neighbourhood passes (``sorted_neighbourhood``) order all rows by their columns and
compare each row with the next ``window - 1`` rows.

How. Every key is computed on the columns' dictionaries (each distinct value once, then
gathered by integer code), and a composite key is an integer combination of its parts' codes:
no per-row strings are built. Pairs are integer row positions; each window offset is emitted
on its own and spilled to disk in parts (by the smaller row position), so the union of the
passes is deduplicated one part at a time (:class:`PairSpill`) and handed on in batches
sorted by (left, right).
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jellyfish
import numpy as np
import polars as pl

from transformers.agents.master.er.comparators import dictionary_codes
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
#: pairs per spilled part before deduplication: bounds the memory of one batch (16 bytes a
#: pair while it is deduplicated, ~25 once compared)
BATCH_PAIRS = 1 << 22


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


def is_block_pass(keys: list[KeyExpr]) -> bool:
    """A single exact column keeps block semantics; any other key is a neighbourhood."""
    return len(keys) == 1 and keys[0].fn == "exact"


@dataclass
class Dictionary:
    """A column in comparable text form as integer codes (-1 missing) into its sorted distinct
    values: what every key is computed from."""

    codes: np.ndarray  # int32 per row
    values: pl.Series  # String, sorted, distinct, no nulls

    @classmethod
    def of(cls, text: pl.Series) -> Dictionary:
        s = text.cast(pl.String)
        s = pl.select(pl.when(s == "").then(None).otherwise(s)).to_series()
        return cls(*dictionary_codes(s))


def _phonetic(values: pl.Series, fn: str) -> pl.Series:
    algo = {"metaphone": jellyfish.metaphone, "soundex": jellyfish.soundex}.get(
        fn, jellyfish.nysiis
    )
    letters = pl.select(values.str.replace_all(r"[^\p{L}]", "")).to_series()
    return pl.Series([algo(v) if v else None for v in letters.to_list()], dtype=pl.String)


def key_series(text: pl.Series, key: KeyExpr) -> pl.Series:
    """One single-column key expression over values already in comparable text form."""
    s = text.cast(pl.String)
    if key.fn == "exact":
        out = s
    elif key.fn in ("metaphone", "soundex", "nysiis"):
        out = _phonetic(s, key.fn)
    elif key.fn == "first":
        out = s.str.slice(0, key.arg or 1)
    elif key.fn == "last":
        out = s.str.slice(-(key.arg or 1))
    elif key.fn == "year":
        out = s.str.replace_all(r"\D", "").str.slice(0, 4)
    else:  # digits
        out = s.str.replace_all(r"\D", "")
    return pl.select(pl.when(out == "").then(None).otherwise(out)).to_series()


def _ranked(values: pl.Series) -> tuple[np.ndarray, pl.Series]:
    """Dense rank (0-based, -1 missing) of each value, and the sorted distinct values."""
    ranks = (values.rank("dense").cast(pl.Int64) - 1).fill_null(-1).to_numpy()
    return np.asarray(ranks, dtype=np.int64), values.drop_nulls().unique().sort()


def _gather(codes: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``table[codes]`` per row, -1 where the row's code is -1."""
    out = np.full(codes.shape[0], -1, dtype=np.int64)
    ok = codes >= 0
    out[ok] = table[codes[ok]]
    return out


def part_codes(key: KeyExpr, dicts: dict[str, Dictionary]) -> np.ndarray:
    """Per row, the code of one key expression (-1 missing), ordered as the key's text."""
    d = dicts[key.column]
    if key.fn in PAIR_FUNCTIONS:
        assert key.column2 is not None
        d2 = dicts[key.column2]
        i1, i2 = d.values.str.slice(0, 1), d2.values.str.slice(0, 1)
        letters = pl.concat([i1, i2]).unique().sort()
        r1 = np.searchsorted(letters.to_numpy(), i1.to_numpy()).astype(np.int64)
        r2 = np.searchsorted(letters.to_numpy(), i2.to_numpy()).astype(np.int64)
        a, b = _gather(d.codes, r1), _gather(d2.codes, r2)
        big = np.int64(1 << 62)
        a_, b_ = np.where(a < 0, big, a), np.where(b < 0, big, b)
        if key.fn == "min_initial":  # one side missing: the other's initial
            out = np.minimum(a_, b_)
        else:
            out = np.where(a < 0, b, np.where(b < 0, a, np.maximum(a, b)))
        return np.where(out == big, -1, out).astype(np.int64)
    table, _ = _ranked(key_series(d.values, key))
    return _gather(d.codes, table)


def combine(parts: list[np.ndarray]) -> np.ndarray:
    """One integer key from several part codes, ordered as the parts' tuple (-1 if any part
    is missing); re-ranked densely whenever the mixed radix would overflow."""
    out = parts[0].astype(np.int64, copy=True)
    for p in parts[1:]:
        miss = (out < 0) | (p < 0)
        radix = int(p.max()) + 1 if p.size else 1
        top = int(out.max()) + 1 if out.size else 1
        if top * radix >= 1 << 62:
            out = _dense(out)
            top = int(out.max()) + 1
        out = out * radix + np.where(p < 0, 0, p)
        out[miss] = -1
    return out


def _dense(codes: np.ndarray) -> np.ndarray:
    out = np.full(codes.shape[0], -1, dtype=np.int64)
    ok = codes >= 0
    out[ok] = np.unique(codes[ok], return_inverse=True)[1].reshape(-1)
    return out


def _order(*keys: np.ndarray) -> np.ndarray:
    """Positions sorting by the keys, the first most significant (the last key must make
    every row distinct, so the order is unique): the keys folded into one int64 (re-ranked
    densely when the mixed radix would overflow) and sorted once by numpy's vectorised
    quicksort, a fraction of ``np.lexsort``'s or a multi-key sort's CPU."""
    comp: np.ndarray | None = None
    for raw in keys:
        k = raw.astype(np.int64, copy=True)
        if k.size:
            k -= int(k.min())
        radix = int(k.max()) + 1 if k.size else 1
        if comp is None:
            comp = k
            continue
        if (int(comp.max()) + 1) * radix >= 1 << 62:
            comp = np.unique(comp, return_inverse=True)[1].reshape(-1).astype(np.int64)
            if (int(comp.max()) + 1) * radix >= 1 << 62:  # still too wide: a multi-key sort
                frame = pl.DataFrame({f"k{i}": c for i, c in enumerate(keys)})
                order = frame.select(pl.arg_sort_by(frame.columns)).to_series().to_numpy()
                return np.asarray(order, dtype=np.int64)
        comp = comp * radix + k
    assert comp is not None
    return np.asarray(np.argsort(comp), dtype=np.int64)


def record_order(columns: list[np.ndarray], n: int) -> np.ndarray:
    """Rank (0..n-1) of each row by its whole record: the tuple of its columns' codes."""
    if not columns:
        return np.arange(n, dtype=np.int64)
    frame = pl.DataFrame({f"c{i}": c for i, c in enumerate(columns)}).with_row_index("_i")
    order = frame.sort([f"c{i}" for i in range(len(columns))] + ["_i"])["_i"].to_numpy()
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n, dtype=np.int64)
    return rank


class PairSpill:
    """Pairs of row positions, spilled by the smaller position modulo the number of parts
    (balanced however the rows are ordered: the smaller of two random positions is skewed
    towards the start, so ranges would not be) and deduplicated one part at a time: memory
    holds one part, never the union of all passes.

    ``directory`` None keeps the parts in memory (small inputs)."""

    def __init__(self, n: int, expected: int, directory: Path | None) -> None:
        self.n = n
        self.parts = max(1, min(n, math.ceil(expected / BATCH_PAIRS)))
        self.dir = Path(tempfile.mkdtemp(prefix="pairs-", dir=directory)) if directory else None
        self._memory: list[list[np.ndarray]] = [[] for _ in range(self.parts)]
        self.emitted = 0

    def add(self, a: np.ndarray, b: np.ndarray) -> int:
        """Add pairs (any order within a pair); returns how many (self-pairs dropped)."""
        lo = np.minimum(a, b).astype(np.int64)
        hi = np.maximum(a, b).astype(np.int64)
        keep = lo != hi
        if not keep.all():
            lo, hi = lo[keep], hi[keep]
        if lo.size == 0:
            return 0
        part = lo % self.parts
        code = (lo // self.parts) * self.n + hi
        if self.parts > 1:
            small = np.int16 if self.parts < 1 << 15 else np.int32  # int16: a radix sort
            order = np.argsort(part.astype(small), kind="stable")
            code, part = code[order], part[order]
            bounds = np.searchsorted(part, np.arange(self.parts + 1))
        else:
            bounds = np.array([0, code.size])
        for p in range(self.parts):
            chunk = code[bounds[p] : bounds[p + 1]]
            if chunk.size == 0:
                continue
            if self.dir is None:
                self._memory[p].append(chunk.copy())
            else:
                with (self.dir / f"{p}.bin").open("ab") as f:
                    chunk.tofile(f)
        self.emitted += int(lo.size)
        return int(lo.size)

    def batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Each part's distinct pairs, (left, right) int32 with left < right, sorted."""
        try:
            for p in range(self.parts):
                if self.dir is None:
                    pieces = self._memory[p]
                    code = np.concatenate(pieces) if pieces else np.zeros(0, np.int64)
                    self._memory[p] = []
                else:
                    path = self.dir / f"{p}.bin"
                    if not path.exists():
                        continue
                    code = np.fromfile(path, dtype=np.int64)
                    path.unlink()
                if code.size == 0:
                    continue
                code.sort()
                code = code[np.concatenate(([True], code[1:] != code[:-1]))]
                left = ((code // self.n) * self.parts + p).astype(np.int32)
                right = (code % self.n).astype(np.int32)
                del code
                yield left, right
        finally:
            self.close()

    def close(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)


def _window(sink: PairSpill, idx: np.ndarray, window: int, group: np.ndarray | None) -> int:
    """Pairs of each row with the next ``window - 1`` rows of ``idx`` (of the same
    ``group`` if given), one offset at a time."""
    total = 0
    for d in range(1, max(window, 2)):
        if idx.size <= d:
            break
        a, b = idx[:-d], idx[d:]
        if group is not None:
            keep = group[:-d] == group[d:]
            if not keep.any():
                break
            a, b = a[keep], b[keep]
        total += sink.add(a, b)
    return total


def neighbourhood_pass(sink: PairSpill, key: np.ndarray, window: int, tiebreak: np.ndarray) -> int:
    """Rows with a key, ordered by (key, tiebreak), each paired with the next ``window - 1``."""
    idx = np.flatnonzero(key >= 0)
    if idx.size < 2:
        return 0
    idx = idx[_order(key[idx], tiebreak[idx])]
    return _window(sink, idx, window, None)


def block_pass(
    sink: PairSpill, key: np.ndarray, max_block_size: int, window: int, tiebreak: np.ndarray
) -> int:
    """Rows sharing a key: all pairs in a block of at most ``max_block_size`` rows, the next
    ``window - 1`` rows (ordered by ``tiebreak``) in a larger block."""
    idx = np.flatnonzero(key >= 0)
    if idx.size < 2:
        return 0
    group = key[idx]
    _u, inverse, sizes = np.unique(group, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    multi = sizes[inverse] > 1
    idx, group = idx[multi], inverse[multi]
    if idx.size < 2:
        return 0
    order = _order(group, tiebreak[idx])
    idx, group = idx[order], group[order]
    reach = np.where(sizes[group] <= max_block_size, max_block_size, window)
    total = 0
    for d in range(1, int(max(window, max_block_size))):
        if idx.size <= d:
            break
        keep = (group[:-d] == group[d:]) & (reach[:-d] > d)
        if not keep.any():
            break
        total += sink.add(idx[:-d][keep], idx[d:][keep])
    return total


def sorted_neighbourhood(sink: PairSpill, columns: list[np.ndarray], window: int) -> int:
    """All rows with any of the columns present, ordered by the columns' codes (missing
    first), each paired with the next ``window - 1``."""
    n = columns[0].shape[0]
    present = np.zeros(n, dtype=bool)
    for c in columns:
        present |= c >= 0
    idx = np.flatnonzero(present)
    if idx.size < 2:
        return 0
    order = _order(*[c[idx] for c in columns], idx)
    return _window(sink, idx[order], window, None)


@dataclass
class BlockingResult:
    left: np.ndarray
    right: np.ndarray
    per_pass: dict[str, int] = field(default_factory=dict)


@dataclass
class Blocking:
    """The passes of one run and their spilled pairs (:meth:`batches`)."""

    spill: PairSpill
    per_pass: dict[str, int]

    def batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self.spill.batches()


def candidate_batches(
    dicts: dict[str, Dictionary],
    record: list[str],
    passes: list[list[KeyExpr]],
    sn_keys: list[list[str]],
    window: int,
    max_block_size: int,
    n: int,
    block_window: int | None = None,
    directory: Path | None = None,
) -> Blocking:
    """Run every blocking and sorted-neighbourhood pass into a :class:`PairSpill`
    (``record``: the columns whose tuple orders rows inside a key; ``block_window``: the
    window of the key passes, default ``window``)."""
    block_window = window if block_window is None else block_window
    expected = n * (
        sum(
            (max(block_window, max_block_size) if is_block_pass(k) else block_window) - 1
            for k in passes
        )
        + (window - 1) * len(sn_keys)
    )
    sink = PairSpill(n, expected, directory)
    per_pass: dict[str, int] = {}
    try:
        tiebreak = record_order([dicts[c].codes for c in record], n) if passes else None
        for keys in passes:
            assert tiebreak is not None
            key = combine([part_codes(k, dicts) for k in keys])
            name = " + ".join(str(k) for k in keys)
            if is_block_pass(keys):
                per_pass[name] = block_pass(sink, key, max_block_size, block_window, tiebreak)
            else:
                per_pass[name] = neighbourhood_pass(sink, key, block_window, tiebreak)
        for cols in sn_keys:
            count = sorted_neighbourhood(sink, [dicts[c].codes for c in cols], window)
            per_pass["sorted_neighbourhood(" + ", ".join(cols) + ")"] = count
    except BaseException:
        sink.close()
        raise
    return Blocking(sink, per_pass)


def candidate_pairs(
    dicts: dict[str, Dictionary],
    record: list[str],
    passes: list[list[KeyExpr]],
    sn_keys: list[list[str]],
    window: int,
    max_block_size: int,
    n: int,
    block_window: int | None = None,
) -> BlockingResult:
    """All distinct candidate pairs in memory (small inputs and tests)."""
    blocked = candidate_batches(
        dicts, record, passes, sn_keys, window, max_block_size, n, block_window
    )
    parts = list(blocked.batches())
    if not parts:
        return BlockingResult(np.zeros(0, np.int64), np.zeros(0, np.int64), blocked.per_pass)
    left = np.concatenate([p[0] for p in parts]).astype(np.int64)
    right = np.concatenate([p[1] for p in parts]).astype(np.int64)
    return BlockingResult(left, right, blocked.per_pass)
