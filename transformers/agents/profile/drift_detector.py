"""drift-detector: distribution, missing-rate and schema drift of the primary file against the
``baseline`` file (``ctx.frames["baseline"]``; skipped without one).

Per column present in both files (``__row_id__`` excluded):

* **missing rate**: two-proportion z-test (pooled) on the missing counts; *drifted* when
  ``p < significance_level`` **and** ``|rate_now - rate_before| >= min_missing_rate_change``.
* **numeric** (and dates, as their physical integers): KS (``scipy.stats.ks_2samp``, two-sided),
  Wasserstein distance (``scipy.stats.wasserstein_distance``, also reported divided by the
  baseline std), PSI over ``psi_bins`` bins whose edges are quantiles of the *pooled* values with
  the outer edges at the union's min/max (so shifted values fall into bins, never outside), and
  a chi-square test on the same bins. The decision test is ``statistical_test``: ``ks`` -> KS
  p < significance_level; ``chi2`` -> binned chi-square p < significance_level;
  ``wasserstein`` -> W / baseline std >= ``wasserstein_threshold``. A column's distribution has
  *drifted* when the decision test says so **and** PSI >= ``psi_threshold`` (statistical and
  practical significance; set ``psi_threshold`` 0 to rely on the test alone).
  Each column is sorted once (polars, several columns in parallel); one stable merge of the
  two sorted samples gives both ECDFs at every pooled value, from which KS, Wasserstein and the
  PSI histogram are computed with scipy's / numpy's own formulas (the same floats; above 10,000
  values, where scipy's KS p-value is asymptotic, without calling scipy's sorting functions).
* **categorical** (text, boolean): PSI and chi-square test of homogeneity over the categories
  (the ``max_categories`` most frequent, the rest pooled as ``other``); drifted when chi-square
  p < significance_level and PSI >= ``psi_threshold``. Text columns whose distinct values exceed
  half of their values (ids, emails) are not distribution-tested (``high_cardinality``).

PSI = sum((a_i - b_i) * ln(a_i / b_i)) over bin shares, zero shares floored at 1e-4.
Columns with fewer than ``min_sample_size`` non-missing values in either file are reported as
``insufficient_data`` and not tested. Type changes (e.g. number -> text) are reported as schema
drift and such columns are not distribution-tested; new and missing columns are listed.
A column is *drifted* if its distribution or its missing rate drifted.

Row-level issues (real ``__row_id__`` values): for drifted numeric columns, current values
outside the baseline's [min, max]; for drifted categorical columns, categories unseen in the
baseline.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
from scipy import stats as sps

from transformers.agents.profile.stats import (
    BOOLEAN,
    NULL,
    NUMERIC,
    STRING,
    TEMPORAL,
    Ids,
    chunks,
    data_columns,
    finite,
    kind_of,
    skipped,
)
from transformers.contract import (
    ROW_ID,
    AgentContext,
    AgentResult,
    AgentStatus,
    Alert,
    Issue,
    Recommendation,
    RowIssueBlock,
    RowIssues,
    SummaryItem,
)
from transformers.params.profile import DriftDetectorParams

AGENT_ID = "drift-detector"
EPS = 1e-4
KS_EXACT_MAX_N = 10_000  # scipy's "auto": exact KS p-values up to this sample size
SORT_BATCH = 4  # numeric columns sorted together (parallel) per frame, bounding memory
#: Above this many rows in a file, the numeric tests (KS, Wasserstein, PSI, chi-squared) run on
#: a pseudo-random sample of about ``DRIFT_SAMPLE_ROWS`` rows of it (the same rows for every
#: column), so their memory stays flat; missing-rate tests, category tests and the rows
#: outside the baseline range stay exact over every row. The report gives the sample sizes and
#: the Dvoretzky-Kiefer-Wolfowitz bound on how far the sampled KS statistic can be from the
#: whole file's: ``|D_sample - D| <= eps_b + eps_a`` with ``eps = sqrt(ln(2 / alpha) / (2 n))``,
#: with probability at least ``1 - 2 alpha``.
DRIFT_EXACT_MAX_ROWS = 2_000_000
DRIFT_SAMPLE_ROWS = 1_000_000
DRIFT_SAMPLE_ALPHA = 0.001
_SAMPLE_SEED = 20240601


def _sample_every(height: int) -> int:
    """1 (every row) up to ``DRIFT_EXACT_MAX_ROWS``, else the k of a 1-in-k sample."""
    return 1 if height <= DRIFT_EXACT_MAX_ROWS else math.ceil(height / DRIFT_SAMPLE_ROWS)


def dkw_epsilon(n: int, alpha: float = DRIFT_SAMPLE_ALPHA) -> float:
    """The DKW bound on sup |F_n - F| for ``n`` sampled values, at confidence ``1 - alpha``."""
    return math.sqrt(math.log(2 / alpha) / (2 * n)) if n else 1.0


def psi(before: np.ndarray, after: np.ndarray) -> float:
    b = np.maximum(before / max(before.sum(), 1), EPS)
    a = np.maximum(after / max(after.sum(), 1), EPS)
    return float(np.sum((a - b) * np.log(a / b)))


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    if n1 == 0 or n2 == 0:
        return 0.0, 1.0
    p = (x1 + x2) / (n1 + n2)
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (x2 / n2 - x1 / n1) / se
    return z, float(2 * sps.norm.sf(abs(z)))


def _sorted_finite(frame: pl.DataFrame, cols: list[str]) -> dict[str, np.ndarray]:
    """Each column's finite values as Float64 (dates as their physical integers), sorted.

    One polars ``select`` sorts the columns in parallel; nulls go last and are sliced off, NaN
    (sorted after +inf) and infinities are dropped."""
    schema = frame.schema
    exprs = []
    for c in cols:
        e = pl.col(c)
        if schema[c].is_temporal():
            e = e.to_physical()
        exprs.append(e.cast(pl.Float64).sort(nulls_last=True))
    every = _sample_every(frame.height)
    if every > 1:  # a pseudo-random 1-in-k sample of the rows (see DRIFT_EXACT_MAX_ROWS)
        keep = (pl.col(ROW_ID).hash(seed=_SAMPLE_SEED) % every) == 0
        picked = frame.lazy().filter(keep).select(exprs).collect(engine="streaming")
    else:
        picked = frame.select(exprs)
    out: dict[str, np.ndarray] = {}
    for s in picked.get_columns():
        arr = s.head(s.len() - s.null_count()).to_numpy()
        if arr.size and not (math.isfinite(arr[0]) and math.isfinite(arr[-1])):
            arr = arr[np.isfinite(arr)]
        out[s.name] = arr
    return out


def _finite_ranges(frame: pl.DataFrame, cols: list[str]) -> dict[str, list[float]]:
    """Each column's smallest and largest finite value (as Float64), over every row."""
    schema = frame.schema
    exprs = []
    for i, c in enumerate(cols):
        e = pl.col(c)
        e = (e.to_physical() if schema[c].is_temporal() else e).cast(pl.Float64)
        e = e.filter(e.is_finite())
        exprs += [e.min().alias(f"lo{i}"), e.max().alias(f"hi{i}")]
    row = frame.select(exprs).row(0, named=True)
    return {
        c: [float(row[f"lo{i}"]), float(row[f"hi{i}"])]
        for i, c in enumerate(cols)
        if row[f"lo{i}"] is not None
    }


