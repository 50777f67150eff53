"""Row-level outputs: columnar row issues (``RowIssues`` blocks) and change logs (``Changes``
blocks) are written from their frames, byte for byte what the row-by-row writer writes; a large
output is Parquet instead of CSV; the workbook carries a bounded sample that says so; the
report's renderings are the ones the task asked for."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import polars as pl
import pytest

import transformers.contract as contract
from transformers.agents.clean._common import ChangeBuilder
from transformers.contract import (
    ROW_ID,
    AgentResult,
    Change,
    ChangeKind,
    Changes,
    InputInfo,
    RowIssue,
    RowIssueBlock,
    RowIssues,
)
from transformers.errors import UnsupportedFormatError
from transformers.registry import REPORT_FORMATS, get_tool, report_formats
from transformers.report import build_report, write_report_outputs, writers
from transformers.report.builder import CHANGE_CAP, ROW_ISSUE_CAP
from transformers.report.excel import SHEET_ROW_CAP
from transformers.report.writers import CHANGE_HEADER, ROW_ISSUE_HEADER, csv_value


def reference_issues_csv(results: list[AgentResult]) -> bytes:
    """The row-by-row writer (what every row-level CSV was before columnar blocks): one
    ``RowIssue`` object at a time through ``csv.writer``."""
    buf = io.StringIO()
    writer = csv.writer(buf)
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
    return buf.getvalue().encode("utf-8")


def block(column: str, values: pl.Series, *, first_row: int = 0, kind: str = "outlier") -> Any:
    hits = pl.DataFrame({ROW_ID: range(first_row, first_row + len(values)), column: values})
    return RowIssueBlock(hits, column, kind, "low", f"{column}=", ' outside "IQR", bounds')


def tricky_results() -> list[AgentResult]:
    rng = np.random.default_rng(7)
    magnitudes = 10.0 ** rng.integers(-320, 308, 20_000)
    random_floats = pl.Series(rng.standard_normal(20_000) * magnitudes)
    floats = pl.Series(
        [
            *(1.5, 1e-05, 5e-9, -0.0, 0.0, 1e16, 1e15, 1.2345678901234567e17, 3e22, 0.1 + 0.2),
            *(123456.789, math.nan, math.inf, -math.inf, None, 2.5e-300, -7.0),
        ],
        dtype=pl.Float64,
    )
    text = pl.Series(
        [
            *("plain", "", None, "a,b", 'say "hi"', "line\nbreak", "cr\rhere", "=SUM(A1)"),
            *("+1", " spaced ", "é ü 日本", "-2", "@x", "\ttab", "x" * 300),
        ]
    )
    profiler = AgentResult(
        agent_id="unified-profiler",
        row_level_issues=RowIssues(
            [
                block("amount", floats),
                block("random", random_floats, first_row=100),
                block("ratio", pl.Series([0.1, 1.5, None, math.nan], dtype=pl.Float32)),
                block("age", pl.Series([1, -5, None, 2**62], dtype=pl.Int64)),
                block("small", pl.Series([0, 255], dtype=pl.UInt8)),
                block("code", text, kind="type_mismatch"),
                block("flag", pl.Series([True, False, None])),
                block("cat", pl.Series(["x", None, "y,z"], dtype=pl.Categorical)),
                block("a,b", pl.Series([1.0, 2.0])),
                # Types polars does not render as Python does: written row by row.
                block("day", pl.Series([dt.date(2020, 1, 2), None])),
                block("ts", pl.Series([dt.datetime(2020, 1, 2, 3, 4, 5, 6)])),
            ],
            [RowIssue(7, None, "custom", "high", {"nested": [1, None]}, "a single, issue")],
        ),
    )
    readiness = AgentResult(
        agent_id="readiness-rater",
        row_level_issues=RowIssues(
            [  # findings about whole rows: no column, no value
                RowIssueBlock(
                    pl.DataFrame({ROW_ID: [4, 9]}),
                    None,
                    "duplicate_row",
                    "low",
                    "exact duplicate of an earlier row",
                    "",
                )
            ]
        ),
    )
    listed = AgentResult(
        agent_id="score-risk",
        row_level_issues=[RowIssue(3, "email", "pii", "medium", "=x@y", 'an "email"\r\n')],
    )
    return [profiler, readiness, listed]


def write(results: list[AgentResult], out: Path, **kwargs: Any) -> dict[str, Path]:
    report = build_report(
        task_id="t", tool=get_tool("profile-my-data"), results=results, inputs={}, timings={}
    )
    files = write_report_outputs(report, results, out, None, **kwargs)
    return {f.name: f.path for f in files if f.path is not None}


def test_columnar_row_issues_write_exactly_what_the_row_by_row_writer_writes(tmp_path):
    results = tricky_results()
    files = write(results, tmp_path / "report", formats=("json",))
    assert files["row_level_issues.csv"].read_bytes() == reference_issues_csv(results)
    # ... and the same as the same issues given as a plain list.
    listed = [
        AgentResult(agent_id=r.agent_id, row_level_issues=list(r.row_level_issues)) for r in results
    ]
    again = write(listed, tmp_path / "listed", formats=("json",))
    assert again["row_level_issues.csv"].read_bytes() == reference_issues_csv(results)


def test_many_row_issues_stream_from_their_blocks_and_the_workbook_holds_a_sample(
    tmp_path, monkeypatch
):
    n = 150_000
    rng = np.random.default_rng(1)
    issues = RowIssues(
        [
            block("amount", pl.Series(rng.normal(size=n) * 1e4)),
            block("code", pl.Series([f"c{i}" for i in range(n)]), first_row=n),
        ]
    )
    results = [AgentResult(agent_id="unified-profiler", row_level_issues=issues)]
    built = 0

    class Counted(RowIssue):
        def __init__(self, *args: Any) -> None:
            nonlocal built
            built += 1
            super().__init__(*args)

    monkeypatch.setattr(contract, "RowIssue", Counted)
    files = write(results, tmp_path)
    # Only the report's sample became Python objects; the CSV came from the frames.
    assert built <= ROW_ISSUE_CAP

    with files["row_level_issues.csv"].open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 2 * n + 1
    assert rows[1][:5] == ["unified-profiler", "0", "amount", "outlier", "low"]
    assert rows[1][5] == repr(issues.blocks[0].hits.item(0, "amount"))
    assert rows[-1][1:3] == [str(2 * n - 1), "code"]
    assert rows[-1][6] == f'code=c{n - 1} outside "IQR", bounds'

    sheet = openpyxl.load_workbook(files["report.xlsx"], read_only=True)["unified-profiler"]
    cells = [[c for c in row if c is not None] for row in sheet.iter_rows(values_only=True)]
    assert [f"Row-level issues ({2 * n})"] in cells
    note = f"Showing {SHEET_ROW_CAP} of {2 * n}; all {2 * n} are in row_level_issues.csv."
    at = cells.index([note])
    assert cells[at + 1] == ["row_id", "column", "issue_type", "severity", "value", "message"]
    assert len(cells) - at - 2 == SHEET_ROW_CAP  # the sample, nothing more
    assert cells[at + 2][:2] == [0, "amount"]


def test_large_row_level_outputs_are_parquet_with_the_csv_columns(tmp_path, monkeypatch):
    results = tricky_results()
    results.append(
        AgentResult(
            agent_id="type-fixer",
            changes=[
                Change(ChangeKind.CELL, "type-fixer", "to_int", i, "age", f" {i}", i, "parsed")
                for i in range(30)
            ]
            + [Change(ChangeKind.COLUMN_TYPE, "type-fixer", "to_int", None, "age", "str", "i64")],
        )
    )
    small = write(results, tmp_path / "small", formats=("json",))
    monkeypatch.setattr(writers, "ROW_OUTPUT_CSV_MAX_ROWS", 30)
    large = write(results, tmp_path / "large")

    assert "row_level_issues.csv" not in large and "change_log.csv" not in large
    for stem, header in (("row_level_issues", ROW_ISSUE_HEADER), ("change_log", None)):
        table = pl.read_parquet(large[f"{stem}.parquet"])
        with small[f"{stem}.csv"].open(newline="", encoding="utf-8") as f:
            expected = list(csv.reader(f))
        assert table.columns == expected[0] and (header is None or table.columns == header)
        assert table.schema["row_id"] == pl.Int64
        got = [
            ["" if v is None else str(v) for v in row] for row in table.iter_rows()
        ]  # the CSV's text, row_id as an integer
        assert got == expected[1:]

    saved = (tmp_path / "large" / "report.json").read_text()
    assert '"row_level_issues.parquet"' in saved and '"row_level_issues.csv"' not in saved
    sheet = openpyxl.load_workbook(large["report.xlsx"], read_only=True)["unified-profiler"]
    texts = [c for row in sheet.iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert any(t.startswith("Showing ") and t.endswith("row_level_issues.parquet.") for t in texts)


def test_skipped_lines_are_complete_beyond_the_reports_sample(tmp_path):
    lines = [
        {"line": i + 2, "problem": "expected 2 fields", "raw": f"{i},x,y"} for i in range(1500)
    ]
    inputs = {"primary": InputInfo("primary", "x.csv", "csv", "utf-8", 10, 2, skipped_lines=lines)}
    report = build_report(
        task_id="t", tool=get_tool("profile-my-data"), results=[], inputs=inputs, timings={}
    )
    assert len(report["inputs"]["primary"]["skipped_lines"]) == 1000  # the JSON's sample
    files = write_report_outputs(report, [], tmp_path, None, inputs=inputs, formats=("json",))
    path = next(f.path for f in files if f.name == "skipped_lines.csv")
    assert path is not None
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["role", "filename", "line", "problem", "raw"]
    assert len(rows) == 1501 and rows[-1] == [
        "primary",
        "x.csv",
        "1501",
        "expected 2 fields",
        "1499,x,y",
    ]


def test_only_the_renderings_asked_for_are_built(tmp_path):
    results = tricky_results()
    assert set(write(results, tmp_path / "all")) == {
        "report.json",
        "report.html",
        "report.xlsx",
        "row_level_issues.csv",
    }
    only_json = write(results, tmp_path / "json", formats=("json",))
    assert set(only_json) == {"report.json", "row_level_issues.csv"}
    saved = (tmp_path / "json" / "report.json").read_text()
    assert "report.xlsx" not in saved and "report.html" not in saved
    assert set(write(results, tmp_path / "html", formats=("json", "html"))) == {
        "report.json",
        "report.html",
        "row_level_issues.csv",
    }
    with pytest.raises(UnsupportedFormatError):
        write(results, tmp_path / "bad", formats=("json", "pdf"))


def test_report_formats_are_normalised_and_unknown_ones_named() -> None:
    from core.errors import AppError

    assert report_formats(None) == REPORT_FORMATS == ("json", "html", "xlsx")
    assert report_formats([]) == ("json",)
    assert report_formats(["xlsx", "html", "xlsx"]) == ("json", "html", "xlsx")
    with pytest.raises(AppError) as err:
        report_formats(["html", "pdf"])
    assert err.value.code == "UNKNOWN_REPORT_FORMAT" and err.value.status_code == 422
    assert err.value.details == {"format": "pdf", "formats": ["json", "html", "xlsx"]}


# --- the change log ---------------------------------------------------------------------------


def reference_change_log_csv(results: list[AgentResult]) -> bytes:
    """The row-by-row change log (what ``change_log.csv`` was before columnar blocks)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CHANGE_HEADER)
    for r in results:
        for c in r.changes:
            writer.writerow(
                [
                    c.agent_id or r.agent_id,
                    str(c.kind),
                    c.row_id,
                    csv_value(c.column),
                    csv_value(c.before),
                    csv_value(c.after),
                    c.rule,
                    c.reason,
                ]
            )
    return buf.getvalue().encode("utf-8")


