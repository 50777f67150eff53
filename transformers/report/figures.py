"""Figures the agents' results do not carry, computed once from the task's frames.

The report model (``model.py``) turns the agents' results plus these figures into what both the
Excel workbook and ``report.html`` show. Everything here is bounded whatever the input's size:

- histograms (``HIST_BINS`` equal-width bins) for the first ``DETAIL_COLUMNS`` numeric columns;
- Pearson correlations of the first ``CORR_COLUMNS`` numeric columns, each pair over the rows
  where both are present and finite;
- drift overlays: baseline and current counts over the drift detector's own bin edges (numeric)
  or the shares of the most frequent categories (categorical), for ``DETAIL_COLUMNS`` columns;
- before/after summaries of the first ``BEFORE_AFTER_COLUMNS`` columns (clean-my-data);
- cluster sizes and a sample of clusters with their member rows (master-my-data).

A figure that cannot be computed is left out (and logged); it never fails the task.

The frames may be in memory (``pl.DataFrame``) or out-of-core working copies
(``transformers.engine.scan.ScanFrame``). A working copy is never loaded whole: its figures are
polars queries over its lazy scan with the streaming engine, one pass per figure for all its
columns (histograms: the same bins and counts as ``numpy.histogram``; drift overlays and
before/after: exact), except correlations, which are computed over a systematic sample of at
most ``CORR_SAMPLE_ROWS`` rows (every k-th row), and say so (``sample``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

from transformers.contract import ROW_ID

log = logging.getLogger(__name__)

HIST_BINS = 20
DETAIL_COLUMNS = 50
CORR_COLUMNS = 20
BEFORE_AFTER_COLUMNS = 200
DRIFT_CATEGORIES = 10
CLUSTER_SAMPLES = 8
CLUSTER_MEMBERS = 6
CELL_TEXT = 80
#: Above this many rows, before/after distinct counts are HyperLogLog estimates (a few % off).
EXACT_DISTINCT_ROWS = 1_000_000
#: Correlations of an out-of-core frame: over at most this many rows (every k-th row).
CORR_SAMPLE_ROWS = 500_000


def _in_memory(frame: Any) -> bool:
    import polars as pl

    return isinstance(frame, pl.DataFrame)


def _query(frame: Any, exprs: list[Any]) -> Any:
    """One row of aggregates: over the frame, or streamed over a working copy's scan."""
    if _in_memory(frame):
        return frame.lazy().select(exprs).collect()
    return frame.lazy().select(exprs).collect(engine="streaming")


def _finite(column: str) -> Any:
    """The column as Float64, NaN and infinities as null (what ``_values`` drops)."""
    import polars as pl

    x = pl.col(column).cast(pl.Float64)
    return pl.when(x.is_finite()).then(x)


