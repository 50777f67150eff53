"""test-coverage-agent, readiness-rater and governance-checker."""

from __future__ import annotations

import polars as pl

from tests.transformers.profile.helpers import make_ctx, with_row_id
from transformers.agents.profile import (
    governance_checker,
    readiness_rater,
    score_risk,
    test_coverage,
    unified_profiler,
)
from transformers.contract import AgentStatus
from transformers.params.profile import (
    GovernanceCheckerParams,
    ReadinessRaterParams,
    ScoreRiskParams,
    TestCoverageParams,
    UnifiedProfilerParams,
)


def people() -> pl.DataFrame:
    return with_row_id(
        pl.DataFrame(
            {
                "id": [1, 2, 2, 4, 5, 6],
                "age": [30, 41, -3, 200, None, 55],
                "email": ["a@x.io", "b@x.io", "bad", "c@x.io", "d@x.io", None],
                "code": ["AB12", "AB123", "XAB12", "CD34", "ZZ99", "AB12x"],
            }
        ),
        offset=10,
    )


def test_coverage_tests_and_row_ids(tmp_path) -> None:
    frame = people()
    params = TestCoverageParams.model_validate(
        {
            "unique_columns": ["id"],
            "range_tests": {"age": {"min": 0, "max": 120}},
            "format_tests": {"code": "[A-Z]{2}[0-9]{2}", "email": r"[^@]+@[^@]+\.[a-z]+"},
            "not_null_columns": ["email", "nope"],
        }
    )
    res = test_coverage.run(frame, params, make_ctx(tmp_path, frame, "test-coverage-agent"))
    assert res.status == AgentStatus.SUCCESS
    tests = {t["test_id"]: t for t in res.data["tests"]}
    assert tests["unique:id"]["failed_rows"] == 1
    assert tests["range:age"]["failed_rows"] == 2  # -3 and 200; null is not a range failure
    # fullmatch: "AB123", "XAB12" and "AB12x" fail although they contain a match
    assert tests["format:code"]["failed_rows"] == 3
    assert tests["format:email"]["failed_rows"] == 1
    assert tests["not_null:email"]["failed_rows"] == 1
    assert (
        tests["not_null:nope"]["status"] == "error" and "nope" in tests["not_null:nope"]["message"]
    )
    rows = {(r.issue_type, r.row_id) for r in res.row_level_issues}
    assert ("test_unique", 12) in rows and ("test_range", 13) in rows and ("test_range", 12) in rows
    d = res.data
    w = d["weights"]
    expected = 100 * (
        w["column_coverage"] * d["column_coverage"]
        + w["pass_rate"] * d["pass_rate"]
        + w["row_pass_rate"] * d["row_pass_rate"]
    )
    assert abs(d["coverage_score"] - expected) < 1e-9
    assert d["pass_rate"] == 0.0 and d["column_coverage"] == 1.0


def test_coverage_invalid_regex_and_no_tests(tmp_path) -> None:
    frame = people()
    ctx = make_ctx(tmp_path, frame, "test-coverage-agent")
    bad = test_coverage.run(frame, TestCoverageParams(format_tests={"code": "([A-Z"}), ctx)
    assert bad.data["tests"][0]["status"] == "error"
    none = test_coverage.run(frame, TestCoverageParams(), ctx)
    assert none.data["coverage_score"] == 0 and none.alerts


def test_readiness_deductions_change_score(tmp_path) -> None:
    clean = with_row_id(pl.DataFrame({"a": list(range(100)), "b": [f"v{i}" for i in range(100)]}))
    ctx = make_ctx(tmp_path, clean, "readiness-rater")
    res = readiness_rater.run(clean, ReadinessRaterParams(), ctx)
    assert res.data["status"] == "READY" and res.data["score"] == 100 and not res.data["deductions"]
    dirty = pl.concat([clean, clean.head(20).with_columns(pl.col("__row_id__") + 100)])
    dirty = dirty.with_columns(
        pl.when(pl.col("a") % 3 == 0).then(None).otherwise(pl.col("b")).alias("b")
    )
    res = readiness_rater.run(dirty, ReadinessRaterParams(), make_ctx(tmp_path, dirty))
    comps = {d["component"]: d["points"] for d in res.data["deductions"]}
    assert {"completeness", "duplicates"} <= set(comps)
    assert abs(res.data["score"] - (100 - sum(comps.values()))) < 1e-9
    assert all(p > 0 for p in comps.values())
    assert {r.row_id for r in res.row_level_issues} == set(range(100, 120))
    strict = readiness_rater.run(dirty, ReadinessRaterParams(ready_threshold=100), ctx)
    lax = readiness_rater.run(
        dirty, ReadinessRaterParams(ready_threshold=1, review_threshold=0), ctx
    )
    assert strict.data["status"] != "READY" and lax.data["status"] == "READY"