def reference_change_summary(results: list[AgentResult]) -> dict[str, Any]:
    """The report's change summary counted from ``Change`` objects, one at a time."""
    by_agent = {
        r.agent_id: dict(sorted(Counter(str(c.kind) for c in r.changes).items()))
        for r in results
        if r.changes
    }
    by_kind = Counter(str(c.kind) for r in results for c in r.changes)
    columns = Counter(c.column for r in results for c in r.changes if c.column is not None)
    rules = Counter((r.agent_id, str(c.rule), str(c.kind)) for r in results for c in r.changes)
    return {
        "total": sum(by_kind.values()),
        "by_kind": dict(sorted(by_kind.items())),
        "by_agent": by_agent,
        "rows_affected": len({c.row_id for r in results for c in r.changes} - {None}),
        "top_columns": [{"column": c, "changes": n} for c, n in columns.most_common(10)],
        "by_agent_rule": [
            {"agent_id": a, "rule": rule, "kind": kind, "count": n}
            for (a, rule, kind), n in rules.most_common()
        ],
    }


def tricky_change_results() -> list[AgentResult]:
    """Change logs as the clean agents build them (blocks), with values of every kind."""
    profiler = tricky_results()[0]
    assert isinstance(profiler.row_level_issues, RowIssues)
    b = ChangeBuilder("type-fixer")
    for blk in profiler.row_level_issues.blocks:
        values = blk.hits.get_column(blk.column)
        rid = blk.hits.get_column(ROW_ID)
        before = pl.Series([f"<{i}>" for i in range(len(values))])
        b.cells(rid, blk.column, before, values, "convert", 'a "reason", with\nlines')
        b.cells(rid, blk.column, values, before, pl.Series(["r,1"] * len(values)), "back")
    b.column(ChangeKind.COLUMN_TYPE, "amount", "String", "Float64", "to_float64", "parse")
    rows = pl.DataFrame(
        {
            ROW_ID: [5, 6, 7],
            "name": ['a "b"', None, "é,\n"],
            "n": [1.5, None, 1e-7],
            "day": [dt.date(2020, 1, 1), None, dt.date(1999, 12, 31)],
        }
    )
    b.rows(ChangeKind.ROW_REMOVED, rows, "duplicate", pl.Series(["x", "y", "z"]))
    b.rows(ChangeKind.ROW_QUARANTINED, rows.select(ROW_ID), "quarantine", "")
    fixer = AgentResult(agent_id="type-fixer", changes=b.build())
    listed = AgentResult(
        agent_id="null-handler",
        changes=[Change(ChangeKind.CELL, "", "fill", 9, "a,b", None, {"k": [1, None]}, "r")],
    )
    return [fixer, listed]


