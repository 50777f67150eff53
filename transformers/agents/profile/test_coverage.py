"""test-coverage-agent: runs the user-declared data tests and scores the coverage.

Tests (one result each, in the order declared):

* ``unique_columns``: no non-null value occurs twice; failing rows = every occurrence after the
  first of a duplicated value;
* ``range_tests`` {col: {min, max}}: non-null values within [min, max] (either bound optional);
  numeric and date columns (bounds then compared with the physical value, i.e. days / time
  units), text columns are converted to numbers and values that do not convert fail;
* ``format_tests`` {col: regex}: every non-null value (as text) matches the WHOLE regex
  (fullmatch: the pattern is wrapped as ``^(?:regex)$``); an invalid regex is an ``error`` result;
* ``not_null_columns``: no null (nor NaN) values.

A column that is not in the data gives a failed test with status ``error`` naming the column (it
does not stop the other tests). Failing rows are listed in ``row_level_issues`` with their real
``__row_id__``.

Coverage score (0-100)::

    column_coverage = data columns with at least one test / data columns
    pass_rate       = passed tests / declared tests (errors count as failed)
    row_pass_rate   = rows failing no test / rows
    coverage_score  = 100 * (0.40 * column_coverage + 0.40 * pass_rate + 0.20 * row_pass_rate)

With no tests declared the score is 0 and the result says so.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from transformers.agents.profile.stats import Ids, data_columns
from transformers.contract import (
    ROW_ID,
    AgentContext,
    AgentResult,
    Alert,
    Issue,
    Recommendation,
    RowIssue,
    SummaryItem,
)
from transformers.errors import InvalidParametersError
from transformers.params.profile import TestCoverageParams

AGENT_ID = "test-coverage-agent"
WEIGHTS = {"column_coverage": 0.40, "pass_rate": 0.40, "row_pass_rate": 0.20}


def _resolve(ctx: AgentContext, column: str, frame: pl.DataFrame) -> str | None:
    try:
        name = ctx.resolve(column, frame)
    except InvalidParametersError:
        return None
    return None if name == ROW_ID else name


def run(frame: pl.DataFrame, params: TestCoverageParams, ctx: AgentContext) -> AgentResult:
    ids = Ids("TC")
    result = AgentResult(agent_id=AGENT_ID)
    cols = data_columns(frame)
    declared: list[tuple[str, str, Any]] = (
        [("unique", c, None) for c in params.unique_columns]
        + [("range", c, r) for c, r in params.range_tests.items()]
        + [("format", c, rx) for c, rx in params.format_tests.items()]
        + [("not_null", c, None) for c in params.not_null_columns]
    )
    tests: list[dict[str, Any]] = []
    failing_ids: set[int] = set()
    tested_cols: set[str] = set()
    for kind, column, arg in declared:
        test_id = f"{kind}:{column}"
        name = _resolve(ctx, column, frame)
        if name is None:
            tests.append(
                {"test_id": test_id, "type": kind, "column": column, "status": "error",
                 "passed": False, "failed_rows": 0,
                 "message": f"column '{column}' is not in the data"}
            )  # fmt: skip
            continue
        tested_cols.add(name)
        try:
            mask, detail = _failing(frame, kind, name, arg)
        except _TestError as exc:
            tests.append(
                {"test_id": test_id, "type": kind, "column": column, "status": "error",
                 "passed": False, "failed_rows": 0, "message": str(exc)}
            )  # fmt: skip
            continue
        bad = frame.filter(mask).select(ROW_ID, name)
        for rid, val in bad.iter_rows():
            failing_ids.add(int(rid))
            result.row_level_issues.append(
                RowIssue(int(rid), name, f"test_{kind}", "medium", val,
                         f"{test_id} failed: {detail}")
            )  # fmt: skip
        tests.append(
            {"test_id": test_id, "type": kind, "column": name, "status":
             "passed" if bad.height == 0 else "failed", "passed": bad.height == 0,
             "failed_rows": bad.height, "message": detail}
        )  # fmt: skip
    n = frame.height
    total = len(tests)
    passed = sum(t["passed"] for t in tests)
    column_coverage = len(tested_cols) / len(cols) if cols else 0.0
    pass_rate = passed / total if total else 0.0
    row_pass_rate = (1 - len(failing_ids) / n) if n else 1.0
    score = (
        100
        * (
            WEIGHTS["column_coverage"] * column_coverage
            + WEIGHTS["pass_rate"] * pass_rate
            + WEIGHTS["row_pass_rate"] * row_pass_rate
        )
        if total
        else 0.0
    )
    result.data = {
        "tests": tests,
        "coverage_score": score,
        "column_coverage": column_coverage,
        "pass_rate": pass_rate,
        "row_pass_rate": row_pass_rate,
        "weights": WEIGHTS,
        "untested_columns": [c for c in cols if c not in tested_cols],
    }
    errors = [t for t in tests if t["status"] == "error"]
    failed = [t for t in tests if t["status"] == "failed"]
    result.summary_metrics = {
        "coverage_score": score,
        "tests_total": total,
        "tests_passed": passed,
        "tests_failed": len(failed),
        "tests_error": len(errors),
        "failing_rows": len(failing_ids),
        "column_coverage": column_coverage,
    }
    for t in failed + errors:
        result.issues.append(
            Issue(ids.next("I"), t["column"], f"test_{t['type']}",
                  "high" if t["status"] == "error" else "medium",
                  f"{t['test_id']}: {t['status']} ({t['failed_rows']} rows) - {t['message']}")
        )  # fmt: skip
    if not total:
        result.alerts.append(
            Alert(ids.next("A"), "medium", "coverage", "No data tests are declared.", 0,
                  "Declare unique_columns, range_tests, format_tests or not_null_columns.")
        )  # fmt: skip
    if failed or errors:
        result.alerts.append(
            Alert(ids.next("A"), "high" if errors else "medium", "tests",
                  f"{len(failed)} test(s) failed, {len(errors)} could not run",
                  len(failed) + len(errors), "Fix the data or the test declarations.")
        )  # fmt: skip
    untested = result.data["untested_columns"]
    if untested and total:
        result.recommendations.append(
            Recommendation(ids.next("R"), "low",
                           f"Add tests for untested columns: {', '.join(untested[:10])}", "low")
        )  # fmt: skip
    result.executive_summary = [
        SummaryItem("Coverage score", round(score, 1),
                    "good" if score >= 80 else "warning" if score >= 50 else "critical"),
        SummaryItem("Tests passed", f"{passed}/{total}",
                    "good" if total and passed == total else "warning"),
    ]  # fmt: skip
    return result


class _TestError(Exception):
    pass


def _failing(frame: pl.DataFrame, kind: str, c: str, arg: Any) -> tuple[pl.Expr, str]:
    col = pl.col(c)
    dtype = frame.schema[c]
    if kind == "unique":
        nn = col.is_not_null()
        return (nn & ~col.is_first_distinct()).fill_null(False), "duplicate value"
    if kind == "not_null":
        missing = col.is_null()
        if dtype.is_float():
            missing = missing | col.is_nan().fill_null(False)
        return missing, "missing value"
    if kind == "range":
        lo, hi = arg.min, arg.max
        if dtype.is_numeric():
            x = col.cast(pl.Float64)
            bad_parse = pl.lit(False)
        elif dtype.is_temporal():
            x = col.to_physical().cast(pl.Float64)
            bad_parse = pl.lit(False)
        elif dtype == pl.String:
            x = col.str.strip_chars().cast(pl.Float64, strict=False)
            bad_parse = col.is_not_null() & x.is_null()
        else:
            raise _TestError(f"range test on a {dtype} column")
        cond = pl.lit(False)
        if lo is not None:
            cond = cond | (x < lo)
        if hi is not None:
            cond = cond | (x > hi)
        return (cond.fill_null(False) | bad_parse), f"outside [{lo}, {hi}]"
    # format
    regex = f"^(?:{arg})$"
    try:
        pl.Series([""]).str.contains(regex)
    except Exception as exc:
        raise _TestError(f"invalid regex {arg!r}: {exc}") from None
    s = col.cast(pl.String)
    return (s.is_not_null() & ~s.str.contains(regex)).fill_null(False), f"does not match {arg}"
