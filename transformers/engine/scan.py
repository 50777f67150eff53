"""``ScanFrame``: a Parquet working copy that reads like the ``pl.DataFrame`` agents expect.

The read-only agents (profile-my-data's six, the report's figures) are written as polars
expressions over a frame: ``frame.select(exprs)``, ``frame.get_column(c)``, ``frame.schema``,
``frame.height``, ``frame.lazy()``. On a ``ScanFrame`` the same code runs out of core:

- ``schema``/``height``/``columns`` come from the Parquet footer (nothing is read);
- ``select`` splits its expressions by the columns they name and evaluates each group over a
  lazy scan of only those columns with polars' streaming engine, so the memory a statistic
  needs is that of the columns it reads (one, for per-column statistics), never the table's;
- ``get_column``/``filter``/row gathers read only the column or rows asked for.

Nothing here chunks data by hand: the scan, the projection and the streaming evaluation are
polars'. Results equal the in-memory frame's (the profile tests run every case both ways).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from transformers.engine.budget import Budget

_POS = "__scan_pos__"


def _flatten(exprs: Sequence[Any]) -> list[Any]:
    flat: list[Any] = []
    for e in exprs:
        if isinstance(e, pl.Expr | str | pl.Series):
            flat.append(e)
        elif isinstance(e, Iterable):
            flat.extend(_flatten(list(e)))
        else:
            flat.append(e)
    return flat


def _roots(expr: Any) -> tuple[str, ...]:
    if isinstance(expr, str):
        return (expr,)
    if isinstance(expr, pl.Expr):
        return tuple(sorted(set(expr.meta.root_names())))
    return ()


class ScanFrame:
    """A Parquet file read lazily (see module doc). Immutable: agents that change data return
    new in-memory frames, which this does not pretend to be."""

    def __init__(
        self, path: Path, *, rows: int | None = None, budget: Budget | None = None
    ) -> None:
        self.path = Path(path)
        self.budget = budget
        meta = pq.read_metadata(self.path)
        self._height = int(meta.num_rows if rows is None else rows)
        self._schema = pl.Schema(pl.read_parquet_schema(self.path))

    # -- what the footer knows --------------------------------------------------------------
    @property
    def schema(self) -> pl.Schema:
        return self._schema

    @property
    def columns(self) -> list[str]:
        return list(self._schema.names())

    @property
    def height(self) -> int:
        return self._height

    @property
    def width(self) -> int:
        return len(self._schema)

    def is_empty(self) -> bool:
        return self._height == 0

    def __len__(self) -> int:
        return self._height

    def __repr__(self) -> str:
        return f"ScanFrame({self.path.name}, rows={self._height}, columns={self.width})"

    # -- reads ------------------------------------------------------------------------------
    def lazy(self) -> pl.LazyFrame:
        return pl.scan_parquet(self.path)

    def select(self, *exprs: Any, **named: Any) -> pl.DataFrame:
        items = _flatten(exprs) + [pl.lit(v).alias(k) if not isinstance(v, pl.Expr)
                                   else v.alias(k) for k, v in named.items()]  # fmt: skip
        if not items:
            return pl.DataFrame()
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, e in enumerate(items):
            groups.setdefault(_roots(e), []).append(i)
        parts: dict[int, list[pl.Series]] = {}
        for positions in groups.values():
            out = self.lazy().select([items[i] for i in positions]).collect(engine="streaming")
            # A multi-column expression (``pl.col([a, b]).max()``) yields several series.
            series = out.get_columns()
            if len(series) == len(positions):
                for i, s in zip(positions, series, strict=True):
                    parts[i] = [s]
            else:
                parts[positions[0]] = series
                for i in positions[1:]:
                    parts[i] = []
        columns = [s for i in range(len(items)) for s in parts[i]]
        height = max((s.len() for s in columns), default=0)
        # As in ``DataFrame.select``, a one-row result (an aggregate) broadcasts.
        return pl.DataFrame([s if s.len() == height else s.gather([0] * height) for s in columns])

    def top_values(self, column: str, n: int, drop_nan: bool) -> tuple[int, list[Any]]:
        """(distinct non-null values, the ``n`` most frequent as (value, count); ties: the
        smallest value), by DuckDB's spilling hash aggregate (``engine/duck.py``)."""
        from transformers.engine.duck import top_counts

        return top_counts(self.path, column, n, drop_nan=drop_nan, budget=self.budget)

    def duplicate_row_ids(self, columns: list[str]) -> pl.DataFrame:
        """Row ids of the rows equal in ``columns`` to an earlier row (DuckDB, spilling)."""
        from transformers.engine.duck import duplicate_row_ids

        frame: pl.DataFrame = duplicate_row_ids(self.path, columns, self.budget)
        return frame

    def get_column(self, name: str) -> pl.Series:
        return self.lazy().select(name).collect(engine="streaming").to_series()

    def get_columns(self) -> list[pl.Series]:
        return [self.get_column(c) for c in self.columns]

    def filter(self, *predicates: Any) -> pl.DataFrame:
        lf = self.lazy()
        masks = [p for p in predicates if isinstance(p, pl.Series)]
        exprs = [p for p in predicates if not isinstance(p, pl.Series)]
        if masks:
            keep = masks[0]
            for m in masks[1:]:
                keep = keep & m
            positions = pl.Series(_POS, range(len(keep)), dtype=pl.UInt32).filter(keep)
            lf = lf.with_row_index(_POS).filter(pl.col(_POS).is_in(positions)).drop(_POS)
        if exprs:
            lf = lf.filter(*exprs)
        return lf.collect(engine="streaming")

    def gather(self, positions: Sequence[int]) -> pl.DataFrame:
        wanted = pl.Series(_POS, list(positions), dtype=pl.UInt32)
        rows = (
            self.lazy()
            .with_row_index(_POS)
            .filter(pl.col(_POS).is_in(wanted))
            .collect(engine="streaming")
        )
        # In the order asked for, as ``frame[[i, j, ...]]`` returns them.
        order = pl.DataFrame({_POS: wanted}).with_row_index("__order__")
        return rows.join(order, on=_POS).sort("__order__").drop(_POS, "__order__")

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self.get_column(key)
        if isinstance(key, list) and all(isinstance(k, int) for k in key):
            return self.gather(key)
        if isinstance(key, slice):
            start, stop, step = key.indices(self._height)
            return self.gather(list(range(start, stop, step)))
        raise TypeError(f"ScanFrame does not support indexing by {type(key).__name__}")

    def head(self, n: int = 5) -> pl.DataFrame:
        return self.lazy().head(n).collect(engine="streaming")

    def to_pandas(self) -> Any:
        raise TypeError("a ScanFrame is not loaded into memory; compute over lazy() instead")
