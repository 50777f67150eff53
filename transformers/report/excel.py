"""The report workbook: a Summary sheet, then one sheet per agent.

Every text cell goes through ``neutralize_cell`` (formula injection), and xlsxwriter's string
auto-conversions (formulas, numbers, URLs) are off.

The workbook holds summaries and at most a bounded sample of row-level data: an agent's sheet
lists its first ``SHEET_ROW_CAP`` row-level issues under a line saying "showing N of M" and
which output has them all; its size never grows with the input's rows.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from transformers.io.neutralize import neutralize_cell

__all__ = ["neutralize_cell", "sheet_names", "write_report_workbook"]

_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
SHEET_ROW_CAP = 1000  # row-level issues per agent sheet; the row-level output has them all


def sheet_names(wanted: list[str], reserved: tuple[str, ...] = ("Summary",)) -> list[str]:
    """Excel-valid, unique (case-insensitively) sheet names of at most 31 characters."""
    used = {r.lower() for r in reserved}
    out: list[str] = []
    for name in wanted:
        base = _BAD_SHEET_CHARS.sub("_", name).strip("'") or "agent"
        candidate = base[:31]
        n = 2
        while candidate.lower() in used:
            suffix = f"~{n}"
            candidate = base[: 31 - len(suffix)] + suffix
            n += 1
        used.add(candidate.lower())
        out.append(candidate)
    return out


class _Sheet:
    def __init__(self, workbook: Any, name: str) -> None:
        self.ws = workbook.add_worksheet(name)
        self.bold = workbook.add_format({"bold": True})
        self.title = workbook.add_format({"bold": True, "font_size": 13})
        self.row = 0
        self.widths: dict[int, int] = {}

    def cell(self, col: int, value: Any, fmt: Any = None) -> None:
        if value is None:
            return
        if isinstance(value, bool):
            self.ws.write_boolean(self.row, col, value, fmt)
            return
        if isinstance(value, int | float) and abs(value) < 2**53:
            self.ws.write_number(self.row, col, value, fmt)
            return
        text = (
            json.dumps(value, ensure_ascii=False, default=str)
            if isinstance(value, dict | list)
            else str(value)
        )
        text = neutralize_cell(text)[:32767]
        self.ws.write_string(self.row, col, text, fmt)
        self.widths[col] = max(self.widths.get(col, 8), min(len(text), 60))

    def line(self, values: list[Any], fmt: Any = None) -> None:
        for col, value in enumerate(values):
            self.cell(col, value, fmt)
        self.row += 1

    def heading(self, text: str) -> None:
        if self.row:
            self.row += 1
        self.line([text], self.title)

    def table(self, columns: list[str], rows: list[dict[str, Any]]) -> None:
        self.line(list(columns), self.bold)
        for r in rows:
            self.line([r.get(c) for c in columns])

    def finish(self) -> None:
        for col, width in self.widths.items():
            self.ws.set_column(col, col, width + 2)


ALERT_COLUMNS = [
    "agent_id",
    "severity",
    "category",
    "message",
    "affected_fields_count",
    "recommendation",
    "id",
]
ISSUE_COLUMNS = ["agent_id", "severity", "field", "issue_type", "message", "id"]
REC_COLUMNS = ["agent_id", "priority", "text", "effort", "id"]
ROW_ISSUE_COLUMNS = ["row_id", "column", "issue_type", "severity", "value", "message"]


def write_report_workbook(
    report: dict[str, Any], path: Path, model: dict[str, Any] | None = None
) -> None:
    """Summary, then the report model's sections (the same tables and chart data as
    report.html), then one sheet per agent."""
    import xlsxwriter

    from transformers.report.model import report_model

    model = model or report_model(report)

    workbook = xlsxwriter.Workbook(
        str(path),
        {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False},
    )
    try:
        _summary_sheet(workbook, report)
        sections = [s for s in model["sections"] if s["id"] not in ("alerts", "agents")]
        agents = report.get("agents", [])
        names = sheet_names(
            [s["title"] for s in sections] + [a.get("agent_id", "agent") for a in agents]
        )
        for section, name in zip(sections, names, strict=False):
            _section_sheet(workbook, name, section)
        names = names[len(sections) :]
        rows_file = _row_issues_output(report)
        for agent, name in zip(agents, names, strict=True):
            _agent_sheet(workbook, name, agent, rows_file)
    finally:
        workbook.close()


def _summary_sheet(workbook: Any, report: dict[str, Any]) -> None:
    s = _Sheet(workbook, "Summary")
    s.line(["Task", report.get("task_id")], s.bold)
    for key in ("tool_id", "status", "generated_at"):
        s.line([key, report.get(key)])
    summary = report.get("executive_summary", {})
    s.heading("Executive summary")
    s.table(["title", "value", "status"], summary.get("items", []))
    nxt = report.get("recommended_next_tool")
    s.heading("Recommended next tool")
    s.line(["tool_id", nxt["tool_id"] if nxt else "none"])
    if nxt:
        s.line(["reason", nxt.get("reason")])
    s.heading("Alerts by severity")
    s.table(
        ["severity", "count"],
        [{"severity": k, "count": v} for k, v in summary.get("alerts_by_severity", {}).items()],
    )
    s.heading("Agents")
    s.table(
        ["agent_id", "status", "duration_ms", "alerts", "issues", "row_level_issues", "error"],
        [
            {
                "agent_id": a.get("agent_id"),
                "status": a.get("status"),
                "duration_ms": a.get("duration_ms"),
                "alerts": len(a.get("alerts", [])),
                "issues": len(a.get("issues", [])),
                "row_level_issues": a.get("row_level_issues_total"),
                "error": a.get("error"),
            }
            for a in report.get("agents", [])
        ],
    )
    s.heading("Inputs")
    s.table(
        ["role", "filename", "format", "encoding", "rows", "columns", "skipped_lines_total"],
        [{"role": role, **info} for role, info in report.get("inputs", {}).items()],
    )
    if report.get("change_summary"):
        s.heading("Changes by kind")
        s.table(
            ["kind", "count"],
            [{"kind": k, "count": v} for k, v in report["change_summary"]["by_kind"].items()],
        )
    s.heading("Alerts")
    s.table(ALERT_COLUMNS, report.get("alerts", []))
    s.heading("Recommendations")
    s.table(REC_COLUMNS, report.get("recommendations", []))
    s.finish()


def _row_issues_output(report: dict[str, Any]) -> str:
    """The output that holds every row-level issue (CSV, or Parquet when large)."""
    for o in report.get("outputs", []):
        name = str(o.get("name", ""))
        if o.get("kind") == "issues" and "agent_id" not in o and "row_level_issues" in name:
            return name
    return "row_level_issues.csv"


def _agent_sheet(workbook: Any, name: str, agent: dict[str, Any], rows_file: str) -> None:
    s = _Sheet(workbook, name)
    s.line(["Agent", agent.get("agent_id")], s.bold)
    for key in ("title", "status", "duration_ms", "error_code", "error"):
        if agent.get(key) is not None:
            s.line([key, agent.get(key)])
    s.heading("Summary metrics")
    s.table(
        ["metric", "value"],
        [{"metric": k, "value": v} for k, v in agent.get("summary_metrics", {}).items()],
    )
    if agent.get("executive_summary"):
        s.heading("Executive summary")
        s.table(["title", "value", "status"], agent["executive_summary"])
    s.heading("Alerts")
    s.table(ALERT_COLUMNS[1:], agent.get("alerts", []))
    s.heading("Issues")
    s.table(ISSUE_COLUMNS[1:], agent.get("issues", []))
    s.heading("Recommendations")
    s.table(REC_COLUMNS[1:], agent.get("recommendations", []))
    rows = agent.get("row_level_issues", [])[:SHEET_ROW_CAP]
    total = agent.get("row_level_issues_total", len(rows))
    s.heading(f"Row-level issues ({total})")
    if total > len(rows):
        s.line([f"Showing {len(rows)} of {total}; all {total} are in {rows_file}."])
    s.table(ROW_ISSUE_COLUMNS, rows)
    s.finish()


def _chart_rows(chart: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """A chart's data as a table: what the HTML draws, the workbook lists."""
    kind = chart["kind"]
    series = chart.get("series", ["value", "overlay"])
    if kind == "bars":
        cols = ["label", series[0]] + (
            [series[1]] if any("overlay" in i for i in chart["items"]) else []
        )
        return cols, [
            {"label": i.get("label"), series[0]: i.get("value"), series[1]: i.get("overlay")}
            for i in chart["items"]
        ]
    if kind == "histogram":
        edges, counts = chart["edges"], chart["counts"]
        overlay = chart.get("overlay")
        name = series[0] if overlay else "count"
        cols = ["from", "to", name] + ([series[1]] if overlay else [])
        return cols, [
            {"from": edges[k], "to": edges[k + 1], name: c}
            | ({series[1]: overlay[k]} if overlay else {})
            for k, c in enumerate(counts)
        ]
    return [], []  # heatmaps come with their matrix as a table


def _section_sheet(workbook: Any, name: str, section: dict[str, Any]) -> None:
    s = _Sheet(workbook, name)
    s.line([section["title"]], s.title)
    for note in section.get("notes", []):
        s.line([note])
    blocks = [section, *section.get("details", [])]
    for block in blocks:
        if block is not section:
            s.heading(block["title"])
        for chart in block.get("charts", []):
            cols, rows = _chart_rows(chart)
            if cols:
                s.heading(chart.get("title", ""))
                s.table(cols, rows)
        for t in block.get("tables", []):
            s.heading(t["title"])
            s.table(t["columns"], [dict(zip(t["columns"], r, strict=False)) for r in t["rows"]])
    s.finish()
