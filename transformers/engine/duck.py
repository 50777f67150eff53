"""DuckDB over a working copy, for the aggregates whose memory grows with distinct values.

polars evaluates per-column statistics of a Parquet working copy in the memory of that one
column, except hash aggregates over many distinct values: ``value_counts`` of a column of 5M
distinct e-mail addresses peaked at 1.27 GB (measured, ``docs/out-of-core.md``). DuckDB's hash
aggregate obeys a memory limit and spills to disk beyond it, so the distinct count and the most
frequent values of a working copy's columns are computed here, under the task's budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from transformers.engine.budget import Budget, budget_from_settings

#: Share of the task's budget DuckDB may hold; the rest is the interpreter, polars and Arrow.
DUCKDB_SHARE = 0.5


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


@contextmanager
def connect(budget: Budget | None = None) -> Iterator[Any]:
    import duckdb

    budget = budget or budget_from_settings()
    spill = budget.spill_dir / "duckdb"
    spill.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        config={
            "memory_limit": f"{max(64, int(budget.memory_mb * DUCKDB_SHARE))}MB",
            "temp_directory": str(spill),
            "threads": 2,
            "preserve_insertion_order": False,
        }
    )
    con.execute("SET enable_progress_bar = false")
    try:
        yield con
    finally:
        con.close()


def top_counts(
    path: Path, column: str, n: int, *, drop_nan: bool, budget: Budget | None = None
) -> tuple[int, list[tuple[Any, int]]]:
    """(distinct non-null values, the ``n`` most frequent as (value, count), ties broken by the
    smallest value) of one column, NaN excluded when ``drop_nan``.

    Nulls and NaN are grouped like any value and removed afterwards: DuckDB 2.0 prunes a
    ``WHERE NOT isnan(x)`` with the Parquet statistics, which do not count NaN, and so keeps
    NaN rows (checked: the filter matched none of 92 NaN), while an aggregate's ``FILTER``
    sees them."""
    col = _quote(column)
    nan_groups = "count(*) FILTER (WHERE isnan(v))" if drop_nan else "0"
    sql = f"""
        WITH counts AS (
            SELECT {col} AS v, count(*) AS n FROM read_parquet({_literal(path)}) GROUP BY {col}
        ), sizes AS (
            SELECT count(*) AS groups, count(*) FILTER (WHERE v IS NULL) AS null_groups,
                   {nan_groups} AS nan_groups
            FROM counts
        )
        SELECT groups - null_groups - nan_groups, v, n
        FROM counts, sizes ORDER BY n DESC, v ASC LIMIT {int(n) + 2}
    """
    with connect(budget) as con:
        rows = con.execute(sql).fetchall()
    if not rows:
        return 0, []
    top = [(v, int(c)) for _, v, c in rows if v is not None and not (drop_nan and v != v)]
    return int(rows[0][0]), top[:n]


def duplicate_row_ids(path: Path, columns: list[str], budget: Budget | None = None) -> Any:
    """The ``__row_id__`` of every row equal in ``columns`` to a row with a smaller id, sorted,
    as a one-column polars frame (``GROUP BY`` treats nulls as equal, like polars)."""
    import polars as pl

    from transformers.contract import ROW_ID

    rid = _quote(ROW_ID)
    cols = ", ".join(_quote(c) for c in columns)
    sql = f"""
        WITH t AS (SELECT * FROM read_parquet({_literal(path)})),
        firsts AS (SELECT min({rid}) AS first_id FROM t GROUP BY {cols})
        SELECT {rid} FROM t ANTI JOIN firsts ON t.{rid} = firsts.first_id ORDER BY {rid}
    """
    with connect(budget) as con:
        table = con.sql(sql).to_arrow_table()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame.select(pl.col(ROW_ID).cast(pl.Int64))
