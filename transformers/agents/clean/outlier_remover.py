"""outlier-remover: IQR / z-score / percentile outliers, removed, capped, imputed or flagged.

Qualifying columns: ``columns`` when given, else every numeric column with at least
``min_values`` present values, except id-like and year-like columns (see ``_common``) unless
``include_ids_and_years``. Bounds per column over ALL its values (not a sample):

- ``iqr``: [Q1 - k*IQR, Q3 + k*IQR], k = ``iqr_multiplier`` (1.5); a column with IQR 0 is
  skipped (everything off the median would be an "outlier");
- ``zscore``: |x - mean| / std > ``zscore_threshold`` (3);
- ``percentile``: below ``lower_percentile`` or above ``upper_percentile``.

Actions on every outlier: ``remove`` the row (``row_removed``), ``cap`` (winsorize to the
bound; integer columns keep their type with the bound rounded inwards), ``impute`` (the median
of the column computed WITHOUT its outliers), ``flag`` (report only). Every outlier is in
``row_level_issues``; every changed cell or removed row is in the change log.
"""

from __future__ import annotations

import math

import polars as pl

from transformers.agents.clean._common import (
    ChangeBuilder,
    count_kind,
    data_columns,
    is_id_like,
    is_year_like,
    resolve_all,
    row_issues,
)
from transformers.contract import (
    ROW_ID,
    AgentContext,
    AgentResult,
    ChangeKind,
    Issue,
    RowIssue,
    SummaryItem,
)
from transformers.errors import InvalidParametersError
from transformers.params.clean import OutlierRemoverParams

AGENT_ID = "outlier-remover"


def _bounds(s: pl.Series, params: OutlierRemoverParams) -> tuple[float, float] | None:
    x = s.cast(pl.Float64).drop_nulls().drop_nans()
    if x.len() < params.min_values:
        return None
    if params.method == "iqr":
        q1 = x.quantile(0.25, "linear")
        q3 = x.quantile(0.75, "linear")
        if q1 is None or q3 is None or q3 - q1 <= 0:
            return None
        k = params.iqr_multiplier * (q3 - q1)
        return q1 - k, q3 + k
    if params.method == "zscore":
        mean, std = x.mean(), x.std()
        if mean is None or std is None or not isinstance(std, float) or std == 0:
            return None
        assert isinstance(mean, float)
        return mean - params.zscore_threshold * std, mean + params.zscore_threshold * std
    lo = x.quantile(params.lower_percentile / 100, "linear")
    hi = x.quantile(params.upper_percentile / 100, "linear")
    if lo is None or hi is None:
        return None
    return lo, hi


def run(frame: pl.DataFrame, params: OutlierRemoverParams, ctx: AgentContext) -> AgentResult:
    result = AgentResult(agent_id=AGENT_ID)
    if params.lower_percentile >= params.upper_percentile:
        raise InvalidParametersError(
            f"{AGENT_ID}: lower_percentile must be below upper_percentile",
            details={"agent_id": AGENT_ID},
        )
    schema = frame.schema
    if params.columns is not None:
        cols = resolve_all(ctx, params.columns, frame)
        for c in cols:
            if not schema[c].is_numeric():
                raise InvalidParametersError(
                    f"{AGENT_ID}: column '{c}' is not numeric ({schema[c]})",
                    details={"agent_id": AGENT_ID, "column": c},
                )
    else:
        cols = [
            c
            for c in data_columns(frame)
            if schema[c].is_numeric()
            and (
                params.include_ids_and_years
                or not (is_id_like(c, frame[c]) or is_year_like(c, frame[c]))
            )
        ]
    rid = frame[ROW_ID]
    changes = ChangeBuilder(AGENT_ID)
    issues: list[RowIssue] = []
    n = frame.height
    remove = pl.Series([False] * n, dtype=pl.Boolean)
    remove_reason: list[pl.Series] = []
    updates: list[pl.Series] = []
    per_column: dict[str, dict[str, float | int]] = {}
    skipped: list[str] = []
    for c in cols:
        s = frame[c]
        b = _bounds(s, params)
        if b is None:
            skipped.append(c)
            continue
        lo, hi = b
        xf = s.cast(pl.Float64)
        is_out = ((xf < lo) | (xf > hi)).fill_null(False)
        k = int(is_out.sum())
        per_column[c] = {"lower": lo, "upper": hi, "outliers": k}
        if k == 0:
            continue
        msg = f"'{c}' outside [{lo:.6g}, {hi:.6g}] ({params.method})"
        issues += row_issues(rid.filter(is_out), s.filter(is_out), c, "outlier", "medium", msg)
        if params.action == "flag":
            continue
        if params.action == "remove":
            remove = remove | is_out
            remove_reason.append(
                pl.select(pl.when(pl.lit(is_out)).then(pl.lit(msg)).otherwise(None)).to_series()
            )
            continue
        if params.action == "cap":
            if s.dtype.is_integer():
                lo_v: float | int = math.ceil(lo)
                hi_v: float | int = math.floor(hi)
            else:
                lo_v, hi_v = lo, hi
            new = pl.select(
                pl.when(pl.lit(xf) < lo)
                .then(pl.lit(lo_v))
                .when(pl.lit(xf) > hi)
                .then(pl.lit(hi_v))
                .otherwise(pl.lit(s))
            ).to_series()
            rule = "cap"
        else:  # impute
            med = s.filter(~is_out).cast(pl.Float64).median()
            if not isinstance(med, float):
                continue
            fill: float | int = round(med) if s.dtype.is_integer() else med
            new = pl.select(
                pl.when(pl.lit(is_out)).then(pl.lit(fill)).otherwise(pl.lit(s))
            ).to_series()
            rule = "impute_median"
        new = new.cast(s.dtype).alias(c)
        changes.cells(rid, c, s, new, rule, msg, mask=is_out)
        updates.append(new)

    out = frame.with_columns(updates) if updates else frame
    if bool(remove.any()):
        why = pl.select(pl.concat_str(remove_reason, separator="; ", ignore_nulls=True)).to_series()
        changes.rows(ChangeKind.ROW_REMOVED, frame.filter(remove), "outlier", why.filter(remove))
        out = out.filter(~remove)
    built = changes.build()
    result.frame = out
    result.changes = built
    result.row_level_issues = issues
    total = sum(int(v["outliers"]) for v in per_column.values())
    result.data = {
        "method": params.method,
        "action": params.action,
        "columns": per_column,
        "columns_skipped": skipped,
    }
    result.summary_metrics = {
        "columns_checked": len(per_column),
        "outliers": total,
        "rows_removed": int(remove.sum()),
        "cells_changed": count_kind(built, ChangeKind.CELL),
    }
    result.executive_summary = [
        SummaryItem("Outliers found", total, "warning" if total else "good")
    ]
    if total:
        result.issues.append(
            Issue(
                "outlier-remover-outliers",
                None,
                "outliers",
                "medium",
                f"{total} outlier(s) in {sum(1 for v in per_column.values() if v['outliers'])} "
                f"column(s), action {params.action}",
            )
        )
    return result
