"""How long the report's row-level writer and the out-of-core figures take on a large case.

Run with ``.venv/bin/python -m tests.transformers.report.row_output_times [issues] [rows]``
(defaults: 530,000 row issues, what a 5M-row profile yields; a 5,000,000-row, 5-column
working copy). Prints, for the same row issues, the row-by-row writer
(``test_row_outputs.reference_issues_csv``) and ``write_report_outputs`` (JSON only, so the
row-level file is what is timed), then the profile figures over the working copy with this
process's peak RSS (VmHWM). Not a test: nothing is asserted.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from tests.transformers.report.test_row_outputs import reference_issues_csv
from transformers.contract import ROW_ID, AgentResult, RowIssueBlock, RowIssues
from transformers.engine.peak import peak_rss_mb, reset_peak
from transformers.engine.scan import ScanFrame
from transformers.registry import get_tool
from transformers.report import build_report, write_report_outputs
from transformers.report.figures import compute_figures


def row_issues(n: int) -> list[AgentResult]:
    rng = np.random.default_rng(0)
    half = n // 2
    floats = pl.DataFrame({ROW_ID: np.arange(half) * 10, "amount": rng.normal(size=half) * 1e4})
    codes = [f"x{i}" for i in range(n - half)]
    text = pl.DataFrame({ROW_ID: np.arange(n - half) * 10 + 1, "code": codes})
    issues = RowIssues(
        [
            RowIssueBlock(floats, "amount", "outlier", "low", "amount=", " outside IQR bounds"),
            RowIssueBlock(text, "code", "type_mismatch", "medium", "code: '", "' is not a number"),
        ]
    )
    return [AgentResult(agent_id="unified-profiler", row_level_issues=issues)]


def main() -> None:
    n_issues = int(sys.argv[1]) if len(sys.argv) > 1 else 530_000
    n_rows = int(sys.argv[2]) if len(sys.argv) > 2 else 5_000_000
    results = row_issues(n_issues)
    report = build_report(
        task_id="t", tool=get_tool("profile-my-data"), results=results, inputs={}, timings={}
    )
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        reference_issues_csv(results)
        row_by_row = time.perf_counter() - t
        t = time.perf_counter()
        write_report_outputs(report, results, Path(d) / "out", None, formats=("json",))
        streamed = time.perf_counter() - t
        print(f"{n_issues:,} row issues: row-by-row CSV {row_by_row:.2f} s, "
              f"write_report_outputs {streamed:.2f} s")  # fmt: skip

        rng = np.random.default_rng(1)
        path = Path(d) / "copy.parquet"
        numbers = {f"n{i}": rng.normal(size=n_rows) * 10**i for i in range(5)}
        pl.DataFrame({ROW_ID: np.arange(n_rows)} | numbers).write_parquet(path)
        del numbers
        known = reset_peak()
        t = time.perf_counter()
        figures = compute_figures(
            {"tool_id": "profile-my-data"}, {"primary": ScanFrame(path)}, None
        )
        took = time.perf_counter() - t
        peak = f", peak RSS {peak_rss_mb()} MiB" if known else ""
        print(f"profile figures over a {n_rows:,}-row working copy: {took:.2f} s{peak} "
              f"({len(figures['histograms'])} histograms, correlations "
              f"sample {figures['correlations'].get('sample')})")  # fmt: skip


if __name__ == "__main__":
    main()
