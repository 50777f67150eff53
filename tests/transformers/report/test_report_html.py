"""report.html and the report model: real pipelines of the three tools write a self-contained
page whose charts carry the report's numbers, the workbook lists the same numbers, the figures
are right, and wide (1,000 columns) and long (10M rows) profiles stay within the size bound."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import polars as pl
import pytest

from tests.transformers.report.local_run import (
    SAMPLE,
    baseline_csv,
    load_report,
    messy_csv,
    run_local,
)
from transformers.report.figures import DETAIL_COLUMNS, HIST_BINS
from transformers.report.html import REPORT_CSP, render_html
from transformers.report.model import MISSING_BARS, report_model

MAX_BYTES = 2 * 1024 * 1024


class _Marks(HTMLParser):
    """Every element's tag and attributes, with the id of the chart (svg) it sits in."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], str | None]] = []
        self._chart: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "svg":
            self._chart = a.get("id")
        self.elements.append((tag, a, self._chart))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None


def marks(html: str) -> list[tuple[str, dict[str, str], str | None]]:
    p = _Marks()
    p.feed(html)
    return p.elements


def bars(html: str, chart_id: str, cls: str = "bar") -> list[tuple[str, float]]:
    return [
        (a.get("data-label", ""), float(a["data-value"]))
        for tag, a, chart in marks(html)
        if chart == chart_id
        and tag == "rect"
        and a.get("class") == cls
        and "data-value" in a
        and "data-label" in a
    ]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("report-runs")
    (root / "baseline.csv").write_bytes(baseline_csv())
    (root / "messy.csv").write_bytes(messy_csv())
    inputs = {
        "profile-my-data": {"primary": SAMPLE, "baseline": root / "baseline.csv"},
        "clean-my-data": {"primary": root / "messy.csv"},
        "master-my-data": {"primary": root / "messy.csv"},
    }
    out = {}
    for tool, files in inputs.items():
        outputs = run_local(tool, files, root / tool)
        out[tool] = {
            "outputs": outputs,
            "report": load_report(outputs),
            "html": outputs["report.html"].read_text(encoding="utf-8"),
        }
    return out


TOOLS = ("profile-my-data", "clean-my-data", "master-my-data")


@pytest.mark.parametrize("tool", TOOLS)
def test_report_html_is_self_contained_small_and_listed(runs, tool):
    run = runs[tool]
    html = run["html"]
    assert len(html.encode()) < MAX_BYTES
    assert f'content="{REPORT_CSP}"' in html
    assert "<script" not in html.lower() and "@import" not in html and "url(" not in html
    for tag, a, _ in marks(html):
        assert "src" not in a, (tag, a)
        assert not any(k.startswith("on") for k in a), (tag, a)  # no inline handlers
        assert "style" not in a, (tag, a)  # strict CSP in the dashboard: classes only
        if "href" in a:
            assert a["href"].startswith("#"), a
    # The page is one of the task's outputs, listed in the report.
    assert {"name": "report.html", "kind": "report"} in run["report"]["outputs"]
    # Every chart of the model is drawn.
    model = report_model(run["report"])
    ids = {a.get("id") for tag, a, _ in marks(html) if tag == "svg"}
    wanted = {c["id"] for s in model["sections"] for b in [s, *s["details"]] for c in b["charts"]}
    assert wanted and wanted <= ids