def test_readiness_uses_profiler_result(tmp_path) -> None:
    frame = people()
    ctx = make_ctx(tmp_path, frame, "readiness-rater")
    ctx.results["unified-profiler"] = unified_profiler.run(frame, UnifiedProfilerParams(), ctx)
    res = readiness_rater.run(frame, ReadinessRaterParams(), ctx)
    assert res.data["profile_source"] == "unified-profiler result"
    alone = readiness_rater.run(frame, ReadinessRaterParams(), make_ctx(tmp_path, frame))
    assert alone.data["profile_source"].startswith("computed")
    assert alone.data["score"] == res.data["score"]


def test_governance(tmp_path) -> None:
    n = 50
    frame = with_row_id(
        pl.DataFrame(
            {
                "email": [f"user{i}@example.com" for i in range(n)],
                "ssn": [f"{100 + i:03d}-12-{1000 + i:04d}" for i in range(n)],
                "amount": list(range(n)),
            }
        )
    )
    ctx = make_ctx(tmp_path, frame, "governance-checker")
    ctx.results["score-risk"] = score_risk.run(frame, ScoreRiskParams(), ctx)
    res = governance_checker.run(frame, GovernanceCheckerParams(), ctx)
    failed = {c["check"] for c in res.data["checks"] if c["status"] == "failed"}
    assert {"metadata:owner", "pii_allowed:email", "pii_allowed:ssn", "classification"} <= failed
    assert (
        res.data["status"] == "non_compliant"
        and res.data["required_classification"] == "restricted"
    )
    ok = governance_checker.run(
        frame,
        GovernanceCheckerParams(
            owner="data-team", classification="restricted", retention_days=365,
            allowed_pii_columns=["email", "ssn"],
        ),
        ctx,
    )  # fmt: skip
    assert ok.data["status"] == "compliant" and ok.data["compliance_score"] == 100
    conf = governance_checker.run(
        frame,
        GovernanceCheckerParams(owner="x", classification="confidential", retention_days=5000,
                                allowed_pii_columns=["email", "ssn", "ghost"]),
        ctx,
    )  # fmt: skip
    failed = {c["check"] for c in conf.data["checks"] if c["status"] == "failed"}
    assert failed == {"classification", "retention", "allowed_exists:ghost"}
    # without score-risk in ctx it computes it
    alone = governance_checker.run(frame, GovernanceCheckerParams(), make_ctx(tmp_path, frame))
    assert alone.data["risk_source"] == "computed" and alone.data["pii_columns"]


def test_readiness_duplicates_with_and_without_a_key(tmp_path) -> None:
    """A distinct, null-free non-float column rules duplicates out (the search is skipped); a
    distinct float column or a distinct column with a null does not."""
    rows = {"v": [1, 1, 2, 2], "w": ["a", "a", "b", "b"]}
    cases = {
        "key": ({"id": [1, 2, 3, 4]}, set()),
        "text_key": ({"id": ["a", "b", "c", "d"]}, set()),
        "float": ({"id": [0.5, 1.5, 2.5, 3.5]}, set()),
        "nothing": ({}, {1, 3}),
        "null_in_id": (
            {"v": [1, 2, 3, 2], "w": ["a", "b", "c", "b"], "id": [1, None, 2, None]},
            {3},
        ),
    }
    for name, (extra, dups) in cases.items():
        frame = with_row_id(pl.DataFrame({**rows, **extra}))
        res = readiness_rater.run(frame, ReadinessRaterParams(), make_ctx(tmp_path, frame))
        assert {r.row_id for r in res.row_level_issues} == dups, name
        assert res.data["components"]["duplicate_rows"] == len(dups), name
