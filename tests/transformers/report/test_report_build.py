"""The report: status, merged findings, computed summary, capping, and its output files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
import polars as pl

from transformers.contract import (
    ROW_ID,
    AgentResult,
    AgentStatus,
    Alert,
    Change,
    ChangeKind,
    InputInfo,
    Issue,
    Recommendation,
    RowIssue,
    SummaryItem,
)
from transformers.registry import get_tool
from transformers.report import build_report, write_report_outputs

INPUTS = {"primary": InputInfo("primary", "people.csv", "csv", "utf-8", rows=2500, columns=4)}


def profiler(n_row_issues: int = 1500) -> AgentResult:
    return AgentResult(
        agent_id="unified-profiler",
        duration_ms=12,
        summary_metrics={"quality_score": 71.5, "columns": 4},
        data={"quality_grade": "C"},
        alerts=[
            Alert("a-low", "low", "patterns", "odd patterns", 1),
            Alert("a-crit", "critical", "completeness", "=cmd|' /C calc'!A0", 2, "fill"),
            Alert("a-med", "medium", "outliers", "outliers in amount", 1),
        ],
        issues=[Issue("i1", "email", "format", "high", "bad emails")],
        recommendations=[
            Recommendation("r-low", "low", "consider x"),
            Recommendation("r-high", "high", "fix y"),
        ],
        executive_summary=[SummaryItem("Columns", 4, "info")],
        row_level_issues=[
            RowIssue(i, "email", "format", "medium", f"=bad{i}", "not an email")
            for i in range(n_row_issues)
        ],
    )


def failed(agent_id: str = "score-risk") -> AgentResult:
    return AgentResult(
        agent_id=agent_id,
        status=AgentStatus.FAILED,
        error_code="AGENT_ERROR",
        error="ValueError: boom",
    )


def skipped() -> AgentResult:
    return AgentResult(
        agent_id="drift-detector",
        status=AgentStatus.SKIPPED,
        error_code="MISSING_FILE",
        error="Skipped: needs the baseline file",
    )


def build(results: list[AgentResult], tool: str = "profile-my-data") -> dict:
    return build_report(
        task_id="task-1",
        tool=get_tool(tool),
        results=results,
        inputs=INPUTS,
        timings={"load_ms": 5, "agents_ms": 20, "total_ms": 30},
    )


def test_status_and_summary_are_computed_from_results() -> None:
    report = build([profiler(10), skipped(), failed()])
    assert report["status"] == "completed_with_errors"
    assert (report["task_id"], report["tool_id"]) == ("task-1", "profile-my-data")
    assert report["timings"]["total_ms"] == 30
    summary = report["executive_summary"]
    assert summary["agents"] == {"total": 3, "succeeded": 1, "failed": 1, "skipped": 1}
    assert summary["failed_agents"] == [
        {"agent_id": "score-risk", "error_code": "AGENT_ERROR", "error": "ValueError: boom"}
    ]
    assert summary["alerts_by_severity"] == {
        "critical": 1,
        "high": 0,
        "medium": 1,
        "low": 1,
        "info": 0,
    }
    assert summary["issues_by_severity"]["high"] == 1
    assert (summary["rows"], summary["columns"], summary["row_level_issues"]) == (2500, 4, 10)
    assert summary["quality"] == {"agent_id": "unified-profiler", "grade": "C", "score": 71.5}
    titles = {i["title"]: i for i in summary["items"]}
    assert titles["Agents succeeded"]["value"] == "1/3"
    assert titles["Agents succeeded"]["status"] == "critical"
    assert titles["Quality grade"]["value"] == "C"
    json.dumps(report)  # serialisable as is

    ok = build([profiler(0)])
    assert ok["status"] == "completed"
    assert ok["executive_summary"]["agents"]["failed"] == 0


def test_merged_findings_are_tagged_and_sorted() -> None:
    report = build([profiler(0), failed()])
    assert [a["id"] for a in report["alerts"]] == ["a-crit", "a-med", "a-low"]
    assert {a["agent_id"] for a in report["alerts"]} == {"unified-profiler"}
    assert [r["id"] for r in report["recommendations"]] == ["r-high", "r-low"]
    assert report["issues"][0] == {
        "agent_id": "unified-profiler",
        "id": "i1",
        "field": "email",
        "issue_type": "format",
        "severity": "high",
        "message": "bad emails",
    }


def test_row_level_issues_capped_in_json_with_total() -> None:
    report = build([profiler(1500)])
    agent = report["agents"][0]
    assert len(agent["row_level_issues"]) == 1000
    assert agent["row_level_issues_total"] == 1500
    assert agent["row_level_issues_truncated"] is True
    assert agent["row_level_issues"][0]["row_id"] == 0
    assert report["row_level_issues_total"] == 1500
    small = build([profiler(3)])["agents"][0]
    assert (len(small["row_level_issues"]), small["row_level_issues_truncated"]) == (3, False)


def changing_results() -> list[AgentResult]:
    type_fixer = AgentResult(
        agent_id="type-fixer",
        changes=[
            Change(ChangeKind.CELL, "type-fixer", "to_int", 1, "age", " 42", 42, "parsed"),
            Change(ChangeKind.CELL, "type-fixer", "to_int", 2, "age", "=1+1", None, "x"),
            Change(ChangeKind.COLUMN_TYPE, "type-fixer", "to_int", None, "age", "str", "i64"),
        ],
    )
    dedupe = AgentResult(
        agent_id="duplicate-resolver",
        changes=[
            Change(ChangeKind.ROW_REMOVED, "duplicate-resolver", "exact", 7, None, None, None)
        ],
        row_level_issues=[RowIssue(7, None, "duplicate", "low", None, "duplicate of row 3")],
    )
    return [type_fixer, dedupe]


def test_change_summary_counts_by_agent_and_kind() -> None:
    report = build(changing_results(), tool="clean-my-data")
    cs = report["change_summary"]
    assert cs["total"] == 4
    assert cs["by_kind"] == {"cell": 2, "column_type": 1, "row_removed": 1}
    assert cs["by_agent"] == {
        "type-fixer": {"cell": 2, "column_type": 1},
        "duplicate-resolver": {"row_removed": 1},
    }
    assert cs["rows_affected"] == 3
    assert report["executive_summary"]["changes"]["total"] == 4
    assert "change_summary" not in build([profiler(0)])


def test_outputs_complete_csv_capped_json_and_safe_workbook(tmp_path: Path) -> None:
    results = [profiler(1500), *changing_results(), failed("null-handler")]
    report = build(results, tool="clean-my-data")
    final = pl.DataFrame({ROW_ID: [0, 1], "a": [1, 2], "b": ["x", "y"]})
    files = write_report_outputs(report, results, tmp_path / "report", final)
    by_name = {f.name: f for f in files}
    assert set(by_name) == {
        "report.json",
        "report.xlsx",
        "report.html",
        "row_level_issues.csv",
        "change_log.csv",
    }
    assert {f.kind for f in files} == {"report", "issues", "changes"}
    for f in files:
        assert f.path is not None and f.path.exists()

    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["agents"][0]["row_level_issues_total"] == 1500
    assert len(saved["agents"][0]["row_level_issues"]) == 1000
    assert saved["final_data"] == {"rows": 2, "columns": 2}
    assert {o["name"] for o in saved["outputs"]} >= set(by_name)

    with (tmp_path / "report" / "row_level_issues.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1501  # every issue of every agent, never capped
    assert list(rows[0]) == [
        "agent_id",
        "row_id",
        "column",
        "issue_type",
        "severity",
        "value",
        "message",
    ]
    assert rows[1499]["row_id"] == "1499" and rows[1499]["value"] == "=bad1499"
    assert rows[-1]["agent_id"] == "duplicate-resolver" and rows[-1]["column"] == ""

    with (tmp_path / "report" / "change_log.csv").open(newline="") as f:
        changes = list(csv.DictReader(f))
    assert [c["kind"] for c in changes] == ["cell", "cell", "column_type", "row_removed"]
    assert changes[0] == {
        "agent_id": "type-fixer",
        "kind": "cell",
        "row_id": "1",
        "column": "age",
        "before": " 42",
        "after": "42",
        "rule": "to_int",
        "reason": "parsed",
    }

    wb = openpyxl.load_workbook(tmp_path / "report" / "report.xlsx")
    # Summary, the report model's sections (the same as report.html's), then one per agent.
    assert wb.sheetnames[0] == "Summary" and "Changes by agent and rule" in wb.sheetnames
    assert wb.sheetnames[-4:] == [
        "unified-profiler",
        "type-fixer",
        "duplicate-resolver",
        "null-handler",
    ]
    texts = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f"
                if isinstance(cell.value, str):
                    texts.append(cell.value)
                    assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert "'=cmd|' /C calc'!A0" in texts  # the alert message, neutralised
    assert "'=bad0" in texts  # a row-level value on the agent sheet


def test_profile_run_has_no_change_log(tmp_path: Path) -> None:
    report = build([profiler(2)])
    files = write_report_outputs(report, [profiler(2)], tmp_path, None)
    assert {f.name for f in files} == {
        "report.json",
        "report.xlsx",
        "report.html",
        "row_level_issues.csv",
    }
    assert "final_data" not in report


def test_agent_output_names_are_not_overwritten(tmp_path: Path) -> None:
    from transformers.contract import OutputFile

    writeback = AgentResult(
        agent_id="cleanse-writeback",
        outputs=[OutputFile("change_log.csv", None, "changes")],
    )
    results = [*changing_results(), writeback]
    report = build(results, tool="clean-my-data")
    files = write_report_outputs(report, results, tmp_path, None)
    assert "report_change_log.csv" in {f.name for f in files}
    assert "change_log.csv" not in {f.name for f in files}


def test_skipped_input_lines_are_an_output(tmp_path: Path) -> None:
    inputs = {
        "primary": InputInfo(
            "primary",
            "x.csv",
            "csv",
            "utf-8",
            2,
            2,
            skipped_lines=[{"line": 3, "problem": "expected 2 fields but found 3", "raw": "1,2,3"}],
        )
    }
    report = build_report(
        task_id="t", tool=get_tool("profile-my-data"), results=[], inputs=inputs, timings={}
    )
    assert report["inputs"]["primary"]["skipped_lines_total"] == 1
    assert report["executive_summary"]["skipped_input_lines"] == 1
    files = write_report_outputs(report, [], tmp_path, None)
    skipped = next(f for f in files if f.name == "skipped_lines.csv")
    assert skipped.path is not None
    assert "line" in skipped.path.read_text() and "1,2,3" in skipped.path.read_text()


def test_sheet_names_are_valid_and_unique() -> None:
    from transformers.report.excel import sheet_names

    names = sheet_names(["a" * 40, "a" * 40, "x/y:z", "summary", "A" * 31])
    assert all(len(n) <= 31 for n in names)
    assert len({n.lower() for n in names} | {"summary"}) == len(names) + 1
    assert names[2] == "x_y_z"
