"""master-writeback-agent: writes the mastered outputs and hands on the clean golden frame.

Files (``OutputFile`` in ``ctx.work_dir``): ``golden_records.<input format>`` (or
``output_format``) plus ``golden_records.csv``, ``cross_reference.csv`` (source row id ->
golden id), ``stewardship_queue.csv`` (every task), ``lineage.csv`` (every golden field).
The returned frame is the golden records without the internal lineage columns, so the task's
final data file is clean.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from transformers.agents.master._common import (
    CLUSTER_ID,
    MEMBERS,
    SOURCE_COUNT,
    TRUST_SCORE,
    ensure_golden,
    public_golden,
    release_memory,
)
from transformers.agents.master.lineage_tracer import lineage_slices
from transformers.agents.master.stewardship_flagger import tasks
from transformers.contract import ROW_ID, AgentContext, AgentResult, OutputFile, SummaryItem
from transformers.io.writers import write_table
from transformers.params.master import MasterWritebackParams, StewardshipFlaggerParams

AGENT_ID = "master-writeback-agent"
CONTENT_TYPES = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "parquet": "application/vnd.apache.parquet",
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _write(frame: pl.DataFrame, path: Path, fmt: str) -> None:
    """The shared writer (XLSX cells neutralised against formula injection, nested values as
    JSON text); its errors surface instead of silently falling back to a plain polars write."""
    write_table(frame, path, fmt)


#: rows per slice of the streamed cross-reference
XREF_SLICE = 500_000


def _write_xref(golden: pl.DataFrame, path: Path) -> int:
    """cross_reference.csv (one row per source row, by source row id), written by slices: the
    source ids and an order over them, never the whole sorted table."""
    table = golden.select(
        pl.col(MEMBERS).alias("source_row_id"),
        pl.col(CLUSTER_ID).alias("golden_id"),
        pl.col(SOURCE_COUNT),
        pl.col(TRUST_SCORE),
    )
    lengths = table["source_row_id"].list.len().to_numpy()
    flat = table["source_row_id"].explode()
    if flat.null_count() or (lengths == 0).any():  # empty member lists: the plain way
        full = table.explode("source_row_id").sort("source_row_id")
        _write(full, path, "csv")
        return full.height
    order = flat.arg_sort()
    owner = pl.Series(np.repeat(np.arange(table.height, dtype=np.int64), lengths))
    rest = table.drop("source_row_id")
    with path.open("wb") as f:
        for start in range(0, max(len(order), 1), XREF_SLICE):
            at = order.slice(start, XREF_SLICE)
            rows = owner.gather(at)
            part = pl.DataFrame({"source_row_id": flat.gather(at)}).hstack(
                rest.select(pl.all().gather(rows))
            )
            part.write_csv(f, include_header=start == 0)
    return len(order)


def _write_lineage(golden: pl.DataFrame, rules: dict[str, str], include: bool, path: Path) -> int:
    """lineage.csv slice by slice (a flat table: the shared writer's CSV is polars' CSV):
    golden records x fields rows never held at once."""
    rows = 0
    with path.open("wb") as f:
        for i, part in enumerate(lineage_slices(golden, rules, include)):
            part.write_csv(f, include_header=i == 0)
            rows += part.height
    return rows


def run(frame: pl.DataFrame, params: MasterWritebackParams, ctx: AgentContext) -> AgentResult:
    p: MasterWritebackParams = params
    golden, rules = ensure_golden(frame, ctx)
    info = ctx.inputs.get("primary")
    fmt = (info.format if info else "csv") if p.output_format == "same" else p.output_format
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    outputs: list[OutputFile] = []

    def emit(df: pl.DataFrame, name: str, kind: str, f: str = "csv") -> None:
        path = ctx.work_dir / name
        _write(df, path, f)
        outputs.append(
            OutputFile(name, path, kind, CONTENT_TYPES.get(f, "application/octet-stream"))
        )

    clean = public_golden(golden)
    user = clean.drop(ROW_ID).rename({CLUSTER_ID: "golden_id"})
    emit(user, f"golden_records.{fmt}", "golden", fmt)
    if fmt != "csv":
        emit(user, "golden_records.csv", "golden")
    xref_rows = _write_xref(golden, ctx.work_dir / "cross_reference.csv")
    outputs.append(
        OutputFile("cross_reference.csv", ctx.work_dir / "cross_reference.csv", "xref", "text/csv")
    )
    flagged = ctx.results.get("stewardship-flagger")
    queue = (
        flagged.row_level_issues
        if flagged is not None
        else tasks(frame, StewardshipFlaggerParams(), ctx)
    )
    qdf = pl.DataFrame(
        {
            "golden_id": [t.row_id for t in queue],
            "field": [t.column for t in queue],
            "task_type": [t.issue_type for t in queue],
            "severity": [t.severity for t in queue],
            "value": [None if t.value is None else str(t.value) for t in queue],
            "message": [t.message for t in queue],
        },
        schema={
            "golden_id": pl.Int64,
            "field": pl.String,
            "task_type": pl.String,
            "severity": pl.String,
            "value": pl.String,
            "message": pl.String,
        },
    )
    emit(qdf, "stewardship_queue.csv", "stewardship")
    lineage = ctx.results.get("lineage-tracer")
    include = bool(lineage.data.get("include_values")) if lineage is not None else False
    lineage_rows = _write_lineage(golden, rules, include, ctx.work_dir / "lineage.csv")
    outputs.append(OutputFile("lineage.csv", ctx.work_dir / "lineage.csv", "lineage", "text/csv"))
    release_memory()  # before the next agent's peak stacks on freed, unreturned memory
    return AgentResult(
        agent_id=AGENT_ID,
        summary_metrics={
            "golden_records": golden.height,
            "cross_reference_rows": xref_rows,
            "stewardship_tasks": qdf.height,
            "lineage_rows": lineage_rows,
            "files": len(outputs),
        },
        data={"files": [o.name for o in outputs], "format": fmt},
        executive_summary=[SummaryItem("Golden records written", golden.height, "good")],
        frame=clean,
        outputs=outputs,
    )
