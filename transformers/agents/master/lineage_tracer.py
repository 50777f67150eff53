"""lineage-tracer: for each golden record field, which source rows and which rule produced it.

A lineage row: ``golden_id``, ``field``, ``rule``, ``source_row_id`` (the row that supplied
the surviving value), ``contributing_row_ids`` (every source row of the cluster, ``;``-joined),
``confidence`` and, with ``include_values``, the ``value``. The complete table is written by
master-writeback-agent (``lineage.csv``); this agent reports per-field summaries and a sample.
"""

from __future__ import annotations

import polars as pl

from transformers.agents.master._common import (
    CLUSTER_ID,
    CONF_PREFIX,
    MEMBERS,
    SRC_PREFIX,
    data_columns,
    ensure_golden,
)
from transformers.contract import AgentContext, AgentResult, SummaryItem
from transformers.params.master import LineageTracerParams

AGENT_ID = "lineage-tracer"
SAMPLE_ROWS = 200


def lineage_table(
    golden: pl.DataFrame, rules: dict[str, str], include_values: bool
) -> pl.DataFrame:
    fields = data_columns(golden)
    members = golden[MEMBERS].cast(pl.List(pl.String)).list.join(";")
    parts = []
    for f in fields:
        cols = [
            golden[CLUSTER_ID].alias("golden_id"),
            pl.Series("field", [f] * golden.height, dtype=pl.String),
            pl.Series("rule", [rules.get(f, "most_complete")] * golden.height, dtype=pl.String),
            golden[SRC_PREFIX + f].alias("source_row_id"),
            members.alias("contributing_row_ids"),
            golden[CONF_PREFIX + f].alias("confidence"),
        ]
        if include_values:
            cols.append(golden[f].cast(pl.String).alias("value"))
        parts.append(pl.DataFrame(cols))
    if not parts:
        return pl.DataFrame(
            schema={
                "golden_id": pl.Int64,
                "field": pl.String,
                "rule": pl.String,
                "source_row_id": pl.Int64,
                "contributing_row_ids": pl.String,
                "confidence": pl.Float64,
            }
        )
    return pl.concat(parts).sort("golden_id", maintain_order=True)


def run(frame: pl.DataFrame, params: LineageTracerParams, ctx: AgentContext) -> AgentResult:
    p: LineageTracerParams = params
    golden, rules = ensure_golden(frame, ctx)
    table = lineage_table(golden, rules, p.include_values)
    per_field = (
        table.group_by("field", maintain_order=True)
        .agg(
            pl.col("rule").first(),
            pl.col("source_row_id").is_not_null().sum().alias("traced"),
            pl.col("source_row_id").is_null().sum().alias("missing"),
            pl.col("confidence").mean().round(6).alias("mean_confidence"),
        )
        .to_dicts()
        if table.height
        else []
    )
    multi = int((golden[MEMBERS].list.len() > 1).sum()) if golden.height else 0
    return AgentResult(
        agent_id=AGENT_ID,
        summary_metrics={
            "golden_records": golden.height,
            "lineage_rows": table.height,
            "multi_source_records": multi,
        },
        data={
            "fields": per_field,
            "include_values": p.include_values,
            "sample": table.head(SAMPLE_ROWS).to_dicts(),
        },
        executive_summary=[SummaryItem("Lineage entries", table.height, "info")],
    )