def _num(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _numeric_columns(frame: Any) -> list[str]:
    return [c for c, t in frame.schema.items() if c != ROW_ID and t.is_numeric()]


def _values(frame: Any, column: str) -> Any:
    import numpy as np

    arr = frame.get_column(column).drop_nulls().cast(float).to_numpy()
    return arr[np.isfinite(arr)]


def histogram(frame: Any, column: str, edges: list[float] | None = None) -> dict[str, Any] | None:
    """``HIST_BINS`` equal-width bins over the column's finite range, or the given ``edges``
    (values outside them counted in the outer bins); None when it has no finite value."""
    return histograms(frame, {column: edges})[column]


def histograms(
    frame: Any, wanted: dict[str, list[float] | None]
) -> dict[str, dict[str, Any] | None]:
    """``histogram`` of several columns: ``numpy.histogram`` of each in-memory column; over a
    working copy, two streaming passes for all of them (ranges, then counts)."""
    if _in_memory(frame):
        return {c: _numpy_histogram(frame, c, e) for c, e in wanted.items()}
    return _scan_histograms(frame, wanted)


def _numpy_histogram(frame: Any, column: str, edges: list[float] | None) -> dict[str, Any] | None:
    import numpy as np

    values = _values(frame, column)
    if values.size == 0:
        return None
    if edges is None:
        lo, hi = float(values.min()), float(values.max())
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        counts, bin_edges = np.histogram(values, bins=HIST_BINS, range=(lo, hi))
    else:
        bins = np.asarray(edges, dtype=float)
        # Values outside the baseline's range land in the outer bins, as the detector counts.
        counts, bin_edges = np.histogram(np.clip(values, bins[0], bins[-1]), bins=bins)
    return {"edges": [float(e) for e in bin_edges], "counts": [int(c) for c in counts]}


def _scan_histograms(
    frame: Any, wanted: dict[str, list[float] | None]
) -> dict[str, dict[str, Any] | None]:
    """Bins as ``numpy.histogram`` draws them, counted by polars over the scan.

    Equal-width bins: numpy's own steps, the bin from ``(x - lo) / (hi - lo) * bins``
    corrected by one where ``x`` falls on the other side of the edge ``np.linspace`` computes
    (``k * step + lo``), so a value on an edge lands where numpy puts it. Given edges: the bin
    by a sorted search (right side), the last edge inclusive, as numpy counts."""
    import numpy as np
    import polars as pl

    out: dict[str, dict[str, Any] | None] = {c: None for c in wanted}
    stats = _query(
        frame,
        [
            e
            for i, c in enumerate(wanted)
            for e in (
                _finite(c).min().alias(f"{i}|lo"),
                _finite(c).max().alias(f"{i}|hi"),
                _finite(c).count().alias(f"{i}|n"),
            )
        ],
    ).row(0, named=True)
    x, b = pl.col("x"), pl.col("b")
    for i, (column, edges) in enumerate(wanted.items()):
        if not stats[f"{i}|n"]:
            continue
        values = frame.lazy().select(_finite(column).alias("x")).drop_nulls()
        if edges is None:
            lo, hi = float(stats[f"{i}|lo"]), float(stats[f"{i}|hi"])
            if lo == hi:
                lo, hi = lo - 0.5, hi + 0.5
            bins = np.linspace(lo, hi, HIST_BINS + 1)
            n, step = HIST_BINS, (hi - lo) / HIST_BINS
            if step == 0 or not np.isfinite(hi - lo):
                raise ValueError(f"histogram range of {column!r} is degenerate")
            first = ((x - lo) / (hi - lo) * n).cast(pl.Int64).clip(None, n - 1)
            below = (x < b.cast(pl.Float64) * step + lo).cast(pl.Int64)
            above = ((b != n - 1) & (x >= (b + 1).cast(pl.Float64) * step + lo)).cast(pl.Int64)
            binned = (
                values.select(x, first.alias("b"))
                .select(x, (b - below).alias("b"))
                .select((b + above).alias("b"))
            )
        else:
            bins = np.asarray(edges, dtype=float)
            if np.any(bins[1:] < bins[:-1]):
                raise ValueError("bins must increase monotonically")
            n = len(bins) - 1
            clipped = x.clip(float(bins[0]), float(bins[-1]))
            found = pl.lit(pl.Series(bins)).search_sorted(clipped, side="right")
            binned = values.select((found.cast(pl.Int64) - 1).clip(0, n - 1).alias("b"))
        counts = np.zeros(n, dtype=np.int64)
        for k, count in binned.group_by("b").len().collect(engine="streaming").iter_rows():
            counts[int(k)] = int(count)
        out[column] = {"edges": [float(e) for e in bins], "counts": [int(c) for c in counts]}
    return out


def correlations(frame: Any, columns: list[str]) -> dict[str, Any] | None:
    import polars as pl

    nulls = _query(frame, [pl.col(c).null_count().alias(c) for c in columns]).row(0, named=True)
    cols = [c for c in columns if nulls[c] < frame.height][:CORR_COLUMNS]
    if len(cols) < 2:
        return None
    sample: dict[str, int] | None = None
    if not _in_memory(frame):
        every = max(1, math.ceil(frame.height / CORR_SAMPLE_ROWS))
        scan = frame.lazy().select(cols)
        if every > 1:
            scan = scan.with_row_index("__pos__").filter(pl.col("__pos__") % every == 0)
        frame = scan.select(cols).collect(engine="streaming")
        if every > 1:
            sample = {"rows": frame.height, "every": every}
    exprs = []
    for i, a in enumerate(cols):
        for b in cols[i + 1 :]:
            ca, cb = pl.col(a).cast(pl.Float64), pl.col(b).cast(pl.Float64)
            both = ca.is_finite() & cb.is_finite()
            exprs.append(pl.corr(ca.filter(both), cb.filter(both)).alias(f"{i}|{cols.index(b)}"))
    row = frame.select(exprs).row(0, named=True)
    matrix = [[1.0 if i == j else None for j in range(len(cols))] for i in range(len(cols))]
    for key, value in row.items():
        i, j = (int(x) for x in key.split("|"))
        v = _num(value)
        matrix[i][j] = matrix[j][i] = None if v is None else round(v, 4)
    out: dict[str, Any] = {"columns": cols, "matrix": matrix}
    if sample is not None:
        out["sample"] = sample
    return out


def _agent_data(report: dict[str, Any], agent_id: str) -> dict[str, Any]:
    for a in report.get("agents", []):
        if a.get("agent_id") == agent_id and a.get("status") == "success":
            data = a.get("data")
            return data if isinstance(data, dict) else {}
    return {}


def _category_shares(frame: Any, column: str, categories: list[Any]) -> list[float]:
    if _in_memory(frame):
        series = frame.get_column(column).drop_nulls().cast(str)
        total = max(1, series.len())
        counts = dict(series.value_counts().iter_rows())
        return [round(counts.get(str(c), 0) / total, 6) for c in categories]
    import polars as pl

    text = pl.col(column).cast(pl.String)
    hits = [(text == str(c)).sum().alias(f"{k}") for k, c in enumerate(categories)]
    row = _query(frame, [text.count().alias("n"), *hits]).row(0, named=True)
    total = max(1, int(row["n"]))
    return [round(int(row[f"{k}"] or 0) / total, 6) for k in range(len(categories))]


def _top_categories(frame: Any, column: str) -> list[Any]:
    if _in_memory(frame):
        top = frame.get_column(column).drop_nulls().cast(str).value_counts(sort=True)
        return [r[0] for r in top.head(DRIFT_CATEGORIES).iter_rows()]
    import polars as pl

    top = (
        frame.lazy()
        .select(pl.col(column).cast(pl.String).alias("v"))
        .drop_nulls()
        .group_by("v")
        .len()
        .sort(["len", "v"], descending=[True, False])
        .head(DRIFT_CATEGORIES)
        .collect(engine="streaming")
    )
    return top.get_column("v").to_list()


def drift_overlays(report: dict[str, Any], frames: dict[str, Any]) -> dict[str, Any]:
    base, current = frames.get("baseline"), frames.get("primary")
    columns = _agent_data(report, "drift-detector").get("columns")
    if base is None or current is None or not isinstance(columns, dict):
        return {}
    chosen = {
        name: d
        for name, d in list(columns.items())[:DETAIL_COLUMNS]
        if isinstance(d, dict) and name in base.columns and name in current.columns
    }
    numeric = {
        n: d["bin_edges"]
        for n, d in chosen.items()
        if d.get("test") == "numeric" and d.get("bin_edges")
    }
    hist_base, hist_current = histograms(base, numeric), histograms(current, numeric)
    out: dict[str, Any] = {}
    for name, d in chosen.items():
        if name in numeric:
            b, c = hist_base[name], hist_current[name]
            if b and c:
                out[name] = {
                    "kind": "numeric",
                    "edges": b["edges"],
                    "baseline": b["counts"],
                    "current": c["counts"],
                }
        elif d.get("test") == "categorical":
            cats = _top_categories(base, name)
            out[name] = {
                "kind": "categorical",
                "categories": cats,
                "baseline": _category_shares(base, name, cats),
                "current": _category_shares(current, name, cats),
            }
    return out


def _stats(frame: Any, names: list[str]) -> dict[str, dict[str, Any]]:
    """Missing, distinct (and mean, min, max of numeric columns) of ``names``, in one query."""
    import polars as pl

    schema = frame.schema
    exact = frame.height <= EXACT_DISTINCT_ROWS
    exprs = []
    for i, name in enumerate(names):
        col = pl.col(name)
        distinct = col.n_unique() if exact else col.approx_n_unique()
        exprs += [col.null_count().alias(f"{i}|missing"), distinct.alias(f"{i}|distinct")]
        if schema[name].is_numeric():
            num = col.cast(pl.Float64)
            exprs += [
                num.mean().alias(f"{i}|mean"),
                num.min().alias(f"{i}|min"),
                num.max().alias(f"{i}|max"),
            ]
    row = _query(frame, exprs).row(0, named=True) if exprs else {}
    out: dict[str, dict[str, Any]] = {name: {} for name in names}
    for key, value in row.items():
        i, stat = key.split("|")
        out[names[int(i)]][stat] = int(value) if stat in ("missing", "distinct") else _num(value)
    return out


def before_after(before: Any, after: Any) -> list[dict[str, Any]]:
    rows = []
    names = [c for c in before.columns if c != ROW_ID][:BEFORE_AFTER_COLUMNS]
    stats_before = _stats(before, names)
    stats_after = _stats(after, [n for n in names if n in after.columns])
    for name in names:
        entry: dict[str, Any] = {
            "column": name,
            "before": stats_before[name],
            "distinct_exact": max(before.height, after.height) <= EXACT_DISTINCT_ROWS,
        }
        entry["after"] = stats_after.get(name)
        entry["dtype_before"] = str(before.schema[name])
        entry["dtype_after"] = str(after.schema[name]) if name in after.columns else None
        rows.append(entry)
    return rows


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    return text if len(text) <= CELL_TEXT else text[: CELL_TEXT - 1] + "…"


_GOLDEN_META = ("golden_id", "cluster_id", "source_count", "trust_score")


def _renames(report: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for a in report.get("agents", []):
        for old, new in (a.get("renames") or {}).items():
            for k, v in list(out.items()):
                if v == old:
                    out[k] = new
            out.setdefault(old, new)
    return out


def clusters(report: dict[str, Any], source: Any, golden: Any) -> dict[str, Any]:
    import polars as pl

    out: dict[str, Any] = {}
    if golden is None or "source_count" not in golden.columns:
        return out
    sizes = golden.get_column("source_count").value_counts(sort=False).sort("source_count")
    out["cluster_sizes"] = [{"size": int(s), "clusters": int(n)} for s, n in sizes.iter_rows()]
    members: dict[int, list[int]] = {}
    for a in report.get("agents", []):
        if a.get("agent_id") != "golden-record-builder":
            continue
        for c in a.get("changes", []):
            if c.get("column") == "cluster_id" and isinstance(c.get("after"), int):
                members.setdefault(int(c["after"]), []).append(int(c["row_id"]))
    gid_col = next((c for c in ("golden_id", "cluster_id") if c in golden.columns), None)
    if source is None or ROW_ID not in source.columns or gid_col is None:
        return out
    renames = _renames(report)
    samples = []
    for gid, rows in sorted(members.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        g = golden.filter(pl.col(gid_col) == gid)
        if g.height != 1:
            continue
        ids = sorted({gid, *rows})[:CLUSTER_MEMBERS]
        src = source.filter(pl.col(ROW_ID).is_in(ids)).sort(ROW_ID)
        golden_row = {k: _cell(v) for k, v in g.row(0, named=True).items()}
        fields = [c for c in golden.columns if c not in (ROW_ID, gid_col, *_GOLDEN_META)]
        back = {renames.get(c, c): c for c in source.columns if c != ROW_ID}
        member_rows = []
        for r in src.iter_rows(named=True):
            member_rows.append(
                {
                    "row_id": int(r[ROW_ID]),
                    "values": {f: _cell(r.get(back.get(f, f))) for f in fields},
                }
            )
        samples.append(
            {
                "golden_id": gid,
                "trust_score": golden_row.get("trust_score"),
                "source_count": golden_row.get("source_count"),
                "fields": fields,
                "golden": {f: golden_row.get(f) for f in fields},
                "members": member_rows,
            }
        )
        if len(samples) >= CLUSTER_SAMPLES:
            break
    out["cluster_samples"] = samples
    return out


def _profile(report: dict[str, Any], frames: dict[str, Any], final: Any) -> dict[str, Any]:
    primary = frames.get("primary")
    if primary is None:
        return {}
    numeric = _numeric_columns(primary)
    detail = set([c for c in primary.columns if c != ROW_ID][:DETAIL_COLUMNS])
    drawn = histograms(primary, {c: None for c in numeric if c in detail})
    figures: dict[str, Any] = {"histograms": {c: h for c, h in drawn.items() if h is not None}}
    corr = _safe("correlations", lambda: correlations(primary, numeric))
    if corr:
        figures["correlations"] = corr
    drift = _safe("drift", lambda: drift_overlays(report, frames))
    if drift:
        figures["drift"] = drift
    return figures


def _clean(report: dict[str, Any], frames: dict[str, Any], final: Any) -> dict[str, Any]:
    primary = frames.get("primary")
    if primary is None or final is None:
        return {}
    return {"before_after": before_after(primary, final)}


def _master(report: dict[str, Any], frames: dict[str, Any], final: Any) -> dict[str, Any]:
    return clusters(report, frames.get("primary"), final)


FIGURES: dict[str, Callable[[dict[str, Any], dict[str, Any], Any], dict[str, Any]]] = {
    "profile-my-data": _profile,
    "clean-my-data": _clean,
    "master-my-data": _master,
}


def _safe(what: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception:
        log.warning("report.figure_failed figure=%s", what, exc_info=True)
        return None


def compute_figures(report: dict[str, Any], frames: dict[str, Any] | None, final: Any) -> dict:
    """The tool's figures (see the module doc); ``{}`` when there is nothing to compute from."""
    fn = FIGURES.get(str(report.get("tool_id")))
    if fn is None or not frames:
        return {}
    result = _safe(str(report.get("tool_id")), lambda: fn(report, frames, final))
    return result or {}
