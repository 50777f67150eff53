"""The task report: one JSON-serialisable dict computed from the agents' results.

Everything in it is derived from the findings (no canned text): counts by severity, agents by
status, the dataset quality grade an agent reported, change counts, and the recommended next tool
from the rule table in ``next_tool``. Row-level issues and change-log entries are capped per
agent in the JSON (``ROW_ISSUE_CAP``); the complete lists go to the CSV outputs.

Where the grade comes from: the first successful agent whose ``data`` has ``quality_grade``
(or ``grade``, or ``quality: {grade}``); the score from ``summary_metrics`` / ``data``
``quality_score`` (or ``overall_score``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from transformers.contract import ROW_ID, AgentResult, AgentStatus, InputInfo
from transformers.registry import ToolSpec
from transformers.report.next_tool import compute_signals, recommend_next_tool
from transformers.serialization import jsonable, result_to_dict

ROW_ISSUE_CAP = 1000
CHANGE_CAP = 1000
SKIPPED_LINES_CAP = 1000

SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")
PRIORITY_ORDER = ("high", "medium", "low")


def _rank(value: str, order: tuple[str, ...]) -> int:
    value = str(value).lower()
    return order.index(value) if value in order else len(order)


def _agent_entry(result: AgentResult, spec_title: str | None) -> dict[str, Any]:
    entry = result_to_dict(result, row_issue_cap=ROW_ISSUE_CAP, change_cap=CHANGE_CAP)
    total = len(result.row_level_issues)
    entry["row_level_issues_total"] = total
    entry["row_level_issues_truncated"] = total > ROW_ISSUE_CAP
    changes = len(result.changes)
    entry["changes_total"] = changes
    entry["changes_truncated"] = changes > CHANGE_CAP
    if spec_title:
        entry["title"] = spec_title
    return entry


def _merged(results: list[AgentResult], attr: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in results:
        for item in getattr(r, attr):
            out.append({"agent_id": r.agent_id, **jsonable(item)})
    return out


def _quality(results: list[AgentResult]) -> dict[str, Any] | None:
    for r in results:
        if r.status != AgentStatus.SUCCESS:
            continue
        nested = r.data.get("quality")
        quality: dict[str, Any] = nested if isinstance(nested, dict) else {}
        grade = r.data.get("quality_grade", r.data.get("grade", quality.get("grade")))
        score = r.summary_metrics.get(
            "quality_score",
            r.data.get(
                "quality_score", quality.get("score", r.summary_metrics.get("overall_score"))
            ),
        )
        if grade is not None or score is not None:
            return {"agent_id": r.agent_id, "grade": jsonable(grade), "score": jsonable(score)}
    return None


def _change_table(results: list[AgentResult]) -> Any:
    """Every change of every result as a frame (agent, kind, rule, column, row id), in order;
    ``Changes`` blocks without building their ``Change`` objects."""
    import polars as pl

    from transformers.contract import ChangeBlock, Changes

    schema = {
        "agent": pl.String,
        "kind": pl.String,
        "rule": pl.String,
        "column": pl.String,
        "row_id": pl.Int64,
    }
    parts: list[pl.DataFrame] = []

    def objects(agent: str, changes: Any) -> pl.DataFrame:
        changes = list(changes)
        return pl.DataFrame(
            {
                "agent": [agent] * len(changes),
                "kind": [str(c.kind) for c in changes],
                "rule": [str(c.rule) for c in changes],
                "column": [c.column for c in changes],
                "row_id": [c.row_id for c in changes],
            },
            schema=schema,
        )

    for r in results:
        if not isinstance(r.changes, Changes):
            parts.append(objects(r.agent_id, r.changes))
            continue
        for p in r.changes.parts:
            if not isinstance(p, ChangeBlock):
                parts.append(objects(r.agent_id, p))
                continue
            column = p.column if "after" in p.frame.columns else None
            parts.append(
                p.frame.select(
                    pl.lit(r.agent_id, pl.String).alias("agent"),
                    pl.lit(str(p.kind), pl.String).alias("kind"),
                    pl.col("rule").cast(pl.String).fill_null("None"),  # str(None), as objects
                    pl.lit(column, pl.String).alias("column"),
                    pl.col(ROW_ID).cast(pl.Int64).alias("row_id"),
                )
            )
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)


def _most_common(table: Any, keys: list[str]) -> list[tuple[Any, ...]]:
    """``Counter(rows of keys).most_common()``: by count, ties in order of first appearance."""
    counts = table.group_by(keys, maintain_order=True).len("n")
    return list(counts.sort("n", descending=True, maintain_order=True).iter_rows())


def _change_summary(results: list[AgentResult]) -> dict[str, Any] | None:
    if not any(r.changes for r in results):
        return None
    import polars as pl

    table = _change_table(results)
    by_agent: dict[str, dict[str, int]] = {}
    for agent, kind, n in table.group_by(["agent", "kind"], maintain_order=True).len("n").rows():
        by_agent.setdefault(agent, {})[kind] = n
    by_agent = {a: dict(sorted(counts.items())) for a, counts in by_agent.items()}
    by_kind = dict(sorted(table.group_by("kind").len("n").rows()))
    columns = _most_common(table.filter(pl.col("column").is_not_null()), ["column"])[:10]
    rules = _most_common(table, ["agent", "rule", "kind"])
    return {
        "total": table.height,
        "by_kind": by_kind,
        "by_agent": by_agent,
        "rows_affected": table.get_column("row_id").drop_nulls().n_unique(),
        "top_columns": [{"column": c, "changes": n} for c, n in columns],
        "by_agent_rule": [
            {"agent_id": a, "rule": rule, "kind": kind, "count": n} for a, rule, kind, n in rules
        ],
    }


def _status_item(count: int, bad: str) -> str:
    return bad if count else "good"


def _executive_summary(
    results: list[AgentResult],
    inputs: dict[str, InputInfo],
    alerts: list[dict[str, Any]],
    issues: list[dict[str, Any]],
    quality: dict[str, Any] | None,
    changes: dict[str, Any] | None,
    next_tool: dict[str, Any] | None,
) -> dict[str, Any]:
    primary = inputs.get("primary")
    statuses = Counter(str(r.status) for r in results)
    alerts_by = {s: 0 for s in SEVERITY_ORDER} | dict(
        Counter(str(a.get("severity", "")).lower() for a in alerts)
    )
    issues_by = {s: 0 for s in SEVERITY_ORDER} | dict(
        Counter(str(i.get("severity", "")).lower() for i in issues)
    )
    row_issues = sum(len(r.row_level_issues) for r in results)
    failed = [
        {"agent_id": r.agent_id, "error_code": r.error_code, "error": r.error}
        for r in results
        if r.status == AgentStatus.FAILED
    ]
    skipped = [
        {"agent_id": r.agent_id, "reason": r.error}
        for r in results
        if r.status == AgentStatus.SKIPPED
    ]
    summary: dict[str, Any] = {
        "rows": primary.rows if primary else None,
        "columns": primary.columns if primary else None,
        "agents": {
            "total": len(results),
            "succeeded": statuses.get(str(AgentStatus.SUCCESS), 0),
            "failed": statuses.get(str(AgentStatus.FAILED), 0),
            "skipped": statuses.get(str(AgentStatus.SKIPPED), 0),
        },
        "failed_agents": failed,
        "skipped_agents": skipped,
        "alerts_by_severity": alerts_by,
        "issues_by_severity": issues_by,
        "row_level_issues": row_issues,
        "skipped_input_lines": sum(len(i.skipped_lines) for i in inputs.values()),
        "quality": quality,
        "changes": (
            {"total": changes["total"], "by_kind": changes["by_kind"]} if changes else None
        ),
    }
    critical_high = alerts_by.get("critical", 0) + alerts_by.get("high", 0)
    items: list[dict[str, Any]] = []
    if primary is not None:
        items.append(
            {
                "title": "Rows analysed",
                "value": primary.rows,
                "status": "info" if primary.rows else "warning",
            }
        )
        items.append({"title": "Columns", "value": primary.columns, "status": "info"})
    items.append(
        {
            "title": "Agents succeeded",
            "value": f"{summary['agents']['succeeded']}/{len(results)}",
            "status": "critical" if failed else "good",
        }
    )
    items.append(
        {
            "title": "Critical and high alerts",
            "value": critical_high,
            "status": "critical"
            if alerts_by.get("critical")
            else _status_item(critical_high, "warning"),
        }
    )
    items.append(
        {
            "title": "Row-level issues",
            "value": row_issues,
            "status": _status_item(row_issues, "warning"),
        }
    )
    if quality is not None and quality.get("grade") is not None:
        grade = str(quality["grade"]).upper()[:1]
        items.append(
            {
                "title": "Quality grade",
                "value": quality["grade"],
                "status": "good" if grade in "AB" else "warning" if grade == "C" else "critical",
            }
        )
    if changes:
        items.append({"title": "Changes applied", "value": changes["total"], "status": "info"})
    if next_tool is not None:
        items.append(
            {"title": "Recommended next tool", "value": next_tool["tool_id"], "status": "info"}
        )
    summary["items"] = items
    return summary


def build_report(
    *,
    task_id: str,
    tool: ToolSpec,
    results: list[AgentResult],
    inputs: dict[str, InputInfo],
    timings: dict[str, int],
) -> dict[str, Any]:
    """The task report (JSON-serialisable). See the module doc for what is computed how."""
    titles = {a.agent_id: a.title for a in tool.agents}
    failed = any(r.status == AgentStatus.FAILED for r in results)
    alerts = sorted(
        _merged(results, "alerts"), key=lambda a: _rank(a.get("severity", ""), SEVERITY_ORDER)
    )
    issues = sorted(
        _merged(results, "issues"), key=lambda i: _rank(i.get("severity", ""), SEVERITY_ORDER)
    )
    recommendations = sorted(
        _merged(results, "recommendations"),
        key=lambda r: _rank(r.get("priority", ""), PRIORITY_ORDER),
    )
    quality = _quality(results)
    changes = _change_summary(results)
    primary = inputs.get("primary")
    signals = compute_signals(
        tool.tool_id,
        results,
        primary.rows if primary else 0,
        None if quality is None or quality.get("grade") is None else str(quality["grade"]),
    )
    next_tool = recommend_next_tool(signals)
    input_entries: dict[str, Any] = {}
    for role, info in inputs.items():
        entry = jsonable(info)
        total = len(info.skipped_lines)
        entry["skipped_lines"] = entry["skipped_lines"][:SKIPPED_LINES_CAP]
        entry["skipped_lines_total"] = total
        entry["skipped_lines_truncated"] = total > SKIPPED_LINES_CAP
        input_entries[role] = entry
    report: dict[str, Any] = {
        "task_id": task_id,
        "tool_id": tool.tool_id,
        "tool_title": tool.title,
        "status": "completed_with_errors" if failed else "completed",
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "timings": dict(timings),
        "inputs": input_entries,
        "executive_summary": _executive_summary(
            results, inputs, alerts, issues, quality, changes, next_tool
        ),
        "recommended_next_tool": next_tool,
        "signals": jsonable(signals.as_dict()),
        "agents": [_agent_entry(r, titles.get(r.agent_id)) for r in results],
        "alerts": alerts,
        "issues": issues,
        "recommendations": recommendations,
        "row_level_issues_total": sum(len(r.row_level_issues) for r in results),
    }
    if changes is not None:
        report["change_summary"] = changes
    return jsonable(report)  # type: ignore[no-any-return]
