"""Recommended next tool: the documented rules, with reasons computed from the findings."""

from __future__ import annotations

from transformers.contract import (
    AgentResult,
    AgentStatus,
    Alert,
    Change,
    ChangeKind,
    InputInfo,
    Issue,
    RowIssue,
)
from transformers.registry import get_tool
from transformers.report import build_report


def recommend(tool: str, results: list[AgentResult], rows: int = 1000) -> dict | None:
    report = build_report(
        task_id="t",
        tool=get_tool(tool),
        results=results,
        inputs={"primary": InputInfo("primary", "x.csv", "csv", "utf-8", rows, 5)},
        timings={},
    )
    return report["recommended_next_tool"]


def test_high_duplicate_rate_recommends_master() -> None:
    r = AgentResult("readiness-rater", summary_metrics={"duplicate_rate_pct": 12.0})
    nxt = recommend("profile-my-data", [r])
    assert nxt is not None and nxt["tool_id"] == "master-my-data"
    assert "12.0%" in nxt["reason"] and nxt["rule"] == "duplicates"


def test_low_duplicate_rate_alone_recommends_nothing() -> None:
    r = AgentResult("readiness-rater", summary_metrics={"duplicate_rate": 0.01})
    assert recommend("profile-my-data", [r]) is None


def test_duplicate_alert_recommends_master() -> None:
    r = AgentResult(
        "unified-profiler", alerts=[Alert("dup", "medium", "duplicates", "40 duplicate rows")]
    )
    assert recommend("profile-my-data", [r])["tool_id"] == "master-my-data"  # type: ignore[index]


def test_duplicate_row_issues_give_the_rate() -> None:
    issues = [RowIssue(i, None, "duplicate_row", "low", None, "dup") for i in range(80)]
    nxt = recommend("profile-my-data", [AgentResult("unified-profiler", row_level_issues=issues)])
    assert nxt is not None and "8.0%" in nxt["reason"]


def test_many_quality_findings_recommend_clean() -> None:
    r = AgentResult(
        "unified-profiler",
        alerts=[
            Alert("n1", "medium", "completeness", "many nulls in a"),
            Alert("o1", "medium", "outliers", "outliers in b"),
        ],
        issues=[Issue("t1", "c", "type_mismatch", "medium", "mixed types")],
    )
    nxt = recommend("profile-my-data", [r])
    assert nxt is not None and nxt["tool_id"] == "clean-my-data" and nxt["rule"] == "data-quality"
    assert nxt["reason"].startswith("3 finding(s)")


def test_severe_null_rate_or_bad_grade_recommend_clean() -> None:
    nulls = AgentResult("unified-profiler", summary_metrics={"null_rate": 0.3})
    assert recommend("profile-my-data", [nulls])["tool_id"] == "clean-my-data"  # type: ignore[index]
    grade = AgentResult("unified-profiler", data={"quality_grade": "F"})
    nxt = recommend("profile-my-data", [grade])
    assert nxt is not None and "grade F" in nxt["reason"]


def test_low_severity_findings_recommend_nothing() -> None:
    r = AgentResult(
        "unified-profiler",
        alerts=[Alert(f"n{i}", "low", "completeness", "a few nulls") for i in range(5)],
        data={"quality_grade": "A"},
    )
    assert recommend("profile-my-data", [r]) is None


def test_after_clean_with_changes_profile_to_verify() -> None:
    r = AgentResult(
        "type-fixer",
        changes=[Change(ChangeKind.CELL, "type-fixer", "to_int", i, "a", "1", 1) for i in range(4)],
    )
    nxt = recommend("clean-my-data", [r])
    assert nxt == {
        "tool_id": "profile-my-data",
        "reason": "4 change(s) were applied: profile the cleaned data to verify it",
        "rule": "verify-clean",
    }


def test_after_clean_without_changes_nothing() -> None:
    assert recommend("clean-my-data", [AgentResult("cleanse-previewer")]) is None


def test_failed_agents_findings_do_not_count() -> None:
    r = AgentResult(
        "unified-profiler",
        status=AgentStatus.FAILED,
        alerts=[Alert("dup", "high", "duplicates", "dups")],
    )
    assert recommend("profile-my-data", [r]) is None
