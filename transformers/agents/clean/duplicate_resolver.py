"""duplicate-resolver: exact, normalised and fuzzy duplicates, resolved by a strategy.

Compared columns: ``key_columns``, or every data column except surrogate identifiers (id-like
columns whose values are all distinct: two copies of one record usually differ only there).

- exact: equal values in every compared column.
- normalised: equal after lower-casing, removing punctuation, collapsing white space and
  treating placeholder nulls ("N/A", "-", ...) as empty.
- fuzzy: two normalised records match when every compared TEXT column has a rapidfuzz
  ``ratio`` >= ``fuzzy_threshold`` (90) and every other column (numbers, dates) is equal.
  Candidates come from sorted-neighbourhood blocking: the distinct normalised records are
  sorted by their concatenated key and by the key with the columns in reverse order (the
  reversed text for a single column), so one typo anywhere still lands next to its twin in
  one of the orders, and each is compared with the next ``fuzzy_window`` records, vectorised
  with ``rapidfuzz.process.cpdist`` (first text column for all neighbour pairs, each further
  column only for the pairs still alive). Cost is O(n log n + n * window), never quadratic.
  Matches are clustered transitively (union-find). Rows whose compared columns are all empty
  never match.

Strategies per cluster: ``keep_first`` (earliest row), ``keep_most_complete`` (most non-null
values; ties -> earliest), ``merge`` (earliest row, its empty cells filled from the other
members in row order; each fill is a logged cell change). The output keeps the row order.
Every removed row is a ``row_removed`` change whose reason names the kept row id.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

from transformers.agents.clean._common import (
    ChangeBuilder,
    data_columns,
    is_id_like,
    resolve_all,
)
from transformers.contract import (
    ROW_ID,
    AgentContext,
    AgentResult,
    ChangeKind,
    Recommendation,
    SummaryItem,
)
from transformers.params.clean import DEFAULT_NULL_PLACEHOLDERS, DuplicateResolverParams

AGENT_ID = "duplicate-resolver"
_SEP = "\x1f"


def _find(parent: np.ndarray, i: int) -> int:
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        parent[i], i = root, parent[i]
    return root


#: Text key columns longer than this may be normalised per distinct value (see ``_normalised``).
DISTINCT_PATH_MIN_ROWS = 50_000


def _normalised(frame: pl.DataFrame, keys: list[str]) -> list[pl.Expr | pl.Series]:
    """Lower-case, punctuation removed, white space collapsed and trimmed; placeholder tokens
    and empty results become null. (``\\s{2,}|[^\\S ]`` -> " " is ``\\s+`` -> " " without
    rewriting the single spaces.) A text column with few distinct values (a city, a status)
    is normalised once per distinct value and mapped back: the same values, a tenth of the
    work."""
    tokens = sorted({t.lower() for t in DEFAULT_NULL_PLACEHOLDERS})
    out: list[pl.Expr | pl.Series] = []
    schema = frame.schema
    for i, c in enumerate(keys):
        name = f"__n{i}"
        e = pl.col(c).cast(pl.String)
        if schema[c] != pl.String:
            out.append(e.alias(name))
            continue
        low = e.str.strip_chars().str.to_lowercase()
        normal = (
            low.str.replace_all(r"[^\w\s]+", "")
            .str.replace_all(r"\s{2,}|[^\S ]", " ")
            .str.strip_chars()
        )
        e = pl.when(low.is_in(tokens) | (normal == "")).then(None).otherwise(normal).alias(name)
        s = frame[c]
        if s.len() > DISTINCT_PATH_MIN_ROWS and s.head(20_000).n_unique() <= 1_000:
            distinct = s.drop_nulls().unique()
            if distinct.len() <= s.len() // 10:
                mapped = distinct.to_frame(c).select(e).to_series()
                out.append(
                    s.replace_strict(distinct, mapped, default=None, return_dtype=pl.String).alias(
                        name
                    )
                )
                continue
        out.append(e)
    return out


def _plain(dtype: Any) -> bool:
    """Normalised text, numbers, booleans and dates: their text never holds a character
    below U+0020 (normalised text keeps only word characters and spaces)."""
    return bool(
        dtype == pl.String or dtype == pl.Boolean or dtype.is_numeric() or dtype.is_temporal()
    )


def _column_order(reps: pl.DataFrame, cols: list[str], plain: bool) -> pl.Series:
    """Positions of ``reps`` sorted by ``cols`` joined with ``_SEP`` (nulls as "").

    When every value is free of characters below ``_SEP`` (``plain``: normalised text and
    numbers/dates), sorting the joined text is sorting by the columns in turn (a struct,
    row-encoded: about twice as fast as sorting the long joined strings); the keys are
    distinct (they are the distinct normalised records), so there are no ties and both orders
    are equal."""
    filled = [pl.col(c).fill_null("") for c in cols]
    if plain:
        return reps.select(pl.struct(filled).arg_sort()).to_series()
    return reps.select(pl.concat_str(filled, separator=_SEP)).to_series().arg_sort()


def _scores(a_vals: list[str], b_vals: list[str], threshold: float) -> np.ndarray:
    """``fuzz.ratio`` of each pair (0 under the threshold)."""
    if not a_vals:
        return np.zeros(0)
    # one worker: the thread pool costs more than it gains on short strings
    return np.asarray(
        process.cpdist(a_vals, b_vals, scorer=fuzz.ratio, score_cutoff=threshold, workers=1),
        dtype=float,
    )


def _fuzzy_pairs(
    reps: pl.DataFrame,
    ncols: list[str],
    text_mask: list[bool],
    params: DuplicateResolverParams,
    plain: bool = False,
) -> list[tuple[int, int, float]]:
    """Pairs (pos a, pos b, worst column score) of distinct normalised records that fuzzily
    match. Vectorised: for each neighbour offset, the first text column is scored for all
    neighbour pairs at once (``cpdist``), each further column only for the pairs still alive."""
    m = reps.height
    if m < 2:
        return []
    if len(ncols) > 1:
        orders = (
            _column_order(reps, ncols, plain),
            # the columns in reverse order (a typo at the start of the first column still
            # sorts next to its twin)
            _column_order(reps, ncols[::-1], plain),
        )
    else:  # a single column: the text and the reversed text
        key_s = reps[ncols[0]].fill_null("")
        orders = (key_s.arg_sort(), key_s.str.reverse().arg_sort())
    pos = reps["__pos"].to_numpy()
    threshold = params.fuzzy_threshold
    col_order = [j for j, t in enumerate(text_mask) if t] + [
        j for j, t in enumerate(text_mask) if not t
    ]
    found: dict[tuple[int, int], float] = {}
    for sorted_order in orders:
        order = sorted_order.to_numpy()
        sorted_text: dict[int, tuple[pl.Series, np.ndarray, np.ndarray]] = {}
        full_lists: dict[int, list[str]] = {}
        for k in range(1, min(params.fuzzy_window, m - 1) + 1):
            idx = np.arange(m - k)
            worst = np.full(m - k, 100.0)
            for j in col_order:
                if idx.size == 0:
                    break
                col = reps[ncols[j]]
                if text_mask[j] and idx.size == m - k:
                    # every neighbour pair at this offset (the first text column)
                    if j not in sorted_text:
                        st = col.gather(order).fill_null("")
                        sorted_text[j] = (
                            st,
                            st.str.len_chars().to_numpy().astype(np.int64),
                            st.hash().to_numpy(),
                        )
                    st, lens, hashes = sorted_text[j]
                    # Exact bound from the lengths alone: ratio = 100 * (1 - indel / (la + lb))
                    # with indel >= |la - lb|, and >= 2 when the lengths are equal but the texts
                    # differ (different hashes: surely different texts). Pairs whose bound is
                    # under the threshold cannot match: they are not scored (short codes and
                    # ids that differ in one character).
                    la, lb = lens[: m - k], lens[k:]
                    total = la + lb
                    gap = np.abs(la - lb)
                    gap[(gap == 0) & (hashes[: m - k] != hashes[k:])] = 2
                    with np.errstate(divide="ignore", invalid="ignore"):
                        bound = np.where(total > 0, 100.0 * (1.0 - gap / total), 100.0)
                    possible = bound >= threshold - 1e-6
                    cand = np.nonzero(possible)[0]
                    if cand.size > idx.size // 2:
                        if j not in full_lists:
                            full_lists[j] = st.to_list()
                        lst = full_lists[j]
                        sc = _scores(lst[:-k], lst[k:], threshold)
                    else:
                        sc = np.zeros(idx.size)
                        sc[cand] = _scores(
                            st.gather(cand).to_list(), st.gather(cand + k).to_list(), threshold
                        )
                    keep = sc >= threshold
                    worst = np.minimum(worst, sc)[keep]
                elif text_mask[j]:  # the pairs still alive
                    a_vals = col.gather(order[idx]).fill_null("").to_list()
                    b_vals = col.gather(order[idx + k]).fill_null("").to_list()
                    sc = _scores(a_vals, b_vals, threshold)
                    keep = sc >= threshold
                    worst = np.minimum(worst, sc)[keep]
                else:
                    a_col, b_col = col.gather(order[idx]), col.gather(order[idx + k])
                    keep = a_col.eq_missing(b_col).to_numpy()
                    worst = worst[keep]
                idx = idx[keep]
            for i, w in zip(idx.tolist(), worst.tolist(), strict=True):
                a, b = int(pos[order[i]]), int(pos[order[i + k]])
                found[(min(a, b), max(a, b))] = w
    return [(a, b, w) for (a, b), w in sorted(found.items())]


def run(frame: pl.DataFrame, params: DuplicateResolverParams, ctx: AgentContext) -> AgentResult:
    result = AgentResult(agent_id=AGENT_ID)
    n = frame.height
    if params.key_columns:
        keys = resolve_all(ctx, params.key_columns, frame)
    else:
        keys = [
            c
            for c in data_columns(frame)
            if not (is_id_like(c, frame[c]) and frame[c].n_unique() == n and n > 1)
        ]
    changes = ChangeBuilder(AGENT_ID)
    if n < 2 or not keys:
        result.frame = frame
        result.changes = changes.build()
        result.summary_metrics = {"rows_in": n, "duplicates_removed": 0, "clusters": 0}
        result.data = {"key_columns": keys, "clusters": []}
        return result

    work = frame.select(keys).with_row_index("__pos")
    norm = _normalised(frame, keys)
    ncols = [f"__n{i}" for i in range(len(keys))]
    work = work.with_columns(norm)
    all_empty = pl.all_horizontal([pl.col(c).is_null() for c in ncols])
    work = work.with_columns(all_empty.alias("__empty"))
    pos_self = pl.col("__pos")
    exact_rep = pl.col("__pos").min().over(keys) if params.detect_exact else pos_self
    norm_rep = pl.col("__pos").min().over(ncols) if params.detect_normalized else pos_self
    work = work.with_columns(
        pl.when(pl.col("__empty")).then(pos_self).otherwise(exact_rep).alias("__exact"),
        pl.when(pl.col("__empty")).then(pos_self).otherwise(norm_rep).alias("__norm"),
    )
    parent = np.arange(n, dtype=np.int64)
    exact = work["__exact"].to_numpy().astype(np.int64)
    normed = work["__norm"].to_numpy().astype(np.int64)
    # exact groups are subsets of normalised groups: link every row to both representatives
    for arr in (exact, normed):
        idx = np.nonzero(arr != np.arange(n))[0]
        for i in idx:
            ra, rb = _find(parent, int(i)), _find(parent, int(arr[i]))
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    fuzzy_score: dict[int, float] = {}
    if params.detect_fuzzy:
        reps = work.filter((pl.col("__norm") == pl.col("__pos")) & ~pl.col("__empty")).select(
            ["__pos", *ncols]
        )
        schema = frame.schema
        text_mask = [schema[c] == pl.String for c in keys]
        plain = all(_plain(schema[c]) for c in keys)
        for a, b, score in _fuzzy_pairs(reps, ncols, text_mask, params, plain):
            ra, rb = _find(parent, a), _find(parent, b)
            fuzzy_score[b] = score
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    roots = parent.copy()
    while True:  # pointer jumping: every link points from a larger to a smaller position
        nxt = roots[roots]
        if np.array_equal(nxt, roots):
            break
        roots = nxt
    dup_rows = np.nonzero(roots != np.arange(n))[0]
    if dup_rows.size == 0:
        result.frame = frame
        result.changes = changes.build()
        result.summary_metrics = {"rows_in": n, "duplicates_removed": 0, "clusters": 0}
        result.data = {"key_columns": keys, "clusters": []}
        return result

    in_cluster = np.zeros(n, dtype=bool)
    in_cluster[dup_rows] = True
    in_cluster[roots[dup_rows]] = True
    members = np.nonzero(in_cluster)[0]
    clusters: dict[int, list[int]] = {}
    for i in members:
        clusters.setdefault(int(roots[i]), []).append(int(i))

    keep: dict[int, int] = {}  # root -> kept position
    if params.strategy == "keep_most_complete":
        filled = (
            frame.select(pl.sum_horizontal([pl.col(c).is_not_null() for c in data_columns(frame)]))
            .to_series()
            .to_numpy()
        )
        for root, ms in clusters.items():
            keep[root] = max(ms, key=lambda p: (filled[p], -p))
    else:
        keep = {root: min(ms) for root, ms in clusters.items()}

    rids = frame[ROW_ID].to_numpy()
    removed_pos: list[int] = []
    reasons: list[str] = []
    for root, ms in clusters.items():
        kept = keep[root]
        for p in ms:
            if p == kept:
                continue
            how = (
                "exact"
                if exact[p] == exact[kept]
                else ("normalized" if normed[p] == normed[kept] else "fuzzy")
            )
            removed_pos.append(p)
            extra = (
                f", similarity {fuzzy_score[p]:.0f}" if how == "fuzzy" and p in fuzzy_score else ""
            )
            reasons.append(f"{how} duplicate of row {int(rids[kept])}{extra}")

    out = frame
    if params.strategy == "merge":
        out = _merge(frame, clusters, keep, changes)
    order = np.argsort(np.array(removed_pos))
    removed_pos = [removed_pos[i] for i in order]
    reasons = [reasons[i] for i in order]
    mask = np.ones(n, dtype=bool)
    mask[removed_pos] = False
    removed = out[removed_pos] if removed_pos else out.head(0)
    changes.rows(ChangeKind.ROW_REMOVED, removed, "duplicate", pl.Series(reasons))
    out = out.filter(pl.Series(mask))

    result.frame = out
    result.changes = changes.build()
    cluster_list: list[dict[str, Any]] = [
        {"kept_row_id": int(rids[keep[r]]), "row_ids": [int(rids[p]) for p in ms]}
        for r, ms in list(clusters.items())[:1000]
    ]
    kinds = {"exact": 0, "normalized": 0, "fuzzy": 0}
    for r in reasons:
        kinds[r.split(" ", 1)[0]] += 1
    result.data = {"key_columns": keys, "clusters": cluster_list, "removed_by_match": kinds}
    result.summary_metrics = {
        "rows_in": n,
        "duplicates_removed": len(removed_pos),
        "clusters": len(clusters),
        "exact_duplicates": kinds["exact"],
        "normalized_duplicates": kinds["normalized"],
        "fuzzy_duplicates": kinds["fuzzy"],
        "rows_out": out.height,
    }
    result.executive_summary = [
        SummaryItem("Duplicate rows removed", len(removed_pos), "warning"),
    ]
    if len(clusters) > max(10, n // 20):
        result.recommendations.append(
            Recommendation(
                "duplicate-resolver-master",
                "medium",
                "Many duplicate clusters: master-my-data builds golden records with entity "
                "resolution across fields.",
                "medium",
            )
        )
    return result


def _merge(
    frame: pl.DataFrame,
    clusters: dict[int, list[int]],
    keep: dict[int, int],
    changes: ChangeBuilder,
) -> pl.DataFrame:
    """Fill the kept row's nulls from the other members (in row order)."""
    cols = data_columns(frame)
    kept_pos = np.array([keep[r] for r in clusters], dtype=np.int64)
    sub_rows: list[int] = []
    sub_kept: list[int] = []
    for r, ms in clusters.items():
        for p in sorted(ms):
            sub_rows.append(p)
            sub_kept.append(keep[r])
    sub = frame[sub_rows].with_columns(pl.Series("__kept", sub_kept))
    firsts = sub.group_by("__kept", maintain_order=True).agg(
        [pl.col(c).drop_nulls().first().alias(c) for c in cols]
    )
    lookup = dict(zip(firsts["__kept"].to_list(), range(firsts.height), strict=True))
    idx = [lookup[int(p)] for p in kept_pos]
    merged = firsts[idx]
    current = frame[kept_pos.tolist()]
    updates: dict[str, pl.Series] = {}
    for c in cols:
        before = current[c]
        after = pl.select(pl.coalesce(pl.lit(before), pl.lit(merged[c]))).to_series()
        if bool(before.ne_missing(after).any()):
            changes.cells(current[ROW_ID], c, before, after, "merge", "filled from a duplicate")
            updates[c] = frame[c].clone().scatter(kept_pos, after.cast(frame.schema[c]))
    return frame.with_columns(list(updates.values())) if updates else frame
