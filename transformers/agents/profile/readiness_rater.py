"""readiness-rater: READY / NEEDS_REVIEW / NOT_READY with every deduction that led there.

Uses unified-profiler's result from ``ctx.results`` when it ran successfully in this task, and
profiles the frame itself (default parameters) otherwise. Duplicates are computed here (not
searched for when the profile shows a key: a non-float column without nulls whose values are all
distinct).

Score = 100 - sum of deductions (floored at 0); every deduction is listed with its points and
only non-zero deductions are listed, so each listed one changes the score::

    completeness  min(30, 1.0 * missing-cell %)                      (profiler completeness)
    consistency   min(15, 1.0 * inconsistent-cell %)                 (profiler consistency)
    validity      min(15, 1.0 * invalid-cell %)                      (profiler validity)
    schema health min(20, 5 per problem column)   empty, mixed-type or constant columns
    duplicates    min(20, 2.0 * exact duplicate row %)               (all columns but the row id)
    outliers      min(10, 1.0 * IQR-outlier % of numeric cells)

Status: READY when score >= ``ready_threshold``, NEEDS_REVIEW when >= ``review_threshold``,
else NOT_READY; a data set with no rows or no columns is NOT_READY.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from transformers.agents.profile import unified_profiler
from transformers.agents.profile.stats import Ids, data_columns, pct
from transformers.contract import (
    ROW_ID,
    AgentContext,
    AgentResult,
    AgentStatus,
    Alert,
    Issue,
    Recommendation,
    RowIssueBlock,
    RowIssues,
    SummaryItem,
)
from transformers.params.profile import ReadinessRaterParams, UnifiedProfilerParams

AGENT_ID = "readiness-rater"
CAPS = {
    "completeness": 30.0,
    "consistency": 15.0,
    "validity": 15.0,
    "schema_health": 20.0,
    "duplicates": 20.0,
    "outliers": 10.0,
}


def profile_of(frame: pl.DataFrame, ctx: AgentContext) -> tuple[dict[str, Any], str]:
    """unified-profiler's data from this task, or computed now; and where it came from."""
    prior = ctx.results.get(unified_profiler.AGENT_ID)
    if prior is not None and prior.status == AgentStatus.SUCCESS and prior.data.get("columns"):
        return prior.data, "unified-profiler result"
    own = unified_profiler.run(frame, UnifiedProfilerParams(), ctx)
    return own.data, "computed (unified-profiler did not run)"


DUPLICATE_MESSAGE = "exact duplicate of an earlier row"


