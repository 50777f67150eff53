"""null-handler: recognises placeholder nulls, then fills or drops missing values per column.

1. Placeholders: in text columns, a value equal to one of ``placeholders`` (trimmed, any case;
   default "", n/a, na, null, none, -, --, ?, nan, missing) is missing.
2. Each column with missing values gets ``strategies[column]`` or ``default_strategy``:
   drop_row, drop_column, mean, median, mode, constant (``constants[column]``), forward_fill,
   backward_fill, knn (mean of the ``knn_neighbors`` nearest rows on the other numeric columns,
   standardised; numeric columns only), none (leave missing; placeholders become null).
3. ``auto`` applies the suggested strategy, documented here:
   - missing share >= ``drop_column_threshold`` % -> drop_column;
   - integer column -> median (rounded, stays integer);
   - float column -> median when |skew| > 1, else mean;
   - boolean, or a text column with few distinct values (<= 50% of present values and at most
     1000 distinct) -> mode;
   - other text (names, e-mails, free text), dates -> none: a missing name is not guessable,
     the placeholder becomes a real null and the cell is reported.

Statistics use the present values only. Every filled or nulled cell is a ``cell`` change (one
entry per cell: ``before`` = the value this agent received, e.g. "N/A" or null; ``after`` = the
value it left); dropped rows are ``row_removed``, dropped columns ``column_removed``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from transformers.agents.clean._common import (
    ChangeBuilder,
    count_kind,
    data_columns,
    missing_expr,
    missing_mask,
    row_issues,
)
from transformers.contract import (
    ROW_ID,
    AgentContext,
    AgentResult,
    ChangeKind,
    RowIssue,
    SummaryItem,
)
from transformers.errors import InvalidParametersError
from transformers.params.clean import NullHandlerParams

AGENT_ID = "null-handler"


def suggest(s: pl.Series, missing_pct: float, drop_column_threshold: float) -> str:
    """The ``auto`` strategy for one column (see the module docstring)."""
    if missing_pct >= drop_column_threshold:
        return "drop_column"
    dtype = s.dtype
    if dtype.is_integer():
        return "median"
    if dtype.is_float():
        nn = s.drop_nulls().drop_nans()
        skew = nn.skew() if nn.len() > 2 else 0.0
        return "median" if skew is not None and abs(float(skew)) > 1 else "mean"
    if dtype == pl.Boolean:
        return "mode"
    if dtype == pl.String:
        nn = s.drop_nulls()
        distinct = nn.n_unique()
        if nn.len() and distinct <= 1000 and distinct <= 0.5 * nn.len():
            return "mode"
    return "none"


def _mode(s: pl.Series) -> Any:
    nn = s.drop_nulls()
    if nn.len() == 0:
        return None
    counts = nn.value_counts(sort=False)
    top = counts.filter(pl.col("count") == pl.col("count").max()).sort(s.name)
    return top[s.name][0]


def _knn(frame: pl.DataFrame, column: str, k: int) -> pl.Series:
    from scipy.spatial import cKDTree

    s = frame[column]
    feats = [
        c
        for c, t in frame.schema.items()
        if c not in (ROW_ID, column) and t.is_numeric() and frame[c].null_count() < frame.height
    ]
    if not feats:
        return s.fill_null(s.mean())
    x = frame.select(
        [
            ((pl.col(c) - pl.col(c).mean()) / pl.col(c).std().fill_null(1).replace(0, 1))
            .fill_null(0)
            .fill_nan(0)
            .cast(pl.Float64)
            for c in feats
        ]
    ).to_numpy()
    y = s.cast(pl.Float64).to_numpy()
    known = ~np.isnan(y)
    if known.sum() == 0:
        return s
    tree = cKDTree(x[known])
    kk = int(min(k, known.sum()))
    _, idx = tree.query(x[~known], k=kk)
    idx = np.asarray(idx).reshape(-1, kk)
    fill = y[known][idx].mean(axis=1)
    out = y.copy()
    out[~known] = fill
    filled = pl.Series(column, out)
    if s.dtype.is_integer():
        return filled.round(0).cast(s.dtype)
    return filled.cast(s.dtype)


def run(frame: pl.DataFrame, params: NullHandlerParams, ctx: AgentContext) -> AgentResult:
    result = AgentResult(agent_id=AGENT_ID)
    # Strategy names are checked by NullHandlerParams (a 422 before the task is queued); the
    # columns can only be checked against the data, here.
    explicit = {ctx.resolve(c, frame): s for c, s in params.strategies.items()}
    constants = {ctx.resolve(c, frame): v for c, v in params.constants.items()}
    n = frame.height
    rid = frame[ROW_ID]
    changes = ChangeBuilder(AGENT_ID)
    issues: list[RowIssue] = []
    applied: dict[str, str] = {}
    placeholders_found = 0

    # 1. placeholders -> null (on a working copy; the log compares to the input at the end)
    work = frame
    placeholder_masks: dict[str, pl.Series] = {}
    updates = []
    texts = [c for c, t in frame.schema.items() if c != ROW_ID and t == pl.String]
    counts = (
        frame.select(
            [
                (missing_expr(c, pl.String, params.placeholders) & pl.col(c).is_not_null())
                .sum()
                .alias(c)
                for c in texts
            ]
        ).row(0, named=True)
        if texts and n
        else {}
    )
    for c in texts:
        if not counts.get(c):
            continue
        m = missing_mask(frame[c], params.placeholders) & frame[c].is_not_null()
        k = int(m.sum())
        if k:
            placeholders_found += k
            placeholder_masks[c] = m
            updates.append(pl.when(pl.lit(m)).then(None).otherwise(pl.col(c)).alias(c))
    if updates:
        work = work.with_columns(updates)

    drop_cols: list[str] = []
    drop_row_mask = pl.Series([False] * n, dtype=pl.Boolean)
    new_cols: dict[str, pl.Series] = {}
    for c in data_columns(work):
        s = work[c]
        nulls = s.null_count()
        if nulls == 0:
            continue
        strategy: str = explicit.get(c, params.default_strategy)
        if strategy == "auto":
            strategy = suggest(s, 100.0 * nulls / n if n else 0.0, params.drop_column_threshold)
        applied[c] = strategy
        if strategy == "none":
            continue
        if strategy == "drop_column":
            drop_cols.append(c)
            continue
        if strategy == "drop_row":
            drop_row_mask = drop_row_mask | s.is_null()
            continue
        filled: pl.Series
        if strategy in ("mean", "median"):
            if not s.dtype.is_numeric():
                raise InvalidParametersError(
                    f"{AGENT_ID}: '{c}' is not numeric, {strategy} does not apply",
                    details={"agent_id": AGENT_ID, "column": c},
                )
            value = s.mean() if strategy == "mean" else s.median()
            if value is None:
                continue
            if s.dtype.is_integer():
                filled = s.fill_null(round(float(value))).cast(s.dtype)  # type: ignore[arg-type]
            else:
                filled = s.fill_null(value)
        elif strategy == "mode":
            value = _mode(s)
            if value is None:
                continue
            filled = s.fill_null(value)
        elif strategy == "constant":
            if c not in constants:
                raise InvalidParametersError(
                    f"{AGENT_ID}: strategy constant for '{c}' needs constants['{c}']",
                    details={"agent_id": AGENT_ID, "column": c},
                )
            try:
                filled = s.fill_null(pl.lit(constants[c]).cast(s.dtype))
            except Exception as exc:
                raise InvalidParametersError(
                    f"{AGENT_ID}: constants['{c}'] does not fit the column type {s.dtype}",
                    details={"agent_id": AGENT_ID, "column": c},
                ) from exc
        elif strategy == "forward_fill":
            filled = s.fill_null(strategy="forward")
        elif strategy == "backward_fill":
            filled = s.fill_null(strategy="backward")
        elif strategy == "knn":
            if not s.dtype.is_numeric():
                raise InvalidParametersError(
                    f"{AGENT_ID}: knn needs a numeric column; '{c}' is {s.dtype}",
                    details={"agent_id": AGENT_ID, "column": c},
                )
            filled = _knn(work, c, params.knn_neighbors)
        else:  # pragma: no cover - validated above
            continue
        new_cols[c] = filled.alias(c)

    out = work.with_columns(list(new_cols.values())) if new_cols else work
    # 2. cell changes: input vs output, per kept column
    kept_rows = ~drop_row_mask
    for c in data_columns(out):
        if c in drop_cols or (c not in new_cols and c not in placeholder_masks):
            continue  # nothing in this column can differ from the input
        before = frame[c]
        after = out[c]
        ph = placeholder_masks.get(c)
        strat = applied.get(c, "none")
        if ph is None:
            rule: str | pl.Series = strat
        else:
            rule = pl.select(
                pl.when(pl.lit(ph))
                .then(pl.lit("placeholder_null" + ("" if strat == "none" else f"+{strat}")))
                .otherwise(pl.lit(strat))
            ).to_series()
        changes.cells(
            rid,
            c,
            before,
            after,
            rule,
            f"missing value handled by {strat}",
            mask=kept_rows,
        )
        if ph is not None and strat == "none":
            shown = ph & kept_rows
            issues += row_issues(
                rid.filter(shown),
                before.filter(shown),
                c,
                "placeholder_null",
                "low",
                f"placeholder in '{c}' set to null (strategy none)",
            )
    # 3. rows and columns
    if bool(drop_row_mask.any()):
        dropped = frame.filter(drop_row_mask)
        cols_why = [c for c, s in applied.items() if s == "drop_row"]
        changes.rows(
            ChangeKind.ROW_REMOVED,
            dropped,
            "drop_row",
            f"missing value in {', '.join(cols_why)} (strategy drop_row)",
        )
        out = out.filter(kept_rows)
    for c in drop_cols:
        nulls = work[c].null_count()
        changes.column(
            ChangeKind.COLUMN_REMOVED,
            c,
            f"{nulls} missing of {n}",
            None,
            "drop_column",
            f"{100.0 * nulls / max(n, 1):.1f}% missing",
        )
    if drop_cols:
        out = out.drop(drop_cols)
    built = changes.build()
    cells = count_kind(built, ChangeKind.CELL)
    result.frame = out
    result.changes = built
    result.row_level_issues = issues
    result.data = {
        "strategies_applied": applied,
        "columns_dropped": drop_cols,
        "placeholders_recognised": placeholders_found,
    }
    result.summary_metrics = {
        "placeholders_recognised": placeholders_found,
        "cells_changed": cells,
        "rows_dropped": int(drop_row_mask.sum()),
        "columns_dropped": len(drop_cols),
        "missing_after": int(sum(out[c].null_count() for c in data_columns(out))),
    }
    result.executive_summary = [
        SummaryItem("Missing values handled", cells, "info"),
        SummaryItem("Columns dropped", len(drop_cols), "warning" if drop_cols else "good"),
    ]
    return result
