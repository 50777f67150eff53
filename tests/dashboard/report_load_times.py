"""How big report.html is and how fast Chromium opens it, for the cases docs/reports.md quotes.

    .venv/bin/python -m tests.dashboard.report_load_times

A measurement, not a test (timings depend on the machine): real profile-my-data pipelines on a
50-column x 100,000-row and a 1,000-column x 200-row frame, and the 10M-row case built as in
``test_report_html`` (a real profile's result scaled to 10M rows and 60 columns). Each page is
opened five times from a file; the median load time (navigation start to the load event) is
printed with the size.
"""

from __future__ import annotations

import copy
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from tests.dashboard.browser import chrome
from tests.transformers.report.local_run import SAMPLE, baseline_csv, load_report, run_local
from transformers.report.html import render_html


def _frame(columns: int, rows: int, path: Path) -> None:
    rng = np.random.default_rng(11)
    data: dict[str, Any] = {}
    for i in range(columns):
        if i % 3 == 0:
            data[f"num_{i:04d}"] = rng.normal(i, 10, rows)
        elif i % 3 == 1:
            data[f"cat_{i:04d}"] = rng.choice(["a", "b", "c", "d", None], rows).tolist()
        else:
            data[f"int_{i:04d}"] = rng.integers(0, 1000, rows)
    pl.DataFrame(data).write_csv(path)


def _scaled(report: dict[str, Any], rows: int, columns: int) -> dict[str, Any]:
    report = copy.deepcopy(report)
    prof = next(a for a in report["agents"] if a["agent_id"] == "unified-profiler")
    base = list(prof["data"]["columns"].items())
    scale = rows / report["executive_summary"]["rows"]
    cols = {}
    for i in range(columns):
        name, entry = base[i % len(base)]
        e = json.loads(json.dumps(entry))
        for key in ("count", "null_count", "missing_count", "distinct_count"):
            if isinstance(e.get(key), int):
                e[key] = int(e[key] * scale)
        cols[f"{name}_{i}"] = e
    prof["data"]["columns"] = cols
    report["executive_summary"]["rows"] = rows
    hist = report["figures"]["histograms"]
    report["figures"]["histograms"] = {
        f"{n}_{i}": {"edges": h["edges"], "counts": [int(c * scale) for c in h["counts"]]}
        for i in range(columns)
        for n, h in hist.items()
        if f"{n}_{i}" in cols
    }
    return report


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="report-load-"))
    pages: dict[str, Path] = {}
    _frame(50, 100_000, work / "fifty.csv")
    pages["50 columns x 100,000 rows"] = run_local(
        "profile-my-data", {"primary": work / "fifty.csv"}, work / "fifty"
    )["report.html"]
    _frame(1000, 200, work / "wide.csv")
    pages["1,000 columns x 200 rows"] = run_local(
        "profile-my-data",
        {"primary": work / "wide.csv"},
        work / "wide",
        agents=["unified-profiler", "score-risk"],
    )["report.html"]
    (work / "baseline.csv").write_bytes(baseline_csv())
    small = load_report(
        run_local(
            "profile-my-data",
            {"primary": SAMPLE, "baseline": work / "baseline.csv"},
            work / "small",
        )
    )
    ten_m = work / "ten-million.html"
    ten_m.write_text(render_html(_scaled(small, 10_000_000, 60)), encoding="utf-8")
    pages["10,000,000 rows x 60 columns"] = ten_m

    with chrome(work / "chrome") as driver:
        for label, page in pages.items():
            times = []
            for _ in range(5):
                driver.get("about:blank")
                driver.get(page.as_uri())
                times.append(
                    driver.execute_script(
                        "const t = performance.getEntriesByType('navigation')[0];"
                        " return t.loadEventEnd - t.startTime;"
                    )
                )
            size = page.stat().st_size
            print(f"{label:32s} {size / 1024:8.0f} KB  load {statistics.median(times):6.0f} ms")


if __name__ == "__main__":
    main()