def _duplicates(frame: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    """The row ids of rows equal (in every data column) to an earlier row, in row order.

    A working copy asks DuckDB (a hash aggregate over all columns that spills); in memory it is
    polars' ``is_first_distinct`` over the row struct. Nulls equal nulls in both."""
    on_disk = getattr(frame, "duplicate_row_ids", None)
    if on_disk is not None:
        ids: pl.DataFrame = on_disk(cols)
        return ids
    mask = frame.select(pl.struct(cols).is_first_distinct().not_().alias("dup"))
    return frame.filter(mask.get_column("dup")).select(ROW_ID)


def run(frame: pl.DataFrame, params: ReadinessRaterParams, ctx: AgentContext) -> AgentResult:
    ids = Ids("RR")
    result = AgentResult(agent_id=AGENT_ID)
    cols = data_columns(frame)
    n = frame.height
    profile, source = profile_of(frame, ctx)
    q = profile["quality"]
    profiles: dict[str, dict[str, Any]] = profile["columns"]

    dup_rows = pl.DataFrame({ROW_ID: []}, schema={ROW_ID: pl.Int64})
    if n and cols and not any(_is_key(frame.schema[c], profiles.get(c), n) for c in cols):
        dup_rows = _duplicates(frame, cols)
    dup_count = dup_rows.height
    dup_pct = pct(dup_count, n)
    problems = {
        c: reason for c, p in profiles.items() if (reason := _schema_problem(p, n)) is not None
    }
    numeric_cells = sum(p["count"] for p in profiles.values() if p["kind"] == "numeric")
    outlier_cells = sum(p.get("outlier_count", 0) for p in profiles.values())
    outlier_pct = pct(outlier_cells, numeric_cells)

    raw = {
        "completeness": 100 - q["completeness"] if q["total_cells"] else 0.0,
        "consistency": 100 - q["consistency"] if q["total_cells"] else 0.0,
        "validity": 100 - q["validity"] if q["total_cells"] else 0.0,
        "schema_health": 5.0 * len(problems),
        "duplicates": 2.0 * dup_pct,
        "outliers": outlier_pct,
    }
    why = {
        "completeness": f"{raw['completeness']:.2f}% of cells are missing",
        "consistency": f"{raw['consistency']:.2f}% of values are outliers or space-padded",
        "validity": f"{raw['validity']:.2f}% of values do not fit their column's type",
        "schema_health": f"{len(problems)} problem column(s): "
        + ", ".join(f"{c} ({r})" for c, r in list(problems.items())[:10]),
        "duplicates": f"{dup_count} duplicate row(s) ({dup_pct:.2f}%)",
        "outliers": f"{outlier_pct:.2f}% of numeric values are IQR outliers",
    }
    deductions: list[dict[str, Any]] = []
    for key, cap in CAPS.items():
        points = min(cap, max(0.0, raw[key]))
        if points > 0:
            deductions.append({"component": key, "points": points, "cap": cap, "reason": why[key]})
    score = max(0.0, 100.0 - sum(d["points"] for d in deductions))
    if n == 0 or not cols:
        status, score = "NOT_READY", 0.0
        deductions.append(
            {"component": "data_volume", "points": 100.0, "cap": 100.0,
             "reason": "no rows" if cols else "no columns"}
        )  # fmt: skip
    elif score >= params.ready_threshold:
        status = "READY"
    elif score >= params.review_threshold:
        status = "NEEDS_REVIEW"
    else:
        status = "NOT_READY"

    result.row_level_issues = RowIssues(
        [RowIssueBlock(dup_rows, None, "duplicate_row", "low", DUPLICATE_MESSAGE, "")]
    )
    result.data = {
        "status": status,
        "score": score,
        "deductions": deductions,
        "thresholds": {"ready": params.ready_threshold, "review": params.review_threshold},
        "components": {
            "completeness": q["completeness"],
            "consistency": q["consistency"],
            "validity": q["validity"],
            "schema_problems": problems,
            "duplicate_rows": len(dup_rows),
            "duplicate_pct": dup_pct,
            "outlier_pct": outlier_pct,
        },
        "profile_source": source,
    }
    result.summary_metrics = {
        "readiness_score": score,
        "ready": int(status == "READY"),
        "deductions": len(deductions),
        "duplicate_rows": len(dup_rows),
        "schema_problem_columns": len(problems),
    }
    for d in deductions:
        result.issues.append(
            Issue(ids.next("I"), None, f"deduction_{d['component']}",
                  "high" if d["points"] >= 10 else "medium" if d["points"] >= 3 else "low",
                  f"-{d['points']:.2f}: {d['reason']}")
        )  # fmt: skip
    if status != "READY":
        result.alerts.append(
            Alert(ids.next("A"), "high" if status == "NOT_READY" else "medium", "readiness",
                  f"Data is {status} (score {score:.1f})", len(problems),
                  "Address the largest deductions first.")
        )  # fmt: skip
    for d in sorted(deductions, key=lambda d: -d["points"])[:3]:
        result.recommendations.append(
            Recommendation(ids.next("R"), "high" if d["points"] >= 10 else "medium",
                           f"Reduce the {d['component']} deduction: {d['reason']}.",
                           "medium")
        )  # fmt: skip
    result.executive_summary = [
        SummaryItem("Readiness", status,
                    {"READY": "good", "NEEDS_REVIEW": "warning"}.get(status, "critical")),
        SummaryItem("Readiness score", round(score, 1), "info"),
    ]  # fmt: skip
    return result


def _is_key(dtype: pl.DataType, p: dict[str, Any] | None, n: int) -> bool:
    """A column without nulls whose ``n`` values are all distinct: no two rows can be equal, so
    the duplicate search is skipped. Not for floats, whose equality (NaN, -0.0) is subtle."""
    if p is None or dtype.is_float() or dtype.is_nested() or dtype in (pl.Null, pl.Object):
        return False
    return bool(p.get("null_count") == 0 and p.get("distinct_count") == n)


def _schema_problem(p: dict[str, Any], n: int) -> str | None:
    if p["inferred_type"] == "empty":
        return "empty"
    if p["inferred_type"] == "mixed":
        return "mixed types"
    if n > 1 and p["count"] == n and p["distinct_count"] == 1:
        return "constant"
    return None