def _sheet_rows(path: Path, sheet: str) -> list[list[Any]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    return [list(r) for r in wb[sheet].iter_rows(values_only=True)]


def _after(rows: list[list[Any]], header: list[str]) -> list[list[Any]]:
    """The table under ``header`` in a sheet (until the next blank row)."""
    start = next(i for i, r in enumerate(rows) if [c for c in r if c is not None] == header)
    out = []
    for r in rows[start + 1 :]:
        if all(c is None for c in r):
            break
        out.append(r[: len(header)])
    return out


def test_profile_charts_the_workbook_and_the_agents_agree(runs):
    run = runs["profile-my-data"]
    report, html = run["report"], run["html"]
    columns = next(a for a in report["agents"] if a["agent_id"] == "unified-profiler")["data"][
        "columns"
    ]
    # 1. Missing values per column: the profiler's counts, drawn and listed.
    drawn = dict(bars(html, "missing-by-column"))
    assert drawn == {n: float(c["missing_count"]) for n, c in columns.items()}
    assert drawn["email"] > 0 and drawn["age"] > 0
    sheet = _sheet_rows(run["outputs"]["report.xlsx"], "Missing values by column")
    listed = {r[0]: r[1] for r in _after(sheet, ["label", "value"])}
    assert listed == {n: c["missing_count"] for n, c in columns.items()}
    # 2. Alerts by severity: the executive summary's counts.
    by_sev = report["executive_summary"]["alerts_by_severity"]
    assert dict(bars(html, "alerts-by-severity")) == {
        s: float(by_sev.get(s, 0)) for s in ("critical", "high", "medium", "low", "info")
    }
    # 3. The age histogram: its bins hold every present age, as numpy counts them.
    ages = pl.read_csv(SAMPLE).get_column("age").drop_nulls().to_numpy()
    hist = bars(html, "hist-age")
    assert len(hist) == HIST_BINS and sum(v for _, v in hist) == columns["age"]["count"]
    expected, edges = np.histogram(ages, bins=HIST_BINS, range=(ages.min(), ages.max()))
    assert [v for _, v in hist] == [float(c) for c in expected]
    assert float(hist[0][0]) == pytest.approx(edges[0])
    # 4. Correlations: Pearson over the rows where both values are present.
    frame = pl.read_csv(SAMPLE)
    both = frame.select("age", "annual_income").drop_nulls().to_numpy()
    r = float(np.corrcoef(both[:, 0], both[:, 1])[0, 1])
    cell = next(
        a
        for tag, a, chart in marks(html)
        if chart == "correlations"
        and a.get("data-row") == "age"
        and a.get("data-col") == "annual_income"
    )
    assert float(cell["data-value"]) == pytest.approx(r, abs=1e-4)


def test_drift_overlays_baseline_and_current_with_the_statistic(runs):
    run = runs["profile-my-data"]
    html, report = run["html"], run["report"]
    drift = next(a for a in report["agents"] if a["agent_id"] == "drift-detector")["data"]
    assert "age" in drift["drifted_columns"]
    age = drift["columns"]["age"]
    current = bars(html, "drift-age")
    overlay = [
        float(a["data-overlay"])
        for tag, a, chart in marks(html)
        if chart == "drift-age" and a.get("class") == "bar" and "data-overlay" in a
    ]
    base = pl.read_csv(io.BytesIO(baseline_csv())).get_column("age").drop_nulls().to_numpy()
    cur = pl.read_csv(SAMPLE).get_column("age").drop_nulls().to_numpy()
    edges = np.asarray(age["bin_edges"])
    assert overlay == [float(c) for c in np.histogram(np.clip(base, edges[0], edges[-1]), edges)[0]]
    assert [v for _, v in current] == [
        float(c) for c in np.histogram(np.clip(cur, edges[0], edges[-1]), edges)[0]
    ]
    title = re.search(r'id="drift-age"[^>]*aria-label="([^"]+)"', html)
    assert title and f"{age['ks_statistic']:.4f}"[:5] in title.group(1)


def test_clean_report_row_arithmetic_changes_by_rule_and_before_after(runs):
    run = runs["clean-my-data"]
    report, html = run["report"], run["html"]
    wb = next(a for a in report["agents"] if a["agent_id"] == "cleanse-writeback")["data"]
    drawn = dict(bars(html, "row-arithmetic"))
    assert drawn["in"] == wb["rows_in"] and drawn["out"] == wb["rows_out"]
    assert drawn["removed (duplicates)"] == wb["rows_removed_duplicates"] > 0
    assert drawn["in"] == drawn["out"] + drawn["quarantined"] + sum(
        v for k, v in drawn.items() if k.startswith("removed")
    )
    by_rule = dict(bars(html, "changes-by-rule"))
    with run["outputs"]["change_log.csv"].open(newline="") as f:
        log = list(csv.DictReader(f))
    counted: dict[str, int] = {}
    for c in log:
        key = f"{c['agent_id']} · {c['rule']}"
        counted[key] = counted.get(key, 0) + 1
    assert by_rule == {k: float(v) for k, v in counted.items()}
    # Before/after: missing e-mails are in the input; the table has both sides.
    before = pl.read_csv(io.BytesIO(messy_csv()))
    after = pl.read_csv(run["outputs"]["cleaned.csv"])
    missing = {
        label: (v, ov)
        for label, v, ov in [
            (a["data-label"], float(a["data-value"]), float(a["data-overlay"]))
            for tag, a, chart in marks(html)
            if chart == "missing-before-after" and a.get("class") == "bar"
        ]
    }
    assert missing["email"] == (after["email"].null_count(), before["email"].null_count())


def test_master_report_clusters_scores_and_survivors(runs):
    run = runs["master-my-data"]
    report, html = run["report"], run["html"]
    golden = pl.read_csv(run["outputs"]["golden_records.csv"])
    sizes = dict(golden.get_column("source_count").value_counts().iter_rows())
    assert dict(bars(html, "cluster-sizes")) == {f"{k} rows": float(v) for k, v in sizes.items()}
    gb = next(a for a in report["agents"] if a["agent_id"] == "golden-record-builder")["data"]
    assert [v for _, v in bars(html, "match-scores")] == [
        float(h["pairs"]) for h in gb["score_histogram"]
    ]
    marker = [
        a
        for tag, a, c in marks(html)
        if c == "match-scores" and tag == "line" and a.get("class") == "marker"
    ]
    assert marker and float(marker[0]["data-value"]) == pytest.approx(
        gb["match_threshold"], abs=1e-6
    )
    # A sample cluster: the golden record above its members, surviving values marked.
    samples = report["figures"]["cluster_samples"]
    assert samples and all(len(s["members"]) >= 2 for s in samples)
    assert 'class="golden"' in html and "survivor" in html
    first = samples[0]
    xref = pl.read_csv(run["outputs"]["cross_reference.csv"])
    members = set(xref.filter(pl.col("golden_id") == first["golden_id"])["source_row_id"])
    assert {m["row_id"] for m in first["members"]} == members


def test_a_report_with_missing_keys_still_renders():
    report = {
        "task_id": "t",
        "tool_id": "profile-my-data",
        "agents": [
            {"agent_id": "unified-profiler", "status": "success", "data": {"columns": {"a": {}}}},
            {"agent_id": "score-risk", "status": "success", "data": {}},
            {"agent_id": "drift-detector", "status": "failed", "data": None},
        ],
    }
    html = render_html(report)
    assert "<h2>Columns</h2>" in html and "Drift" not in html


def _wide_csv(path: Path, columns: int, rows: int) -> None:
    rng = np.random.default_rng(7)
    data: dict[str, Any] = {}
    for i in range(columns):
        if i % 3 == 0:
            data[f"num_{i:04d}"] = rng.normal(i, 10, rows)
        elif i % 3 == 1:
            data[f"cat_{i:04d}"] = rng.choice(["a", "b", "c", None], rows).tolist()
        else:
            data[f"int_{i:04d}"] = rng.integers(0, 100, rows)
    pl.DataFrame(data).write_csv(path)


def test_a_1000_column_profile_is_summarised_not_drawn_column_by_column(tmp_path: Path):
    _wide_csv(tmp_path / "wide.csv", 1000, 200)
    outputs = run_local(
        "profile-my-data",
        {"primary": tmp_path / "wide.csv"},
        tmp_path / "run",
        agents=["unified-profiler", "score-risk"],
    )
    html = outputs["report.html"].read_text(encoding="utf-8")
    assert len(html.encode()) < MAX_BYTES
    elements = marks(html)
    pages = [a["id"] for tag, a, _ in elements if tag == "details" and a["id"].startswith("col-")]
    assert len(pages) == DETAIL_COLUMNS
    assert len(bars(html, "missing-by-column")) == MISSING_BARS
    assert f"1000 columns: the first {DETAIL_COLUMNS} have a page of their own" in html
    section = html[html.index('<section id="columns">') : html.index('<details id="col-')]
    assert section.count("<tr>") == 1 + 1000  # header + every column in the table
    assert len([1 for tag, _, c in elements if tag == "svg"]) <= DETAIL_COLUMNS + 10


def test_a_10_million_row_profile_stays_within_the_size_bound(runs):
    """A profile of the real shape (the profiler's per-column entries, figures of 20 bins)
    scaled to 10M rows and 60 columns: the page grows with columns, never with rows."""
    report = copy.deepcopy(runs["profile-my-data"]["report"])
    rows = 10_000_000
    prof = next(a for a in report["agents"] if a["agent_id"] == "unified-profiler")
    base_cols = prof["data"]["columns"]
    scale = rows / report["executive_summary"]["rows"]
    columns = {}
    for i in range(60):
        name, entry = list(base_cols.items())[i % len(base_cols)]
        e = json.loads(json.dumps(entry))
        for key in ("count", "null_count", "missing_count", "distinct_count", "outlier_count"):
            if isinstance(e.get(key), int):
                e[key] = int(e[key] * scale)
        for t in e.get("top_values", []):
            t["count"] = int(t["count"] * scale)
        columns[f"{name}_{i}"] = e
    prof["data"]["columns"] = columns
    report["executive_summary"]["rows"] = rows
    report["executive_summary"]["columns"] = len(columns)
    hist = report["figures"]["histograms"]
    report["figures"]["histograms"] = {
        f"{n}_{i}": {"edges": h["edges"], "counts": [int(c * scale) for c in h["counts"]]}
        for i in range(60)
        for n, h in hist.items()
        if f"{n}_{i}" in columns
    }
    html = render_html(report)
    assert len(html.encode()) < MAX_BYTES
    assert "10,000,000" in html
    assert len(bars(html, "missing-by-column")) == MISSING_BARS


def test_before_after_distinct_counts_are_estimated_only_for_large_inputs(monkeypatch):
    from transformers.report import figures

    frame = pl.DataFrame({"a": list(range(5000)), "b": ["x", "y"] * 2500})
    exact = figures.before_after(frame, frame.head(100))
    assert exact[0]["before"]["distinct"] == 5000 and exact[0]["after"]["distinct"] == 100
    assert exact[0]["distinct_exact"] and exact[1]["before"]["missing"] == 0
    monkeypatch.setattr(figures, "EXACT_DISTINCT_ROWS", 1000)
    approx = figures.before_after(frame, frame)
    assert not approx[0]["distinct_exact"]
    assert abs(approx[0]["before"]["distinct"] - 5000) < 5000 * 0.05
    report = {"tool_id": "clean-my-data", "figures": {"before_after": approx}, "agents": []}
    assert "Distinct counts are estimates" in render_html(report)
