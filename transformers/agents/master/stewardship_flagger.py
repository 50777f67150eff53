"""stewardship-flagger: review tasks for data stewards, one per flagged record and reason.

Task types (every flagged golden record, not a sample; the full queue is ``row_level_issues``
and master-writeback's ``stewardship_queue.csv``):

* ``low_confidence_merge``: a multi-source golden record whose ``trust_score`` (weakest
  joining match probability) is below ``low_confidence_threshold``;
* ``conflict``: a field whose surviving value has decision confidence below the threshold
  (sources disagreed);
* ``missing_required``: a ``required_fields`` value missing in the golden record;
* ``invalid_format``: an email, phone, postcode, national id or date value that breaks its
  format.

``row_id`` of a task is the golden record's id (its ``cluster_id``).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from transformers.agents.master._common import (
    CLUSTER_ID,
    CONF_PREFIX,
    SOURCE_COUNT,
    TRUST_SCORE,
    data_columns,
    ensure_golden,
    invalid_mask,
    role_of,
)
from transformers.contract import ROW_ID, AgentContext, AgentResult, Alert, RowIssue, SummaryItem
from transformers.params.master import StewardshipFlaggerParams

AGENT_ID = "stewardship-flagger"


def tasks(
    frame: pl.DataFrame, params: StewardshipFlaggerParams, ctx: AgentContext
) -> list[RowIssue]:
    golden, _ = ensure_golden(frame, ctx)
    thr = params.low_confidence_threshold
    ids = golden[ROW_ID]
    out: list[RowIssue] = []

    def add(
        mask: pl.Series, col: str | None, kind: str, sev: str, values: pl.Series, msg: Any
    ) -> None:
        idx = mask.fill_null(False).arg_true()
        for r, v in zip(ids.gather(idx).to_list(), values.gather(idx).to_list(), strict=True):
            out.append(RowIssue(int(r), col, kind, sev, v, msg(v) if callable(msg) else msg))

    if TRUST_SCORE in golden.columns and SOURCE_COUNT in golden.columns:
        mask = (golden[SOURCE_COUNT] > 1) & (golden[TRUST_SCORE] < thr)
        add(
            mask,
            CLUSTER_ID,
            "low_confidence_merge",
            "high",
            golden[TRUST_SCORE],
            lambda v: f"merge confidence {v:.3f} below {thr}",
        )
    fields = data_columns(golden)
    for f in fields:
        conf = CONF_PREFIX + f
        if conf in golden.columns and SOURCE_COUNT in golden.columns:
            mask = (golden[SOURCE_COUNT] > 1) & golden[f].is_not_null() & (golden[conf] < thr)
            add(
                mask,
                f,
                "conflict",
                "medium",
                golden[f],
                lambda v: f"sources disagree; surviving value {v!r} has low support",
            )
    for name in params.required_fields:
        col = ctx.resolve(name, golden)
        add(
            golden[col].is_null(),
            col,
            "missing_required",
            "high",
            golden[col],
            "required value missing",
        )
    for f in fields:
        role = role_of(f)
        if role is None:
            continue
        bad = invalid_mask(golden[f], role)
        if bad is not None:
            add(bad, f, "invalid_format", "medium", golden[f], f"value is not a valid {role}")
    return out


def run(frame: pl.DataFrame, params: StewardshipFlaggerParams, ctx: AgentContext) -> AgentResult:
    p: StewardshipFlaggerParams = params
    queue = tasks(frame, p, ctx)
    counts: dict[str, int] = {}
    for t in queue:
        counts[t.issue_type] = counts.get(t.issue_type, 0) + 1
    records = len({t.row_id for t in queue})
    alerts = []
    if queue:
        alerts.append(
            Alert(
                "stewardship-queue",
                "medium" if counts.get("low_confidence_merge") else "low",
                "stewardship",
                f"{len(queue)} review tasks on {records} golden records",
                len({t.column for t in queue}),
                "Work through stewardship_queue.csv",
            )
        )
    return AgentResult(
        agent_id=AGENT_ID,
        summary_metrics={"tasks": len(queue), "records_flagged": records, **counts},
        data={"task_counts": counts, "low_confidence_threshold": p.low_confidence_threshold},
        alerts=alerts,
        row_level_issues=queue,
        executive_summary=[
            SummaryItem("Stewardship tasks", len(queue), "warning" if queue else "good")
        ],
    )
