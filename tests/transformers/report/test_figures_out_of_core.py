"""The report's figures over out-of-core inputs (``ScanFrame`` working copies): the same
figures as over the in-memory frame, computed by streaming queries without loading the copy;
correlations of a large copy come from a stated sample."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from tests.transformers.report.local_run import SAMPLE, baseline_csv, load_report, run_local
from transformers.contract import ROW_ID
from transformers.engine.budget import Budget
from transformers.engine.scan import ScanFrame
from transformers.report import figures
from transformers.report.figures import HIST_BINS, compute_figures
from transformers.report.model import report_model


def _on_edges(lo: float, hi: float) -> list[float]:
    """Values on numpy's bin edges and one step either side: where binning can go wrong."""
    edges = np.linspace(lo, hi, HIST_BINS + 1)
    near = np.concatenate([edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf)])
    return [float(v) for v in near if lo <= v <= hi]


def frames(n: int = 3000, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    edgy = _on_edges(-3.7, 12.9)
    gappy = [None if i % 7 == 0 else math.nan if i % 11 == 0 else float(i) for i in range(n)]
    infinite = [math.inf if i % 13 == 0 else -math.inf if i % 17 == 0 else i / 3 for i in range(n)]
    cities = ["Oslo", "Lima", "Pune", "Kyiv", "Baku"]
    primary = pl.DataFrame(
        {
            ROW_ID: np.arange(n),
            "edgy": np.resize(np.array(edgy), n),
            "normal": rng.normal(50, 10, n),
            "gappy": gappy,
            "infinite": infinite,
            "constant": np.full(n, 4.0),
            "count": rng.integers(0, 40, n),
            "tiny": rng.uniform(1e-300, 3e-300, n),
            "city": rng.choice(cities, n, p=[0.4, 0.25, 0.2, 0.1, 0.05]),
        }
    )
    before = rng.choice(["Oslo", "Lima", "Pune", "Rome"], n, p=[0.5, 0.3, 0.15, 0.05])
    baseline = primary.with_columns(
        (pl.col("normal") + 5).alias("normal"), pl.Series("city", before)
    )
    return primary, baseline


def drift_report() -> dict[str, Any]:
    columns = {
        "normal": {"test": "numeric", "bin_edges": [20.0, 35.5, 41.0, 50.0, 58.25, 70.0, 75.0]},
        "edgy": {"test": "numeric", "bin_edges": [-3.7, 0.0, 0.0, 4.2, 12.9]},
        "count": {"test": "numeric", "bin_edges": [5.0, 10.0, 30.0]},
        "city": {"test": "categorical"},
    }
    return {
        "tool_id": "profile-my-data",
        "agents": [
            {"agent_id": "drift-detector", "status": "success", "data": {"columns": columns}}
        ],
    }


def scan_of(frame: pl.DataFrame, path: Path) -> ScanFrame:
    frame.write_parquet(path)
    return ScanFrame(path)


@pytest.fixture
def never_loaded(monkeypatch):
    """A ScanFrame whose whole-column and whole-table reads fail: what figures may not do."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the working copy was loaded into memory")

    def arm() -> None:
        for name in ("get_column", "get_columns", "to_pandas", "gather", "__getitem__"):
            monkeypatch.setattr(ScanFrame, name, refuse)

    return arm


def test_profile_figures_of_a_scan_equal_the_in_memory_ones_without_loading_it(
    tmp_path, never_loaded
):
    primary, baseline = frames()
    in_memory = compute_figures(drift_report(), {"primary": primary, "baseline": baseline}, None)
    scans = {
        "primary": scan_of(primary, tmp_path / "p.parquet"),
        "baseline": scan_of(baseline, tmp_path / "b.parquet"),
    }
    never_loaded()
    out_of_core = compute_figures(drift_report(), scans, None)
    assert out_of_core == in_memory
    # The figures are all there (nothing left out because it failed), binned as numpy bins.
    assert set(in_memory["histograms"]) == {
        "edgy", "normal", "gappy", "infinite", "constant", "count", "tiny"
    }  # fmt: skip
    assert set(in_memory["drift"]) == {"normal", "edgy", "count", "city"}
    values = primary.get_column("edgy").to_numpy()
    expected, edges = np.histogram(values, bins=HIST_BINS, range=(values.min(), values.max()))
    assert out_of_core["histograms"]["edgy"]["counts"] == expected.tolist()
    assert out_of_core["histograms"]["edgy"]["edges"] == edges.tolist()
    assert "sample" not in out_of_core["correlations"]


def test_clean_before_after_of_a_scan_equals_the_in_memory_one(tmp_path, never_loaded):
    primary, _ = frames()
    final = primary.filter(pl.col("count") > 3).with_columns(pl.col("gappy").fill_null(0.0))
    report = {"tool_id": "clean-my-data", "agents": []}
    in_memory = compute_figures(report, {"primary": primary}, final)
    scan = scan_of(primary, tmp_path / "p.parquet")
    never_loaded()
    assert compute_figures(report, {"primary": scan}, final) == in_memory


def test_correlations_of_a_large_scan_come_from_a_stated_sample(tmp_path, monkeypatch):
    monkeypatch.setattr(figures, "CORR_SAMPLE_ROWS", 1000)
    primary, _ = frames(n=5000, seed=3)
    scan = scan_of(primary, tmp_path / "p.parquet")
    report: dict[str, Any] = {"tool_id": "profile-my-data", "agents": []}
    got = compute_figures(report, {"primary": scan}, None)["correlations"]
    assert got["sample"] == {"rows": 1000, "every": 5}
    every_fifth = primary.gather_every(5)
    assert got["matrix"] == figures.correlations(every_fifth, got["columns"])["matrix"]
    report["figures"] = {"correlations": got}
    section = next(s for s in report_model(report)["sections"] if s["id"] == "correlations")
    assert any("sample of 1,000 rows (every 5th row" in note for note in section["notes"])


def test_an_out_of_core_profile_reports_what_the_in_memory_profile_reports(tmp_path):
    (tmp_path / "baseline.csv").write_bytes(baseline_csv())
    files = {"primary": SAMPLE, "baseline": tmp_path / "baseline.csv"}
    in_memory = run_local("profile-my-data", files, tmp_path / "memory")
    budget = Budget(memory_mb=0, spill_dir=tmp_path / "spill")  # every input out of core
    out_of_core = run_local("profile-my-data", files, tmp_path / "scan", budget=budget)
    a, b = load_report(in_memory), load_report(out_of_core)
    assert a["figures"]["histograms"] and a["figures"]["drift"] and a["figures"]["correlations"]
    assert b["figures"] == a["figures"]
    assert (
        out_of_core["row_level_issues.csv"].read_bytes()
        == in_memory["row_level_issues.csv"].read_bytes()
    )