def _sampled_note(dist: dict[str, Any]) -> dict[str, Any]:
    nb, na = dist["baseline_values"], dist["current_values"]
    return {
        "statistics": ["ks_statistic", "ks_pvalue", "wasserstein", "psi", "chi2_pvalue"],
        "baseline_values": nb,
        "current_values": na,
        "method": "pseudo-random 1-in-k sample of the rows (hash of the row id)",
        "ks_statistic_error_bound": dkw_epsilon(nb) + dkw_epsilon(na),
        "confidence": 1 - 2 * DRIFT_SAMPLE_ALPHA,
    }


def _chi2(table: np.ndarray) -> float:
    keep = table.sum(axis=0) > 0
    t = table[:, keep]
    if t.shape[1] < 2:
        return 1.0
    return float(sps.chi2_contingency(t, correction=False)[1])


def _ecdf_counts(b: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pooled sorted values and, at each of them, how many values of ``b`` / ``a`` are <= it.

    Equal to ``b.searchsorted(pooled, "right")`` (likewise for ``a``), but from one stable merge
    of the two sorted arrays instead of two binary searches per pooled value."""
    both = np.concatenate((b, a))
    order = np.argsort(both, kind="stable")  # a merge of two sorted runs
    pooled = both[order]
    below_b = np.cumsum(order < b.size)
    if pooled.size > 1:
        ends = np.flatnonzero(pooled[1:] != pooled[:-1])
    else:
        ends = np.empty(0, dtype=np.intp)
    if ends.size + 1 == pooled.size:  # no ties
        cb = below_b
        ca = np.arange(1, pooled.size + 1) - below_b
    else:  # a tie group counts all of its members: take the counts at the group's last position
        ends = np.append(ends, pooled.size - 1)
        sizes = np.diff(ends, prepend=-1)
        cb = np.repeat(below_b[ends], sizes)
        ca = np.repeat(ends + 1 - below_b[ends], sizes)
    return pooled, cb, ca


def _ks_wasserstein(
    b: np.ndarray, a: np.ndarray, pooled: np.ndarray, cb: np.ndarray, ca: np.ndarray
) -> tuple[float, float, float]:
    """KS statistic and p-value (two-sided) and Wasserstein distance, computed the way
    ``scipy.stats.ks_2samp`` / ``wasserstein_distance`` do (same ECDF values, same reductions,
    so the same floats) from the shared merged ECDF counts. Samples small enough for scipy's
    exact KS p-value go to scipy itself."""
    n1, n2 = b.size, a.size
    cdf1, cdf2 = cb / n1, ca / n2
    wd = float(np.vecdot(np.abs(cdf1[:-1] - cdf2[:-1]), np.diff(pooled)))
    if max(n1, n2) <= KS_EXACT_MAX_N:
        ks = sps.ks_2samp(b, a)
        return float(ks.statistic), float(ks.pvalue), wd
    cddiffs = cdf1 - cdf2
    min_s = np.clip(-cddiffs.min(), 0, 1)
    max_s = cddiffs.max()
    d = min_s if min_s > max_s else max_s
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    prob = np.clip(sps.kstwo.sf(d, np.round(en)), 0, 1)
    return float(d), float(prob), wd


def _hist_sorted(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``np.histogram(x, bins=edges)[0]`` for sorted ``x`` (numpy sorts and searches the same)."""
    cum = np.concatenate((x.searchsorted(edges[:-1], "left"), x.searchsorted(edges[-1:], "right")))
    return np.diff(cum)


def _numeric(b: np.ndarray, a: np.ndarray, params: DriftDetectorParams) -> dict[str, Any]:
    """``b``, ``a``: the sorted finite values of the baseline / current column."""
    pooled, cb, ca = _ecdf_counts(b, a)
    ks_stat, ks_p, wd = _ks_wasserstein(b, a, pooled, cb, ca)
    sd = float(np.std(b, ddof=1)) if b.size > 1 else 0.0
    lo, hi = float(pooled[0]), float(pooled[-1])
    edges = np.unique(np.quantile(pooled, np.linspace(0, 1, params.psi_bins + 1)))
    if edges.size < 2:
        edges = np.array([lo, hi if hi > lo else lo + 1])
    edges[0], edges[-1] = lo, hi
    hb = _hist_sorted(b, edges).astype(float)
    ha = _hist_sorted(a, edges).astype(float)
    p_chi = _chi2(np.vstack([hb, ha]))
    w_norm = wd / sd if sd > 0 else (0.0 if wd == 0 else math.inf)
    if params.statistical_test == "ks":
        test_drift = ks_p < params.significance_level
    elif params.statistical_test == "chi2":
        test_drift = p_chi < params.significance_level
    else:
        test_drift = w_norm >= params.wasserstein_threshold
    value = psi(hb, ha)
    return {
        "test": "numeric",
        "ks_statistic": ks_stat,
        "ks_pvalue": ks_p,
        "wasserstein": wd,
        "wasserstein_normalized": finite(w_norm),
        "psi": value,
        "chi2_pvalue": p_chi,
        "bin_edges": edges.tolist(),
        "baseline_mean": float(b.mean()),
        "current_mean": float(a.mean()),
        "baseline_range": [float(b[0]), float(b[-1])],
        "baseline_values": int(b.size),
        "current_values": int(a.size),
        "decision_test": params.statistical_test,
        "distribution_drift": bool(test_drift and value >= params.psi_threshold),
    }


def _value_counts(frame: pl.DataFrame, cols: list[str]) -> dict[str, pl.DataFrame]:
    """Value counts (``[value as text, n]``, nulls left out) of several columns, one parallel
    select."""
    if not cols:
        return {}
    row = frame.select(
        pl.col(c).drop_nulls().cast(pl.String).value_counts(name="n").implode().alias(str(i))
        for i, c in enumerate(cols)
    )
    return {c: row.get_column(str(i)).explode().struct.unnest() for i, c in enumerate(cols)}


def _categorical(vb: pl.DataFrame, va: pl.DataFrame, params: DriftDetectorParams) -> dict[str, Any]:
    """``vb`` / ``va``: value counts of the baseline / current column (``_value_counts``)."""
    name = vb.columns[0]
    va = va.rename({va.columns[0]: name})
    joined = vb.join(va, on=name, how="full", coalesce=True, suffix="_a").fill_null(0)
    joined = joined.with_columns((pl.col("n") + pl.col("n_a")).alias("tot")).sort(
        ["tot", name], descending=[True, False]
    )
    top = joined.head(params.max_categories)
    rest = joined.slice(params.max_categories)
    cb = top.get_column("n").to_numpy().astype(float)
    ca = top.get_column("n_a").to_numpy().astype(float)
    if rest.height:
        cb = np.append(cb, float(rest.get_column("n").sum()))
        ca = np.append(ca, float(rest.get_column("n_a").sum()))
    p_chi = _chi2(np.vstack([cb, ca]))
    value = psi(cb, ca)
    new_cats = joined.filter((pl.col("n") == 0) & (pl.col("n_a") > 0)).get_column(name)
    return {
        "test": "categorical",
        "psi": value,
        "chi2_pvalue": p_chi,
        "categories": joined.height,
        "new_categories": new_cats.head(50).to_list(),
        "new_category_count": new_cats.len(),
        "decision_test": "chi2",
        "distribution_drift": bool(
            p_chi < params.significance_level and value >= params.psi_threshold
        ),
    }


def run(frame: pl.DataFrame, params: DriftDetectorParams, ctx: AgentContext) -> AgentResult:
    baseline = ctx.frames.get("baseline")
    if baseline is None:
        return skipped(AGENT_ID, "MISSING_FILE", "Skipped: needs the baseline file")
    ids = Ids("DD")
    result = AgentResult(agent_id=AGENT_ID)
    cur_cols, base_cols = data_columns(frame), data_columns(baseline)
    base_schema, cur_schema = baseline.schema, frame.schema
    new_cols = [c for c in cur_cols if c not in base_schema]
    missing_cols = [c for c in base_cols if c not in cur_schema]
    common = [c for c in cur_cols if c in base_schema]
    nb, na = baseline.height, frame.height
    # missing counts of every common column, one select per frame
    miss_b = _missing_counts(baseline, common)
    miss_a = _missing_counts(frame, common)
    kinds = {c: (kind_of(base_schema[c]), kind_of(cur_schema[c])) for c in common}
    testable = [
        c
        for c in common
        if kinds[c][0] == kinds[c][1]
        and kinds[c][1] != NULL
        and min(nb - miss_b[c], na - miss_a[c]) >= params.min_sample_size
    ]
    # numeric tests: the columns sorted a few at a time, in parallel, each sort shared by KS,
    # Wasserstein and PSI (None: too few finite values)
    numeric_dist: dict[str, dict[str, Any] | None] = {}
    numeric_cols = [c for c in testable if kinds[c][1] in (NUMERIC, TEMPORAL)]
    for batch in chunks(numeric_cols, SORT_BATCH):
        sorted_b, sorted_a = _sorted_finite(baseline, batch), _sorted_finite(frame, batch)
        for c in batch:
            b_arr, a_arr = sorted_b.pop(c), sorted_a.pop(c)
            numeric_dist[c] = (
                None
                if min(b_arr.size, a_arr.size) < params.min_sample_size
                else _numeric(b_arr, a_arr, params)
            )
        if _sample_every(nb) > 1:  # the range rows are checked against is the whole file's
            for c, lo_hi in _finite_ranges(baseline, batch).items():
                if numeric_dist.get(c) is not None:
                    numeric_dist[c]["baseline_range"] = lo_hi  # type: ignore[index]
    # distinct counts of the current text columns
    text_cols = [c for c in testable if kinds[c][1] == STRING]
    distinct_now = _distinct_counts(frame, text_cols, ctx)
    # value counts of the columns tested as categories, one select per frame
    categorical = [
        c
        for c in testable
        if kinds[c][1] == BOOLEAN
        or (kinds[c][1] == STRING and not _many_values(distinct_now[c], na - miss_a[c], params))
    ]
    counts_b, counts_a = _value_counts(baseline, categorical), _value_counts(frame, categorical)
    columns: dict[str, dict[str, Any]] = {}
    rows: list[RowIssueBlock] = []
    for c in common:
        kb, ka = kinds[c]
        info: dict[str, Any] = {
            "baseline_dtype": str(base_schema[c]),
            "current_dtype": str(cur_schema[c]),
        }
        xb, xa = miss_b[c], miss_a[c]
        z, p_missing = two_proportion_z(xb, nb, xa, na)
        rate_b, rate_a = (xb / nb if nb else 0.0), (xa / na if na else 0.0)
        missing_drift = (
            p_missing < params.significance_level
            and abs(rate_a - rate_b) >= params.min_missing_rate_change
        )
        info["missing"] = {
            "baseline_rate": rate_b,
            "current_rate": rate_a,
            "change": rate_a - rate_b,
            "z": z,
            "pvalue": p_missing,
            "drift": missing_drift,
        }
        dist: dict[str, Any] | None = None
        type_changed = kb != ka and NULL not in (kb, ka)
        info["type_changed"] = type_changed
        if type_changed:
            info["status"] = "type_changed"
        elif NULL in (kb, ka):
            info["status"] = "no_values"
        elif min(nb - xb, na - xa) < params.min_sample_size:
            info["status"] = "insufficient_data"
        elif ka in (NUMERIC, TEMPORAL):
            dist = numeric_dist[c]
            if dist is None:
                info["status"] = "insufficient_data"
            elif _sample_every(nb) > 1 or _sample_every(na) > 1:
                info["sampled"] = _sampled_note(dist)
        elif ka in (STRING, BOOLEAN):
            if c not in counts_a:
                info["status"] = "high_cardinality"
            else:
                dist = _categorical(counts_b.pop(c), counts_a.pop(c), params)
        else:
            info["status"] = "not_tested"
        if dist is not None:
            info.update(dist)
            info["status"] = "tested"
        dist_drift = bool(dist and dist["distribution_drift"])
        info["distribution_drift"] = dist_drift
        info["drifted"] = dist_drift or missing_drift
        columns[c] = info
        if dist_drift and dist is not None:
            rows += _row_issues(frame, baseline, c, dist)
    drifted = [c for c in common if columns[c]["drifted"]]
    type_changes = [c for c in common if columns[c]["type_changed"]]
    result.row_level_issues = RowIssues(rows)
    result.data = {
        "columns": columns,
        "drifted_columns": drifted,
        "new_columns": new_cols,
        "missing_columns": missing_cols,
        "type_changes": type_changes,
        "baseline_rows": nb,
        "current_rows": na,
        "parameters": params.model_dump(),
    }
    tested = sum(1 for c in common if columns[c]["status"] == "tested")
    result.summary_metrics = {
        "columns_compared": len(common),
        "columns_tested": tested,
        "drifted_columns": len(drifted),
        "distribution_drift_columns": sum(columns[c]["distribution_drift"] for c in common),
        "missing_rate_drift_columns": sum(columns[c]["missing"]["drift"] for c in common),
        "new_columns": len(new_cols),
        "missing_columns": len(missing_cols),
        "type_changes": len(type_changes),
        "drift_share": len(drifted) / len(common) if common else 0.0,
    }
    for c in drifted:
        info = columns[c]
        parts = []
        if info["distribution_drift"]:
            stat = (
                f"KS={info['ks_statistic']:.3f}, p={info['ks_pvalue']:.2g}"
                if info.get("test") == "numeric"
                else f"chi2 p={info['chi2_pvalue']:.2g}"
            )
            parts.append(f"distribution changed (PSI={info['psi']:.3f}, {stat})")
        if info["missing"]["drift"]:
            m = info["missing"]
            parts.append(
                f"missing rate {100 * m['baseline_rate']:.1f}% -> {100 * m['current_rate']:.1f}%"
            )
        result.issues.append(Issue(ids.next("I"), c, "drift", "high", f"{c}: {'; '.join(parts)}"))
    for c in type_changes:
        result.issues.append(
            Issue(
                ids.next("I"),
                c,
                "type_change",
                "high",
                f"{c}: type changed {columns[c]['baseline_dtype']} -> "
                f"{columns[c]['current_dtype']}",
            )
        )
    for c in new_cols:
        result.issues.append(Issue(ids.next("I"), c, "new_column", "medium", f"new column {c}"))
    for c in missing_cols:
        result.issues.append(
            Issue(ids.next("I"), c, "missing_column", "high", f"column {c} is gone")
        )
    schema_changes = len(new_cols) + len(missing_cols) + len(type_changes)
    if drifted:
        result.alerts.append(
            Alert(
                ids.next("A"),
                "high" if len(drifted) > len(common) / 4 else "medium",
                "drift",
                f"{len(drifted)} of {len(common)} columns drifted: {', '.join(drifted[:10])}",
                len(drifted),
                "Check upstream changes before using models or reports built on the baseline.",
            )
        )
    if schema_changes:
        result.alerts.append(
            Alert(
                ids.next("A"),
                "high",
                "schema",
                f"Schema changed: {len(new_cols)} new, {len(missing_cols)} missing, "
                f"{len(type_changes)} type change(s)",
                schema_changes,
                "Update consumers or the data contract.",
            )
        )
    if drifted or schema_changes:
        result.recommendations.append(
            Recommendation(
                ids.next("R"),
                "high",
                "Investigate the drifted columns and re-validate downstream models.",
                "medium",
            )
        )
    result.executive_summary = [
        SummaryItem("Drifted columns", len(drifted), "critical" if drifted else "good"),
        SummaryItem("Schema changes", schema_changes, "warning" if schema_changes else "good"),
        SummaryItem("Columns compared", len(common), "info"),
    ]
    return result


def _distinct_counts(frame: pl.DataFrame, cols: list[str], ctx: AgentContext) -> dict[str, int]:
    """Distinct non-null values per column: unified-profiler's counts when it profiled this very
    frame in this task, else one parallel select."""
    if not cols:
        return {}
    prior = ctx.results.get("unified-profiler")
    if (
        prior is not None
        and prior.status == AgentStatus.SUCCESS
        and ctx.frames.get("primary") is frame
    ):
        profiles = prior.data.get("columns") or {}
        known = {c: profiles.get(c, {}).get("distinct_count") for c in cols}
        if all(isinstance(v, int) for v in known.values()):
            return {c: int(v) for c, v in known.items() if v is not None}
    row = frame.select(pl.col(cols).drop_nulls().n_unique()).row(0)
    return dict(zip(cols, row, strict=True))


def _many_values(distinct: int, present: int, params: DriftDetectorParams) -> bool:
    return distinct > 0.5 * present and distinct > params.max_categories


def _missing_counts(frame: pl.DataFrame, cols: list[str]) -> dict[str, int]:
    if not cols:
        return {}
    exprs = []
    schema = frame.schema
    for i, c in enumerate(cols):
        e = pl.col(c).is_null()
        if schema[c].is_float():
            e = e | pl.col(c).is_nan().fill_null(False)
        exprs.append(e.sum().alias(str(i)))
    row = frame.select(exprs).row(0)
    return {c: int(v or 0) for c, v in zip(cols, row, strict=True)}


def _row_issues(
    frame: pl.DataFrame, baseline: pl.DataFrame, c: str, dist: dict[str, Any]
) -> list[RowIssueBlock]:
    """The current rows behind a drift finding, as columnar blocks (every row, never sampled)."""
    if dist["test"] == "numeric":
        lo, hi = dist["baseline_range"]
        col = pl.col(c)
        x = (col.to_physical() if frame.schema[c].is_temporal() else col).cast(pl.Float64)
        hits = frame.lazy().select(ROW_ID, c).filter((x < lo) | (x > hi)).collect()
        tail = f" outside the baseline range [{lo:.6g}, {hi:.6g}]"
        return [RowIssueBlock(hits, c, "outside_baseline_range", "low", f"{c}=", tail)]
    if dist["new_category_count"]:
        seen = baseline.get_column(c).drop_nulls().cast(pl.String).unique()
        s = pl.col(c).cast(pl.String)
        hits = (
            frame.lazy()
            .select(ROW_ID, c)
            .filter(s.is_not_null() & ~s.is_in(seen.implode()))
            .collect()
        )
        tail = "' does not occur in the baseline"
        return [RowIssueBlock(hits, c, "new_category", "low", f"{c}: '", tail)]
    return []
