"""AgentResult <-> JSON-able dict, for checkpoints (resume after a crash) and for the report.

The frame is not part of the dict: a checkpointed frame is stored as Parquet beside it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import math
from typing import Any

from transformers.contract import (
    AgentResult,
    AgentStatus,
    Alert,
    Change,
    ChangeKind,
    Changes,
    Issue,
    OutputFile,
    Recommendation,
    RowIssue,
    RowIssues,
    SummaryItem,
)


def jsonable(value: Any) -> Any:
    """Make a value JSON-serialisable without losing what it says (dates ISO, NaN -> None)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset | Changes | RowIssues):
        return [jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def result_to_dict(
    result: AgentResult, *, row_issue_cap: int | None = None, change_cap: int | None = None
) -> dict[str, Any]:
    """The result as JSON-able data; ``row_issue_cap`` keeps only the first row issues and
    ``change_cap`` only the first changes (the report's samples), without building the
    others."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(result):
        if f.name == "frame":
            continue
        value = getattr(result, f.name)
        if f.name == "row_level_issues":
            rows = value if row_issue_cap is None else value[:row_issue_cap]
            out[f.name] = [jsonable(r) for r in rows]
        elif f.name == "changes":
            changes = value if change_cap is None else value[:change_cap]
            out[f.name] = [jsonable(c) for c in changes]
        elif f.name == "outputs":
            out[f.name] = [
                {"name": o.name, "kind": o.kind, "content_type": o.content_type, "size": o.size}
                for o in value
            ]
        else:
            out[f.name] = jsonable(value)
    return out


def result_from_dict(data: dict[str, Any]) -> AgentResult:
    return AgentResult(
        agent_id=data["agent_id"],
        status=AgentStatus(data.get("status", "success")),
        duration_ms=int(data.get("duration_ms", 0)),
        summary_metrics=dict(data.get("summary_metrics", {})),
        data=dict(data.get("data", {})),
        alerts=[Alert(**a) for a in data.get("alerts", [])],
        issues=[Issue(**i) for i in data.get("issues", [])],
        recommendations=[Recommendation(**r) for r in data.get("recommendations", [])],
        executive_summary=[SummaryItem(**s) for s in data.get("executive_summary", [])],
        row_level_issues=[RowIssue(**r) for r in data.get("row_level_issues", [])],
        changes=[Change(**{**c, "kind": ChangeKind(c["kind"])}) for c in data.get("changes", [])],
        # Outputs were uploaded when the agent finished; only their names survive a resume.
        outputs=[
            OutputFile(
                name=o["name"],
                path=None,
                kind=o["kind"],
                content_type=o.get("content_type", "application/octet-stream"),
                size=o.get("size"),
            )
            for o in data.get("outputs", [])
        ],
        renames=dict(data.get("renames", {})),
        error_code=data.get("error_code"),
        error=data.get("error"),
    )
