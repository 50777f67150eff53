"""cleanse-writeback: verifies the result against the original and writes the cleaned files.

Verification uses the original frame (``ctx.frames["primary"]``) and the real results of the
agents that ran before (``ctx.results``):

- row arithmetic: ``rows_in = rows_out + quarantined + removed_duplicates + other_removed``,
  counted from the change logs (``row_quarantined``; ``row_removed`` by duplicate-resolver;
  other ``row_removed``) and cross-checked against the row ids that are really gone;
- rows kept %, alerting under ``min_rows_kept_pct``;
- missing values (nulls plus placeholder tokens) and exact duplicate rows before and after;
- column types before and after, columns removed.

Outputs: the cleaned data in the input's format (``cleaned.<ext>``) plus ``cleaned.csv``
(one file when the input is CSV), and ``change_log.csv`` with every change of every agent, in
agent order (columns: seq, agent_id, kind, rule, row_id, column, before, after, reason).
``__row_id__`` (the input row number) is dropped from the cleaned files unless
``include_row_id``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from transformers.agents.clean._common import (
    CHANGE_SCHEMA,
    ROW_ID,
    change_frame,
    data_columns,
    missing_expr,
)
from transformers.contract import (
    AgentContext,
    AgentResult,
    AgentStatus,
    Alert,
    ChangeKind,
    OutputFile,
    SummaryItem,
)
from transformers.params.clean import CleanseWritebackParams

AGENT_ID = "cleanse-writeback"

_CONTENT_TYPES = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    nested = [c for c, t in frame.schema.items() if t.is_nested() or t == pl.Object]
    if not nested:
        return frame
    return frame.with_columns([pl.col(c).map_elements(str, return_dtype=pl.String) for c in nested])


def write_frame(frame: pl.DataFrame, path: Path, fmt: str) -> None:
    """Write with ``transformers.io.write_table`` (which drops ``__row_id__`` and neutralises
    formulas in XLSX) when the io package provides it; keeping ``__row_id__`` needs our own."""
    writer = None
    if ROW_ID not in frame.columns:
        try:
            from transformers import io as tio

            writer = getattr(tio, "write_table", None)
        except Exception:  # the io package is unavailable
            writer = None
    if writer is not None:
        writer(frame, path, fmt)
        return
    if fmt == "csv":
        _flat(frame).write_csv(path)
    elif fmt == "tsv":
        _flat(frame).write_csv(path, separator="\t")
    elif fmt == "json":
        frame.write_json(path)
    elif fmt == "jsonl":
        frame.write_ndjson(path)
    elif fmt == "parquet":
        frame.write_parquet(path)
    elif fmt == "xlsx":
        _flat(frame).write_excel(path, worksheet="cleaned")
    else:
        raise ValueError(f"cannot write format {fmt!r}")


def _missing(frame: pl.DataFrame) -> int:
    cols = data_columns(frame)
    if not cols or not frame.height:
        return 0
    schema = frame.schema
    counts = frame.select([missing_expr(c, schema[c]).sum().alias(c) for c in cols])
    return int(sum(int(v or 0) for v in counts.row(0)))


def _duplicates(frame: pl.DataFrame) -> int:
    cols = data_columns(frame)
    if not cols or frame.height < 2:
        return 0
    return int(frame.height - frame.select(cols).n_unique())


def run(frame: pl.DataFrame, params: CleanseWritebackParams, ctx: AgentContext) -> AgentResult:
    result = AgentResult(agent_id=AGENT_ID)
    original = ctx.frames.get("primary", frame)
    info = ctx.inputs.get("primary")
    fmt = (info.format if info else "csv") or "csv"
    fmt = fmt.lower()
    if fmt not in _CONTENT_TYPES:
        fmt = "csv"

    # ---- change log of every agent before this one
    logs: list[pl.DataFrame] = []
    agents_used: list[dict[str, Any]] = []
    for agent_id, res in ctx.results.items():
        agents_used.append(
            {"agent_id": agent_id, "status": str(res.status), "changes": len(res.changes)}
        )
        if res.changes:
            logs.append(change_frame(res.changes))
    log = pl.concat(logs, how="vertical") if logs else pl.DataFrame(schema=CHANGE_SCHEMA)
    log = log.with_row_index("seq").select(
        ["seq", "agent_id", "kind", "rule", "row_id", "column", "before", "after", "reason"]
    )

    # ---- row arithmetic
    rows_in, rows_out = original.height, frame.height
    row_log = log.filter(
        pl.col("kind").is_in([ChangeKind.ROW_QUARANTINED.value, ChangeKind.ROW_REMOVED.value])
    )
    quarantined = int((row_log["kind"] == ChangeKind.ROW_QUARANTINED.value).sum())
    dup = int(
        (
            (row_log["kind"] == ChangeKind.ROW_REMOVED.value)
            & (row_log["agent_id"] == "duplicate-resolver")
        ).sum()
    )
    other = row_log.height - quarantined - dup
    arithmetic_ok = rows_in == rows_out + quarantined + dup + other
    ids_in = original[ROW_ID] if ROW_ID in original.columns else pl.Series([], dtype=pl.Int64)
    ids_out = frame[ROW_ID] if ROW_ID in frame.columns else pl.Series([], dtype=pl.Int64)
    # the row ids that are really gone (a set difference, in polars) against the logged ones
    reconcile = rows_in <= 2_000_000
    logged = row_log["row_id"].cast(pl.Int64)
    ids_ok = False
    if reconcile:
        unique_in = ids_in.cast(pl.Int64).unique()
        still_there = unique_in.is_in(ids_out.cast(pl.Int64).implode(), nulls_equal=True)
        gone = unique_in.filter(~still_there)
        logged_set = logged.unique()
        ids_ok = logged_set.len() == logged.len() and gone.sort().equals(logged_set.sort())
    kept_pct = 100.0 * rows_out / rows_in if rows_in else 100.0

    # ---- quality before / after
    types_before = {c: str(t) for c, t in original.schema.items() if c != ROW_ID}
    types_after = {c: str(t) for c, t in frame.schema.items() if c != ROW_ID}
    missing_before, missing_after = _missing(original), _missing(frame)
    dup_before, dup_after = _duplicates(original), _duplicates(frame)

    # ---- files
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    out_frame = frame if params.include_row_id else frame.drop(ROW_ID, strict=False)
    stem = params.file_stem
    data_path = ctx.work_dir / f"{stem}.{fmt}"
    write_frame(out_frame, data_path, fmt)
    result.outputs.append(OutputFile(data_path.name, data_path, "data", _CONTENT_TYPES[fmt]))
    if fmt != "csv":
        csv_path = ctx.work_dir / f"{stem}.csv"
        write_frame(out_frame, csv_path, "csv")
        result.outputs.append(OutputFile(csv_path.name, csv_path, "data", "text/csv"))
    log_path = ctx.work_dir / "change_log.csv"
    log.write_csv(log_path)
    result.outputs.append(OutputFile("change_log.csv", log_path, "changes", "text/csv"))

    failed = [a for a, r in ctx.results.items() if r.status == AgentStatus.FAILED]
    result.data = {
        "rows_in": rows_in,
        "rows_out": rows_out,
        "rows_quarantined": quarantined,
        "rows_removed_duplicates": dup,
        "rows_removed_other": other,
        "row_arithmetic": f"{rows_in} = {rows_out} + {quarantined} + {dup} + {other}",
        "row_arithmetic_ok": arithmetic_ok,
        "row_ids_reconciled": ids_ok,
        "rows_kept_pct": round(kept_pct, 2),
        "missing_before": missing_before,
        "missing_after": missing_after,
        "duplicate_rows_before": dup_before,
        "duplicate_rows_after": dup_after,
        "types_before": types_before,
        "types_after": types_after,
        "columns_removed": [c for c in types_before if c not in types_after],
        "type_changes": {
            c: {"before": types_before[c], "after": t}
            for c, t in types_after.items()
            if c in types_before and types_before[c] != t
        },
        "agents": agents_used,
        "failed_agents": failed,
        "format": fmt,
        "changes_logged": log.height,
    }
    result.summary_metrics = {
        "rows_in": rows_in,
        "rows_out": rows_out,
        "rows_quarantined": quarantined,
        "rows_removed_duplicates": dup,
        "rows_removed_other": other,
        "rows_kept_pct": round(kept_pct, 2),
        "missing_before": missing_before,
        "missing_after": missing_after,
        "duplicate_rows_before": dup_before,
        "duplicate_rows_after": dup_after,
        "changes_logged": log.height,
    }
    result.executive_summary = [
        SummaryItem("Rows kept", f"{rows_out} of {rows_in} ({kept_pct:.1f}%)", "info"),
        SummaryItem("Changes logged", log.height, "info"),
        SummaryItem(
            "Row arithmetic",
            "balanced" if arithmetic_ok else "MISMATCH",
            "good" if arithmetic_ok else "critical",
        ),
    ]
    if not arithmetic_ok or (reconcile and not ids_ok):
        result.alerts.append(
            Alert(
                "cleanse-writeback-arithmetic",
                "critical",
                "integrity",
                f"Rows do not reconcile: {result.data['row_arithmetic']}, row ids reconciled: "
                f"{ids_ok}",
                recommendation="Report this: an agent removed rows without logging them.",
            )
        )
    if kept_pct < params.min_rows_kept_pct:
        result.alerts.append(
            Alert(
                "cleanse-writeback-rows-kept",
                "high",
                "data_loss",
                f"Only {kept_pct:.1f}% of rows survived cleaning "
                f"(threshold {params.min_rows_kept_pct:g}%)",
                recommendation="Check the quarantine file and the drop/remove settings.",
            )
        )
    if failed:
        result.alerts.append(
            Alert(
                "cleanse-writeback-failed-agents",
                "high",
                "pipeline",
                f"Agents failed, their cleaning was not applied: {', '.join(failed)}",
            )
        )
    return result
