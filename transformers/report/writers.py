"""Write the report's output files into the work directory (the pipeline uploads them)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from transformers.contract import ROW_ID, AgentResult, OutputFile
from transformers.report.excel import write_report_workbook
from transformers.report.figures import compute_figures
from transformers.report.html import render_html
from transformers.report.model import report_model
from transformers.serialization import jsonable

REPORT_JSON = "report.json"
REPORT_XLSX = "report.xlsx"
REPORT_HTML = "report.html"
ROW_ISSUES_CSV = "row_level_issues.csv"
CHANGE_LOG_CSV = "change_log.csv"
SKIPPED_LINES_CSV = "skipped_lines.csv"

ROW_ISSUE_HEADER = ["agent_id", "row_id", "column", "issue_type", "severity", "value", "message"]
CHANGE_HEADER = ["agent_id", "kind", "row_id", "column", "before", "after", "rule", "reason"]
SKIPPED_HEADER = ["role", "filename", "line", "problem", "raw"]

_CT = {
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}


def csv_value(value: Any) -> str:
    """A raw value as CSV text: None → empty, nested → JSON, dates ISO, the rest ``str``."""
    value = jsonable(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _name(wanted: str, taken: set[str]) -> str:
    """Never overwrite an agent's own output of the same name (they share outputs/)."""
    return wanted if wanted not in taken else f"report_{wanted}"


def write_report_outputs(
    report: dict[str, Any],
    results: list[AgentResult],
    work_dir: Path,
    final_frame: Any,
    frames: dict[str, Any] | None = None,
) -> list[OutputFile]:
    """Write report.json, report.xlsx, report.html, row_level_issues.csv (complete),
    change_log.csv (when any agent changed data) and skipped_lines.csv (when input lines were
    skipped).

    ``frames`` (the parsed inputs by role) and ``final_frame`` (the chained tool's last frame, or
    None) feed the figures (``figures.py``: histograms, correlations, drift overlays, before/after,
    clusters) stored in the report as ``figures``; data-changing tools' writeback agents write the
    data files themselves.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    taken = {o.name for r in results for o in r.outputs}
    if final_frame is not None:
        columns = [c for c in final_frame.columns if c != ROW_ID]
        report["final_data"] = {"rows": int(final_frame.height), "columns": len(columns)}

    report["figures"] = compute_figures(report, frames, final_frame)
    files: list[OutputFile] = []
    issues_path = work_dir / _name(ROW_ISSUES_CSV, taken)
    with issues_path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(ROW_ISSUE_HEADER)
        for r in results:
            for ri in r.row_level_issues:
                writer.writerow(
                    [
                        r.agent_id,
                        ri.row_id,
                        csv_value(ri.column),
                        ri.issue_type,
                        ri.severity,
                        csv_value(ri.value),
                        ri.message,
                    ]
                )
    files.append(OutputFile(issues_path.name, issues_path, "issues", _CT["csv"]))

    if any(r.changes for r in results):
        changes_path = work_dir / _name(CHANGE_LOG_CSV, taken)
        with changes_path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(CHANGE_HEADER)
            for r in results:
                for c in r.changes:
                    writer.writerow(
                        [
                            c.agent_id or r.agent_id,
                            str(c.kind),
                            csv_value(c.row_id),
                            csv_value(c.column),
                            csv_value(c.before),
                            csv_value(c.after),
                            c.rule,
                            c.reason,
                        ]
                    )
        files.append(OutputFile(changes_path.name, changes_path, "changes", _CT["csv"]))

    inputs = report.get("inputs", {})
    if any(i.get("skipped_lines_total", len(i.get("skipped_lines", []))) for i in inputs.values()):
        skipped_path = work_dir / _name(SKIPPED_LINES_CSV, taken)
        with skipped_path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(SKIPPED_HEADER)
            for role, info in inputs.items():
                for s in info.get("skipped_lines", []):
                    writer.writerow(
                        [
                            role,
                            info.get("filename"),
                            csv_value(s.get("line")),
                            s.get("problem"),
                            s.get("raw"),
                        ]
                    )
        files.append(OutputFile(skipped_path.name, skipped_path, "issues", _CT["csv"]))

    xlsx_path = work_dir / _name(REPORT_XLSX, taken)
    json_path = work_dir / _name(REPORT_JSON, taken)
    html_path = work_dir / _name(REPORT_HTML, taken)
    report["outputs"] = [
        {"name": o.name, "kind": o.kind}
        for o in [
            OutputFile(json_path.name, json_path, "report"),
            OutputFile(xlsx_path.name, xlsx_path, "report"),
            OutputFile(html_path.name, html_path, "report"),
            *files,
        ]
    ] + [
        {"name": o.name, "kind": o.kind, "agent_id": r.agent_id} for r in results for o in r.outputs
    ]
    model = report_model(report)
    write_report_workbook(report, xlsx_path, model)
    html_path.write_text(render_html(report, model), encoding="utf-8")
    with json_path.open("w", encoding="utf-8") as f:
        json.dump(report, f, ensure_ascii=False, default=str)
    return [
        OutputFile(json_path.name, json_path, "report", _CT["json"]),
        OutputFile(xlsx_path.name, xlsx_path, "report", _CT["xlsx"]),
        OutputFile(html_path.name, html_path, "report", _CT["html"]),
        *files,
    ]
