"""drift-detector: known shifts are flagged, same distributions are not; KS equals scipy."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats as sps

from tests.transformers.profile.helpers import make_ctx, with_row_id
from transformers.agents.profile import drift_detector
from transformers.contract import AgentStatus
from transformers.params.profile import DriftDetectorParams


def _frame(rng: np.random.Generator, n: int, shift: bool, missing_rate: float) -> pl.DataFrame:
    a = rng.normal(50, 10, n) + (5.0 if shift else 0.0)  # +0.5 sd
    b = rng.exponential(2.0, n) + (1.0 if shift else 0.0)
    c = rng.normal(0, 1, n)
    d = rng.uniform(0, 100, n)
    m = rng.normal(10, 2, n)
    m_list: list[float | None] = [
        None if u < missing_rate else v for u, v in zip(rng.random(n), m, strict=True)
    ]
    cat = rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1])
    return with_row_id(
        pl.DataFrame({"a": a, "b": b, "c": c, "d": d, "m": m_list, "cat": cat}),
        offset=1000 if shift else 0,
    )


def pair() -> tuple[pl.DataFrame, pl.DataFrame]:
    base = _frame(np.random.default_rng(1), 4000, shift=False, missing_rate=0.10)
    cur = _frame(np.random.default_rng(2), 4000, shift=True, missing_rate=0.22)
    return base, cur


def test_known_drift_flagged_exactly(tmp_path) -> None:
    base, cur = pair()
    for test in ("ks", "chi2", "wasserstein"):
        params = DriftDetectorParams(statistical_test=test)
        res = drift_detector.run(cur, params, make_ctx(tmp_path, cur, baseline=base))
        assert res.status == AgentStatus.SUCCESS
        assert sorted(res.data["drifted_columns"]) == ["a", "b", "m"], test
        cols = res.data["columns"]
        assert cols["m"]["missing"]["drift"] and not cols["m"]["distribution_drift"]
        assert cols["a"]["distribution_drift"] and not cols["a"]["missing"]["drift"]


def test_ks_matches_scipy_and_row_ids(tmp_path) -> None:
    base, cur = pair()
    res = drift_detector.run(cur, DriftDetectorParams(), make_ctx(tmp_path, cur, baseline=base))
    for c in ("a", "b", "c", "d", "m"):
        b = base.get_column(c).drop_nulls().to_numpy()
        a = cur.get_column(c).drop_nulls().to_numpy()
        ks = sps.ks_2samp(b, a)
        info = res.data["columns"][c]
        assert info["ks_statistic"] == ks.statistic and info["ks_pvalue"] == ks.pvalue
        assert info["wasserstein"] == sps.wasserstein_distance(b, a)
    # row ids are the real ids of the current file (offset 1000), values outside baseline range
    hi = base.get_column("a").max()
    expected = set(cur.filter(pl.col("a") > hi).get_column("__row_id__").to_list())
    got = {r.row_id for r in res.row_level_issues if r.column == "a"}
    assert expected and expected <= got and all(r >= 1000 for r in got)


def test_psi_bins_cover_union_range(tmp_path) -> None:
    base = with_row_id(pl.DataFrame({"x": np.arange(1000, dtype=float)}))
    cur = with_row_id(pl.DataFrame({"x": np.arange(1000, dtype=float) + 5000}))
    res = drift_detector.run(cur, DriftDetectorParams(), make_ctx(tmp_path, cur, baseline=base))
    info = res.data["columns"]["x"]
    assert info["bin_edges"][0] == 0 and info["bin_edges"][-1] == 5999
    assert info["psi"] > 1 and info["drifted"]


def test_schema_changes_and_small_samples(tmp_path) -> None:
    base = with_row_id(pl.DataFrame({"keep": [1, 2, 3], "gone": [1, 2, 3], "t": [1, 2, 3]}))
    cur = with_row_id(pl.DataFrame({"keep": [1, 2, 3], "t": ["x", "y", "z"], "new": [1, 2, 3]}))
    res = drift_detector.run(cur, DriftDetectorParams(), make_ctx(tmp_path, cur, baseline=base))
    assert res.status == AgentStatus.SUCCESS
    assert res.data["new_columns"] == ["new"] and res.data["missing_columns"] == ["gone"]
    assert res.data["type_changes"] == ["t"]
    assert res.data["columns"]["keep"]["status"] == "insufficient_data"
    small = drift_detector.run(
        cur, DriftDetectorParams(min_sample_size=1), make_ctx(tmp_path, cur, baseline=base)
    )
    assert small.data["columns"]["keep"]["status"] == "tested"


def test_no_baseline_is_skipped(tmp_path) -> None:
    cur = with_row_id(pl.DataFrame({"x": [1]}))
    res = drift_detector.run(cur, DriftDetectorParams(), make_ctx(tmp_path, cur))
    assert res.status == AgentStatus.SKIPPED


def test_large_samples_match_scipy_exactly(tmp_path) -> None:
    """Above scipy's exact-KS size the agent computes KS, Wasserstein and the PSI histogram from
    one merge of the sorted samples: still the same floats as scipy / numpy, ties included."""
    rng = np.random.default_rng(7)
    nb, na = 30_000, 23_456
    base_cols = {
        "cont": rng.normal(0, 1, nb),
        "ties": rng.poisson(3, nb).astype(float),
        "odd": np.concatenate([rng.normal(0, 1, nb - 4), [np.nan, np.inf, -np.inf, -0.0]]),
    }
    cur_cols = {
        "cont": rng.normal(0.02, 1, na),
        "ties": rng.poisson(3.1, na).astype(float),
        "odd": np.concatenate([rng.normal(0.1, 1, na - 3), [0.0, np.nan, np.inf]]),
    }
    base = with_row_id(pl.DataFrame(base_cols).with_columns(pl.col("ties").cast(pl.Int64)))
    cur = with_row_id(pl.DataFrame(cur_cols).with_columns(pl.col("ties").cast(pl.Int64)))
    res = drift_detector.run(cur, DriftDetectorParams(), make_ctx(tmp_path, cur, baseline=base))
    for c in ("cont", "ties", "odd"):
        b, a = base_cols[c], cur_cols[c]
        b, a = b[np.isfinite(b)], a[np.isfinite(a)]
        info = res.data["columns"][c]
        ks = sps.ks_2samp(b, a)
        assert info["ks_statistic"] == ks.statistic and info["ks_pvalue"] == ks.pvalue, c
        assert info["wasserstein"] == sps.wasserstein_distance(b, a), c
        assert info["baseline_range"] == [b.min(), b.max()]
        pooled = np.concatenate([b, a])
        edges = np.unique(np.quantile(np.sort(pooled), np.linspace(0, 1, 11)))
        edges[0], edges[-1] = pooled.min(), pooled.max()
        assert info["bin_edges"] == edges.tolist(), c
        hb, ha = np.histogram(b, bins=edges)[0], np.histogram(a, bins=edges)[0]
        assert info["psi"] == drift_detector.psi(hb.astype(float), ha.astype(float)), c


def test_profiler_distinct_counts_reused_same_result(tmp_path) -> None:
    """With unified-profiler's result for the same frame in the task, the text columns' distinct
    counts come from it: the result is the same as computed alone."""
    from transformers.agents.profile import unified_profiler
    from transformers.params.profile import UnifiedProfilerParams

    rng = np.random.default_rng(5)
    n = 3000
    ids = [f"id{i}" for i in range(n)]
    base = with_row_id(pl.DataFrame({"cat": rng.choice(["a", "b"], n), "key": ids}))
    cur = with_row_id(pl.DataFrame({"cat": rng.choice(["a", "b", "c"], n), "key": ids}))
    alone = drift_detector.run(cur, DriftDetectorParams(), make_ctx(tmp_path, cur, baseline=base))
    ctx = make_ctx(tmp_path, cur, baseline=base)
    ctx.results["unified-profiler"] = unified_profiler.run(cur, UnifiedProfilerParams(), ctx)
    shared = drift_detector.run(cur, DriftDetectorParams(), ctx)
    assert shared.data == alone.data
    assert alone.data["columns"]["key"]["status"] == "high_cardinality"
    assert alone.data["drifted_columns"] == ["cat"]


def test_large_files_sample_the_numeric_tests_within_the_stated_bound(tmp_path, monkeypatch):
    """Above DRIFT_EXACT_MAX_ROWS the numeric tests run on a sample; the report says so, the
    sampled KS statistic stays within the DKW bound it reports of the exact one, and the rows
    outside the baseline range are still found over every row."""
    rng = np.random.default_rng(7)
    n = 120_000
    base = with_row_id(pl.DataFrame({"x": rng.normal(0, 1, n)}))
    cur = with_row_id(pl.DataFrame({"x": rng.normal(0.4, 1.6, n)}), offset=n)
    exact = drift_detector.run(cur, DriftDetectorParams(), make_ctx(tmp_path, cur, baseline=base))
    monkeypatch.setattr(drift_detector, "DRIFT_EXACT_MAX_ROWS", 10_000)
    monkeypatch.setattr(drift_detector, "DRIFT_SAMPLE_ROWS", 8_000)
    sampled = drift_detector.run(cur, DriftDetectorParams(), make_ctx(tmp_path, cur, baseline=base))
    e, s = exact.data["columns"]["x"], sampled.data["columns"]["x"]
    assert "sampled" not in e
    note = s["sampled"]
    assert 6_000 <= note["baseline_values"] <= 10_000
    assert 6_000 <= note["current_values"] <= 10_000
    bound = note["ks_statistic_error_bound"]
    assert bound < 0.05
    assert abs(s["ks_statistic"] - e["ks_statistic"]) <= bound
    assert s["baseline_range"] == e["baseline_range"]
    rows = {(r.row_id, r.issue_type) for r in sampled.row_level_issues}
    assert rows == {(r.row_id, r.issue_type) for r in exact.row_level_issues}
    assert rows  # a wider current distribution has rows outside the baseline's range
