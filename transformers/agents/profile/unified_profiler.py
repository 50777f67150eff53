"""unified-profiler: per-column statistics, types, patterns, outliers and a quality grade.

Everything is computed with polars expressions: one ``select`` over all columns for the scalar
statistics and distinct counts / top values (for numbers and dates without repeated values the
top values are the smallest ones; the others get value counts in a second ``select``), one for
the patterns, and one ``select`` counting IQR outliers, after which only columns that have
outliers are filtered for their row ids. The ``__row_id__`` column is never profiled;
row-level issues carry its values.

Statistics (definitions in ``stats``): ``count`` = non-missing values, ``missing`` = nulls (plus
NaN in float columns, which pandas also treats as missing), ``distinct`` = distinct non-missing
values; ``min``/``max``/``mean``/``median``/``std`` (ddof=1); quantiles 1/5/25/50/75/95/99 % with
linear interpolation (pandas' and numpy's default); ``skew`` and ``kurtosis`` as pandas'
bias-corrected ``skew()`` / ``kurt()`` (excess).

IQR outliers: ``x < Q1 - k*IQR`` or ``x > Q3 + k*IQR`` with ``k = outlier_iqr_multiplier`` and
Q1/Q3 as above (linear). Booleans are not checked.

Inferred type: integer / float / boolean / date / datetime / time / duration from the typed
frame; for text columns, each non-empty value is classed as a number (parses as a float), an ISO
date (``yyyy-mm-dd...``) or text. ``numeric_text`` / ``date_text``: all values are numbers /
dates stored as text; ``mixed``: the dominant class is number or date but some values are not
(those are *invalid* cells, listed as row-level ``type_mismatch`` issues), or the dominant class
is text and at least 10 % are numbers or dates; otherwise ``categorical`` when the column has at
most ``categorical_threshold`` distinct values, else ``text``. ``empty`` = no values at all.
Locale formats (``transformers.io.formats``: decimal comma, thousands separators, percentages,
currencies, day/month order, month names, ISO weeks, Excel serials): a text column's
``detected_format`` names the format that reads most of its values, with its ``hit_ratio``
(reported from 50 %); when it reads every value the inferred type is the format's type
(``float``, ``integer``, ``date``, ``datetime``) and ``stored_as_text`` is true.
Columns flattened from nested JSON carry ``source_path`` (the keys); a list (or an object
nested deeper than the flattening limit) kept as JSON text has ``json_text`` and a ``note``.
Every column also reports ``is_categorical`` (distinct <= ``categorical_threshold``).

Dataset quality score (0-100)::

    completeness = 100 * (1 - missing cells / all cells)
    validity     = 100 * (1 - invalid cells / non-missing cells)
                   invalid = type_mismatch cells (see above) + infinite numbers
    consistency  = 100 * (1 - inconsistent cells / non-missing cells)
                   inconsistent = IQR-outlier cells + text cells with leading/trailing spaces
    quality_score = 0.40 * completeness + 0.35 * validity + 0.25 * consistency

Grade: A >= 90, B >= 80, C >= 70, D >= 60, else F; ``N/A`` (score ``None``) for a data set with
no rows or no columns. Parameters: ``null_alert_threshold`` (alert when missing % >= it),
``categorical_threshold``, ``top_n_values``, ``outlier_iqr_multiplier``,
``outlier_alert_threshold`` (alert when outlier % >= it).

Patterns (text columns): each value with ``A``=upper-case letter, ``a``=lower-case, ``9``=digit,
other characters kept, cut at 40 characters; shares over all values when the column has at most
``PATTERN_SAMPLE`` rows, else over an evenly spaced sample of that many rows
(``patterns_sampled: true``; ``pct`` is then the share of the sampled values). The PII hint runs
``pii_patterns.detect_column`` on an evenly spaced sample of ``PII_SAMPLE`` rows (score-risk
scans every value).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from transformers.agents.profile import pii_patterns
from transformers.agents.profile.stats import (
    BOOLEAN,
    NULL,
    NUMERIC,
    QUANTILES,
    STRING,
    TEMPORAL,
    Ids,
    data_columns,
    finite,
    grade,
    kind_of,
    kurtosis_from_moments,
    moments_exprs,
    nan_columns,
    numeric_expr,
    pct,
    skew_from_moments,
)
from transformers.contract import (
    ROW_ID,
    AgentContext,
    AgentResult,
    Alert,
    Issue,
    Recommendation,
    RowIssueBlock,
    RowIssues,
    SummaryItem,
)
from transformers.io import formats
from transformers.params.profile import UnifiedProfilerParams

AGENT_ID = "unified-profiler"
PATTERN_SAMPLE = 20_000
PII_SAMPLE = 1_000
MIXED_TEXT_SHARE = 0.10
WEIGHTS = {"completeness": 0.40, "validity": 0.35, "consistency": 0.25}
_NUMBER_RE = r"^\s*[+\-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+\-]?[0-9]+)?\s*$"
_ISO_DATE_RE = r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9:.]+(?:Z|[+\-][0-9:]+)?)?\s*$"


def _evenly_spaced(s: pl.Series, k: int) -> pl.Series:
    if s.len() <= k:
        return s
    step = s.len() / k
    return s.gather([int(i * step) for i in range(k)])


def _type_name(dtype: pl.DataType) -> str:
    if dtype.is_integer():
        return "integer"
    if dtype.is_numeric():
        return "float"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if dtype == pl.Time:
        return "time"
    if isinstance(dtype, pl.Duration):
        return "duration"
    return "other"


def _put_top(
    row: dict[str, Any], p: str, c: str, counted: tuple[int, list[Any]], distinct: bool
) -> None:
    """Value counts computed outside the select, in the shape the select gives them."""
    n_distinct, top = counted
    row[p + "top"] = [{c: v, "count": k} for v, k in top]
    if distinct:
        row[p + "distinct"] = n_distinct


def _scalar_exprs(
    i: int,
    c: str,
    dtype: pl.DataType,
    kind: str,
    top_n: int,
    has_nan: bool,
    value_counts: bool = True,
) -> list[pl.Expr]:
    p = f"{i}:"
    col = pl.col(c)
    exprs = [col.null_count().alias(p + "nulls")]
    if kind in (NUMERIC, TEMPORAL):
        # numbers and dates are often all distinct: count the distinct values (a hash set, no
        # counts) and take the smallest values, which are the top values of a column without
        # repeats; the others get their value counts in a second select (``_top_exprs``)
        v = col.drop_nulls().drop_nans() if has_nan else col.drop_nulls()
        exprs += [
            v.n_unique().alias(p + "distinct"),
            v.bottom_k(top_n).sort().implode().alias(p + "lowest"),
        ]
    elif kind != NULL and value_counts:
        exprs += _top_exprs(p, c, top_n, has_nan, distinct=True)
    if kind == NUMERIC:
        x = numeric_expr(c, dtype, has_nan)
        exprs += [
            x.null_count().alias(p + "missing"),
            x.min().alias(p + "min"),
            x.max().alias(p + "max"),
            x.mean().alias(p + "mean"),
            x.std(ddof=1).alias(p + "std"),
            x.quantile(list(QUANTILES), "linear").alias(p + "q"),
            x.is_infinite().sum().alias(p + "inf"),
            *moments_exprs(x, p),
        ]
        if dtype.is_integer():  # exact integer extremes (no float rounding)
            exprs += [col.min().alias(p + "imin"), col.max().alias(p + "imax")]
    elif kind == STRING:
        s = col.cast(pl.String)
        lens = s.str.len_chars()
        exprs += [
            lens.min().alias(p + "len_min"),
            lens.max().alias(p + "len_max"),
            lens.mean().alias(p + "len_mean"),
            lens.median().alias(p + "len_median"),
            s.str.contains(r"^\s*$").sum().alias(p + "blank"),
            s.str.contains(r"^\s|\s$").sum().alias(p + "padded"),
            s.str.contains(_NUMBER_RE).sum().alias(p + "numberlike"),
            s.str.contains(_ISO_DATE_RE).sum().alias(p + "datelike"),
        ]
    elif kind == TEMPORAL:
        exprs += [col.min().alias(p + "min"), col.max().alias(p + "max")]
    elif kind == BOOLEAN:
        exprs += [col.sum().alias(p + "true")]
    return exprs


def _top_exprs(p: str, c: str, top_n: int, has_nan: bool, distinct: bool) -> list[pl.Expr]:
    """Top-N values (and the distinct count) from one value_counts, shared by common-subexpression
    elimination; ties broken by the value, so the order is deterministic."""
    # drop_nans, not fill_nan(None): on polars 2.1 the latter makes top_k_by below return
    # arbitrary rows
    v = pl.col(c).drop_nulls()
    vc = (v.drop_nans() if has_nan else v).value_counts(name="count")
    exprs = [_top_of(vc.implode(), c, top_n).alias(p + "top")]
    if distinct:
        exprs.append(vc.len().alias(p + "distinct"))
    return exprs


def _top_of(counts: pl.Expr, field: str, n: int) -> pl.Expr:
    """The ``n`` most frequent of an imploded ``value_counts`` (ties: the smallest value).

    Sorted inside ``list.eval``, where the counts and the values are one materialised list:
    ``value_counts``' order is not stable between evaluations, and a lazy plan (a scan of the
    working copy) may evaluate ``vc`` and ``vc.struct.field(...)`` separately, pairing counts
    with the wrong values."""
    e = pl.element()
    ranked = e.sort_by(
        [e.struct.field("count"), e.struct.field(field)], descending=[True, False]
    ).head(n)
    return counts.list.eval(ranked).explode().implode()


def _pattern_exprs(sample: pl.DataFrame, string_cols: list[str]) -> list[pl.Expr]:
    exprs = []
    for j, c in enumerate(string_cols):
        pat = (
            pl.col(c)
            .cast(pl.String)
            .drop_nulls()
            .str.replace_all("[A-Z]", "A")
            .str.replace_all("[a-z]", "a")
            .str.replace_all("[0-9]", "9")
            .str.slice(0, 40)
            .alias("pattern")
        )
        vc = pat.value_counts(name="count")
        exprs.append(_top_of(vc.implode(), "pattern", 5).alias(f"{j}"))
    return exprs


#: share of a text column's values one locale format must read to be reported
FORMAT_MIN_RATIO = 0.5


def _locale_format(frame: pl.DataFrame, sample: pl.DataFrame, c: str) -> formats.FormatGuess | None:
    """The locale format of a text column (``transformers.io.formats``): proposed on the
    pattern sample (cheap for text that is no number or date), measured on the whole column."""
    if formats.detect(sample.get_column(c), c, FORMAT_MIN_RATIO) is None:
        return None
    return formats.detect(frame.get_column(c), c, FORMAT_MIN_RATIO)


def _sample_rows(frame: pl.DataFrame, k: int) -> pl.DataFrame:
    if frame.height <= k:
        return frame
    step = frame.height / k
    return frame[[int(i * step) for i in range(k)]]


def run(frame: pl.DataFrame, params: UnifiedProfilerParams, ctx: AgentContext) -> AgentResult:
    ids = Ids("UP")
    result = AgentResult(agent_id=AGENT_ID)
    cols = data_columns(frame)
    n = frame.height
    schema = frame.schema
    kinds = {c: kind_of(schema[c]) for c in cols}

    # -- pass 1: scalar statistics of every column in one select --------------------------
    with_nan = nan_columns(frame, cols)
    # Out of core, value counts come from the engine that spills (not one polars hash table).
    counted = getattr(frame, "top_values", None)
    exprs: list[pl.Expr] = []
    for i, c in enumerate(cols):
        exprs += _scalar_exprs(
            i, c, schema[c], kinds[c], params.top_n_values, c in with_nan, counted is None
        )
    row: dict[str, Any] = frame.select(exprs).row(0, named=True) if exprs else {}
    if counted is not None:
        for i, c in enumerate(cols):
            if kinds[c] not in (NUMERIC, TEMPORAL, NULL):
                _put_top(row, f"{i}:", c, counted(c, params.top_n_values, False), True)
    # top values of numbers/dates: the smallest values when no value repeats, else value counts
    repeats: list[pl.Expr] = []
    for i, c in enumerate(cols):
        p = f"{i}:"
        if p + "lowest" not in row:
            continue
        present = n - int(row.get(p + "missing", row[p + "nulls"]) or 0)
        if int(row[p + "distinct"] or 0) == present:
            row[p + "top"] = [{c: x, "count": 1} for x in row[p + "lowest"] or []]
        elif counted is not None:
            _put_top(row, p, c, counted(c, params.top_n_values, c in with_nan), False)
        else:
            repeats += _top_exprs(p, c, params.top_n_values, c in with_nan, distinct=False)
    if repeats:
        row.update(frame.select(repeats).row(0, named=True))

    # -- pass 2: patterns of text columns on an evenly spaced sample of rows, one select ------
    string_cols = [c for c in cols if kinds[c] == STRING]
    sample = _sample_rows(frame, PATTERN_SAMPLE)
    pat_row = sample.select(_pattern_exprs(sample, string_cols)).row(0) if string_cols else ()
    patterns = {c: list(pat_row[j] or []) for j, c in enumerate(string_cols)}

    # -- build the column profiles ---------------------------------------------------------
    primary = ctx.inputs.get("primary") if ctx.inputs else None
    sources = primary.column_sources if primary is not None else {}
    profiles: dict[str, dict[str, Any]] = {}
    bounds: dict[str, tuple[float, float]] = {}
    mismatch_cols: dict[str, str] = {}  # column -> the dominant class ("number" | "date")
    missing_cells = invalid_cells = inconsistent_cells = 0
    for i, c in enumerate(cols):
        p = f"{i}:"
        dtype, kind = schema[c], kinds[c]
        nulls = int(row.get(p + "nulls", n) or 0)
        missing = int(row.get(p + "missing", nulls) or 0)
        count = n - missing
        distinct = int(row.get(p + "distinct") or 0)
        top = list(row.get(p + "top") or [])
        prof: dict[str, Any] = {
            "name": c,
            "dtype": str(dtype),
            "kind": kind,
            "count": count,
            "null_count": nulls,
            "missing_count": missing,
            "missing_pct": pct(missing, n),
            "distinct_count": distinct,
            "distinct_pct": pct(distinct, count),
            "is_categorical": 0 < distinct <= params.categorical_threshold,
            "is_unique": count > 0 and distinct == count,
            "top_values": [
                {"value": t[c], "count": int(t["count"]), "pct": pct(t["count"], n)} for t in top
            ],
        }
        if missing != nulls:
            prof["nan_count"] = missing - nulls
        source = sources.get(c)
        if source is not None:  # a column flattened from nested JSON
            prof["source_path"] = source["path"]
            if source.get("json_text"):
                prof["json_text"] = source["json_text"]
                prof["note"] = (
                    f"nested {source['json_text']} kept as JSON text (not flattened into columns)"
                )
        inferred = _type_name(dtype)
        if kind == NUMERIC:
            qs = row[p + "q"] or [None] * len(QUANTILES)
            quant = {f"p{round(q * 100)}": finite(v) for q, v in zip(QUANTILES, qs, strict=True)}
            m2, m3, m4 = row[p + "m2"], row[p + "m3"], row[p + "m4"]
            prof.update(
                min=row.get(p + "imin", row[p + "min"]),
                max=row.get(p + "imax", row[p + "max"]),
                mean=finite(row[p + "mean"]),
                median=quant["p50"],
                std=finite(row[p + "std"]),
                quantiles=quant,
                quantile_interpolation="linear",
                skew=finite(skew_from_moments(count, m2, m3)),
                kurtosis=finite(kurtosis_from_moments(count, m2, m4)),
                infinite_count=int(row[p + "inf"] or 0),
            )
            invalid_cells += prof["infinite_count"]
            q1, q3 = quant["p25"], quant["p75"]
            if q1 is not None and q3 is not None:
                iqr = q3 - q1
                lo = q1 - params.outlier_iqr_multiplier * iqr
                hi = q3 + params.outlier_iqr_multiplier * iqr
                bounds[c] = (lo, hi)
                prof["iqr"] = iqr
                prof["outlier_bounds"] = {"lower": lo, "upper": hi}
        elif kind == STRING:
            blank = int(row[p + "blank"] or 0)
            numberlike = int(row[p + "numberlike"] or 0)
            datelike = int(row[p + "datelike"] or 0)
            nonempty = count - blank
            text = nonempty - numberlike - datelike
            classes = {"number": numberlike, "date": datelike, "text": text}
            dominant = max(classes, key=lambda key: classes[key]) if nonempty else "text"
            minority = nonempty - classes[dominant]
            guess = _locale_format(frame, sample, c) if nonempty else None
            if guess is not None:
                prof["detected_format"] = guess.describe()
            if count == 0:
                inferred = "empty"
            elif guess is not None and guess.hit_ratio == 1.0:
                inferred = guess.dtype  # every value reads in one locale format
                prof["stored_as_text"] = True
            elif dominant in ("number", "date") and minority == 0:
                inferred = "numeric_text" if dominant == "number" else "date_text"
            elif dominant in ("number", "date") or (
                nonempty and (numberlike + datelike) / nonempty >= MIXED_TEXT_SHARE
            ):
                inferred = "mixed"
                if dominant != "text":
                    mismatch_cols[c] = dominant
                    invalid_cells += minority
            elif prof["is_categorical"]:
                inferred = "categorical"
            else:
                inferred = "text"
            padded = int(row[p + "padded"] or 0)
            inconsistent_cells += padded
            pats = patterns[c]
            sample_n = sum(int(r["count"]) for r in pats) or 1
            prof.update(
                length={
                    "min": row[p + "len_min"],
                    "max": row[p + "len_max"],
                    "mean": finite(row[p + "len_mean"]),
                    "median": finite(row[p + "len_median"]),
                },
                blank_count=blank,
                whitespace_padded_count=padded,
                value_classes=classes,
                dominant_class=dominant,
                patterns=[
                    {"pattern": r["pattern"], "count": r["count"], "pct": pct(r["count"], sample_n)}
                    for r in pats
                ],
                patterns_sampled=n > PATTERN_SAMPLE,
            )
        elif kind == TEMPORAL:
            lo_t, hi_t = row[p + "min"], row[p + "max"]
            prof.update(min=lo_t, max=hi_t)
            if (dtype == pl.Date or isinstance(dtype, pl.Datetime)) and None not in (lo_t, hi_t):
                prof["range_days"] = (hi_t - lo_t).total_seconds() / 86400.0
        elif kind == BOOLEAN:
            trues = int(row[p + "true"] or 0)
            prof.update(true_count=trues, false_count=count - trues)
        if kind == NULL or count == 0:
            inferred = "empty"
        prof["inferred_type"] = inferred
        missing_cells += missing
        profiles[c] = prof

    # -- pass 3: IQR outliers, counted in one select; row ids only where there are some -----
    outlier_rows: list[RowIssueBlock] = []
    if bounds:
        conds = {
            c: _outlier_cond(c, schema[c], lo, hi, c in with_nan) for c, (lo, hi) in bounds.items()
        }
        counts = frame.select(
            [cond.sum().alias(f"{j}") for j, cond in enumerate(conds.values())]
        ).row(0)
        for (c, cond), cnt in zip(conds.items(), counts, strict=True):
            cnt = int(cnt or 0)
            prof = profiles[c]
            prof["outlier_count"] = cnt
            prof["outlier_pct"] = pct(cnt, prof["count"])
            inconsistent_cells += cnt
            if cnt:
                lo, hi = bounds[c]
                tail = f" outside IQR bounds [{lo:.6g}, {hi:.6g}]"
                hits = _hits(frame, cond, c)
                outlier_rows.append(RowIssueBlock(hits, c, "outlier", "low", f"{c}=", tail))
    for c in cols:
        profiles[c].setdefault("outlier_count", 0)

    mismatch_rows: list[RowIssueBlock] = []
    for c, dominant in mismatch_cols.items():
        st = pl.col(c).cast(pl.String)
        pattern = _NUMBER_RE if dominant == "number" else _ISO_DATE_RE
        bad = _hits(frame, ~st.str.contains(r"^\s*$") & ~st.str.contains(pattern), c)
        tail = f"' is not a {dominant} like most values of this column"
        mismatch_rows.append(RowIssueBlock(bad, c, "type_mismatch", "medium", f"{c}: '", tail))

    # -- PII hints on a sample: one screening select, full detection only for candidates -----
    pii_sample = _sample_rows(frame, PII_SAMPLE)
    for c in pii_patterns.screen_candidates(pii_sample, cols):
        det = pii_patterns.detect_column(c, pii_sample.get_column(c))
        profiles[c]["pii_hint"] = det.pii_type
    for c in cols:
        profiles[c].setdefault("pii_hint", None)

    # -- quality score ------------------------------------------------------------------------
    total_cells = n * len(cols)
    non_missing = total_cells - missing_cells
    if total_cells:
        completeness = 100.0 * (1 - missing_cells / total_cells)
        validity = 100.0 * (1 - invalid_cells / non_missing) if non_missing else 0.0
        consistency = 100.0 * (1 - inconsistent_cells / non_missing) if non_missing else 0.0
        score: float | None = (
            WEIGHTS["completeness"] * completeness
            + WEIGHTS["validity"] * validity
            + WEIGHTS["consistency"] * consistency
        )
    else:
        completeness = validity = consistency = 0.0
        score = None
    letter = grade(score)

    result.row_level_issues = RowIssues(outlier_rows + mismatch_rows)
    result.data = {
        "columns": profiles,
        "row_count": n,
        "column_count": len(cols),
        "quantile_interpolation": "linear",
        "quality": {
            "score": score,
            "grade": letter,
            "completeness": completeness,
            "validity": validity,
            "consistency": consistency,
            "weights": WEIGHTS,
            "missing_cells": missing_cells,
            "invalid_cells": invalid_cells,
            "inconsistent_cells": inconsistent_cells,
            "total_cells": total_cells,
            "formula": "0.40*completeness + 0.35*validity + 0.25*consistency",
        },
        "parameters": params.model_dump(),
    }
    outlier_cells = sum(p["outlier_count"] for p in profiles.values())
    pii_cols = [c for c in cols if profiles[c]["pii_hint"]]
    result.summary_metrics = {
        "rows": n,
        "columns": len(cols),
        "quality_score": round(score, 4) if score is not None else 0.0,
        "completeness": completeness,
        "validity": validity,
        "consistency": consistency,
        "missing_cells": missing_cells,
        "outlier_cells": outlier_cells,
        "type_mismatch_cells": len(mismatch_rows),
        "pii_hint_columns": len(pii_cols),
        "empty_columns": sum(1 for c in cols if profiles[c]["inferred_type"] == "empty"),
        "mixed_type_columns": sum(1 for c in cols if profiles[c]["inferred_type"] == "mixed"),
    }
    _findings(result, ids, profiles, cols, n, params, pii_cols, letter, score)
    return result


def _hits(frame: pl.DataFrame, cond: pl.Expr, c: str) -> pl.DataFrame:
    """Row id and value of the rows where ``cond`` holds (only these two columns are filtered)."""
    return frame.lazy().select(ROW_ID, c).filter(cond).collect()


def _outlier_cond(c: str, dtype: pl.DataType, lo: float, hi: float, has_nan: bool) -> pl.Expr:
    x = numeric_expr(c, dtype, has_nan)
    return ((x < lo) | (x > hi)).fill_null(False)


def _findings(
    result: AgentResult,
    ids: Ids,
    profiles: dict[str, dict[str, Any]],
    cols: list[str],
    n: int,
    params: UnifiedProfilerParams,
    pii_cols: list[str],
    letter: str,
    score: float | None,
) -> None:
    if n == 0 or not cols:
        what = "no rows" if cols else "no columns"
        result.alerts.append(
            Alert(
                ids.next("A"),
                "high",
                "data_volume",
                f"The data set has {what}.",
                len(cols),
                "Check that the right file was uploaded.",
            )
        )
    high_null = [
        c
        for c in cols
        if n
        and profiles[c]["missing_pct"] >= params.null_alert_threshold
        and profiles[c]["missing_count"] > 0
    ]
    for c in high_null:
        mp = profiles[c]["missing_pct"]
        sev = "critical" if mp == 100 else "high" if mp >= 80 else "medium"
        result.issues.append(
            Issue(ids.next("I"), c, "high_nulls", sev, f"{c}: {mp:.1f}% missing values")
        )
    if high_null:
        result.alerts.append(
            Alert(
                ids.next("A"),
                "high",
                "completeness",
                f"{len(high_null)} column(s) have at least {params.null_alert_threshold:g}% "
                f"missing values: {', '.join(high_null[:10])}",
                len(high_null),
                "Fill, drop or investigate these columns (clean-my-data).",
            )
        )
    high_out = [
        c
        for c in cols
        if profiles[c]["outlier_count"]
        and profiles[c]["outlier_pct"] >= params.outlier_alert_threshold
    ]
    for c in cols:
        cnt = profiles[c]["outlier_count"]
        if cnt:
            sev = "medium" if c in high_out else "low"
            result.issues.append(
                Issue(
                    ids.next("I"),
                    c,
                    "outliers",
                    sev,
                    f"{c}: {cnt} IQR outliers ({profiles[c]['outlier_pct']:.2f}%)",
                )
            )
    if high_out:
        result.alerts.append(
            Alert(
                ids.next("A"),
                "medium",
                "outliers",
                f"{len(high_out)} column(s) have at least {params.outlier_alert_threshold:g}% "
                f"IQR outliers: {', '.join(high_out[:10])}",
                len(high_out),
                "Review them; outlier-remover can cap or remove them.",
            )
        )
    for c in cols:
        prof = profiles[c]
        if prof["inferred_type"] == "mixed":
            result.issues.append(
                Issue(
                    ids.next("I"),
                    c,
                    "mixed_types",
                    "medium",
                    f"{c}: mixed value types {prof.get('value_classes')}",
                )
            )
        if prof["count"] and prof["distinct_count"] == 1 and n > 1:
            result.issues.append(
                Issue(ids.next("I"), c, "constant", "low", f"{c}: a single distinct value")
            )
        if prof.get("whitespace_padded_count"):
            result.issues.append(
                Issue(
                    ids.next("I"),
                    c,
                    "whitespace",
                    "low",
                    f"{c}: {prof['whitespace_padded_count']} values with leading/trailing spaces",
                )
            )
    mixed = [c for c in cols if profiles[c]["inferred_type"] == "mixed"]
    if mixed:
        result.alerts.append(
            Alert(ids.next("A"), "medium", "validity",
                  f"{len(mixed)} column(s) mix numbers/dates and text: {', '.join(mixed[:10])}",
                  len(mixed), "Run type-fixer to convert and list the values that do not parse.")
        )  # fmt: skip
    if pii_cols:
        result.alerts.append(
            Alert(ids.next("A"), "medium", "privacy",
                  f"Possible personal data in {len(pii_cols)} column(s): "
                  f"{', '.join(pii_cols[:10])}",
                  len(pii_cols), "Run score-risk for a full PII scan.")
        )  # fmt: skip
    if high_null:
        result.recommendations.append(
            Recommendation(ids.next("R"), "high",
                           f"Handle missing values in {', '.join(high_null[:5])}.", "medium")
        )  # fmt: skip
    if mixed:
        result.recommendations.append(
            Recommendation(ids.next("R"), "medium",
                           f"Convert mixed-type columns {', '.join(mixed[:5])}.", "low")
        )  # fmt: skip
    if high_out:
        result.recommendations.append(
            Recommendation(ids.next("R"), "medium",
                           f"Review outliers in {', '.join(high_out[:5])}.", "medium")
        )  # fmt: skip
    status = "info" if score is None else "good" if score >= 80 else (
        "warning" if score >= 60 else "critical")  # fmt: skip
    result.executive_summary = [
        SummaryItem("Data quality grade", letter, status),
        SummaryItem("Quality score", round(score, 1) if score is not None else "N/A", status),
        SummaryItem("Rows x columns", f"{n} x {len(cols)}", "info"),
        SummaryItem(
            "Columns with many missing values", len(high_null), "warning" if high_null else "good"
        ),
    ]
