"""lineage-tracer: for each golden record field, which source rows and which rule produced it.

A lineage row: ``golden_id``, ``field``, ``rule``, ``source_row_id`` (the row that supplied
the surviving value), ``contributing_row_ids`` (every source row of the cluster, ``;``-joined),
``confidence`` and, with ``include_values``, the ``value``. The complete table is written by
master-writeback-agent (``lineage.csv``, streamed by slices of golden records); this agent
reports per-field summaries and a sample, computed from the golden frame's columns without
building the table (golden records x fields rows).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

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


#: golden records per slice of the streamed lineage table
SLICE_ROWS = 100_000


def lineage_slices(
    golden: pl.DataFrame, rules: dict[str, str], include_values: bool
) -> Iterator[pl.DataFrame]:
    """The lineage table in order (by golden id, fields in column order), slice by slice of
    golden records: the same rows as :func:`lineage_table` without holding them all."""
    if golden.height and not golden[CLUSTER_ID].is_sorted():
        golden = golden.sort(CLUSTER_ID)
    if golden.height == 0:
        yield lineage_table(golden, rules, include_values)
        return
    for start in range(0, golden.height, SLICE_ROWS):
        yield lineage_table(golden.slice(start, SLICE_ROWS), rules, include_values)


def _per_field(golden: pl.DataFrame, rules: dict[str, str]) -> list[dict[str, object]]:
    if golden.height == 0:
        return []
    out: list[dict[str, object]] = []
    for f in data_columns(golden):
        src, conf = golden[SRC_PREFIX + f], golden[CONF_PREFIX + f]
        mean = conf.mean()
        out.append(
            {
                "field": f,
                "rule": rules.get(f, "most_complete"),
                "traced": golden.height - src.null_count(),
                "missing": src.null_count(),
                "mean_confidence": None if mean is None else round(float(mean), 6),  # type: ignore[arg-type]
            }
        )
    return out


def run(frame: pl.DataFrame, params: LineageTracerParams, ctx: AgentContext) -> AgentResult:
    p: LineageTracerParams = params
    golden, rules = ensure_golden(frame, ctx)
    fields = data_columns(golden)
    per_field = _per_field(golden, rules)
    # the sample: the table's first rows, from the golden records with the smallest ids
    head_rows = math.ceil(SAMPLE_ROWS / max(len(fields), 1))
    head = golden.filter(pl.col(CLUSTER_ID).is_in(golden[CLUSTER_ID].bottom_k(head_rows).implode()))
    sample = lineage_table(head, rules, p.include_values).head(SAMPLE_ROWS)
    multi = int((golden[MEMBERS].list.len() > 1).sum()) if golden.height else 0
    return AgentResult(
        agent_id=AGENT_ID,
        summary_metrics={
            "golden_records": golden.height,
            "lineage_rows": golden.height * len(fields),
            "multi_source_records": multi,
        },
        data={
            "fields": per_field,
            "include_values": p.include_values,
            "sample": sample.to_dicts(),
        },
        executive_summary=[SummaryItem("Lineage entries", golden.height * len(fields), "info")],
    )