def test_columnar_change_log_writes_exactly_what_the_row_by_row_writer_writes(tmp_path):
    results = tricky_change_results()
    assert isinstance(results[0].changes, Changes) and len(results[0].changes.blocks) > 20
    files = write(results, tmp_path / "blocks", formats=("json",))
    assert files["change_log.csv"].read_bytes() == reference_change_log_csv(results)
    listed = [AgentResult(agent_id=r.agent_id, changes=list(r.changes)) for r in results]
    again = write(listed, tmp_path / "listed", formats=("json",))
    assert again["change_log.csv"].read_bytes() == reference_change_log_csv(results)
    report = json.loads(files["report.json"].read_text())
    assert report["change_summary"] == reference_change_summary(results)


def test_a_large_change_log_streams_from_its_blocks_and_the_report_holds_a_sample(
    tmp_path, monkeypatch
):
    n = 120_000
    rid = pl.Series(range(n), dtype=pl.Int64)
    b = ChangeBuilder("type-fixer")
    b.cells(rid, "amount", pl.Series([f"{i:,}" for i in range(n)]), rid * 1000 + 1, "to_int64")
    b.cells(rid, "code", pl.Series([f"c{i}" for i in range(n)]), pl.Series([None] * n), "blank")
    results = [AgentResult(agent_id="type-fixer", changes=b.build())]
    built = 0

    class Counted(Change):
        def __init__(self, *args: Any) -> None:
            nonlocal built
            built += 1
            super().__init__(*args)

    monkeypatch.setattr(contract, "Change", Counted)
    files = write(results, tmp_path)
    # Only the report's sample became Python objects; the log and the summary came from frames.
    assert built <= CHANGE_CAP
    with files["change_log.csv"].open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 2 * n + 1
    assert rows[1] == ["type-fixer", "cell", "0", "amount", "0", "1", "to_int64", ""]
    assert rows[-1] == ["type-fixer", "cell", str(n - 1), "code", f"c{n - 1}", "", "blank", ""]
    report = json.loads(files["report.json"].read_text())
    agent = report["agents"][0]
    assert len(agent["changes"]) == CHANGE_CAP and agent["changes_total"] == 2 * n
    assert agent["changes_truncated"] is True
    summary = report["change_summary"]
    assert summary["total"] == 2 * n and summary["rows_affected"] == n
    assert summary["top_columns"] == [
        {"column": "amount", "changes": n},
        {"column": "code", "changes": n},
    ]
