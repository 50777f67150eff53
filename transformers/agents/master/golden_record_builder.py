"""golden-record-builder: entity resolution (blocking, comparators, Fellegi-Sunter, union-find).

Output frame: the source rows, in order, with ``cluster_id`` (the smallest ``__row_id__`` of the
row's cluster, which is also its golden record's id), ``source_count``, ``trust_score`` (the
cluster's weakest joining match probability, see ``er.clustering``) and ``match_score`` (the
strongest accepted match touching the row; null for a row that matched nothing).
``survivorship-resolver`` collapses these rows to golden records (see ``_common`` for why).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import polars as pl

from transformers.agents.master._common import (
    CLUSTER_ID,
    MATCH_SCORE,
    SOURCE_COUNT,
    TRUST_SCORE,
    data_columns,
    role_of,
)
from transformers.agents.master.er import blocking, clustering, comparators, scoring
from transformers.contract import (
    ROW_ID,
    AgentContext,
    AgentResult,
    Alert,
    Change,
    ChangeKind,
    Recommendation,
    SummaryItem,
)
from transformers.params.master import GoldenRecordBuilderParams

AGENT_ID = "golden-record-builder"
#: Roles that identify a person or organisation; bookkeeping roles never drive matching.
IDENTITY_ROLES = {
    "given_name",
    "middle_name",
    "surname",
    "full_name",
    "email",
    "phone",
    "street_number",
    "street_address",
    "address_line_2",
    "city",
    "state",
    "postcode",
    "country",
    "date_of_birth",
    "gender",
    "national_id",
    "company",
}
MAX_AUTO_COLUMNS = 12
#: comparator kinds whose exact agreement is weighed by the value's frequency (names, places,
#: categories, dates, postcodes: a common value is weak evidence); numbers are not
#: the merge cut of the weighted scorer when no threshold is given (it has no posterior)
AUTO_WEIGHTED_THRESHOLD = 0.85
TF_KINDS = frozenset({"name", "address", "category", "date", "identifier"})


def _detect_match_columns(frame: pl.DataFrame) -> list[str]:
    cols = data_columns(frame)
    by_role = [c for c in cols if role_of(c) in IDENTITY_ROLES]
    if by_role:
        return by_role
    # No recognised identity columns: use text columns that repeat (a column unique per row
    # is a record key, which disagrees for every duplicate and would block all matches).
    n = frame.height
    scored: list[tuple[float, str]] = []
    for c in cols:
        s = frame[c]
        if s.dtype not in (pl.String, pl.Categorical) and not s.dtype.is_temporal():
            continue
        nn = s.len() - s.null_count()
        if nn == 0:
            continue
        distinct = s.n_unique() / max(n, 1)
        if distinct >= 0.999 and s.null_count() == 0:
            continue
        scored.append((distinct, c))
    scored.sort(reverse=True)
    return [c for _, c in scored[:MAX_AUTO_COLUMNS]]


def _auto_blocking(
    roles: dict[str, str], texts: dict[str, pl.Series]
) -> tuple[list[list[str]], list[list[str]]]:
    r = roles.get
    name = r("surname") or r("full_name") or r("company")
    given = r("given_name")
    dob, pc = r("date_of_birth"), r("postcode")
    # Every key must stay selective as the file grows: a key whose value set is fixed (a given
    # name, a birth year) makes blocks that grow with N, i.e. quadratic pairs. Full dates,
    # postcodes and surname codes have value sets that grow with the population.
    passes: list[list[str]] = []
    if name and dob:
        passes.append([f"metaphone({name})", f"year({dob})"])
    if pc and (given or name):
        passes.append([pc, f"first({given or name}, 1)"])
    if pc and name and given:
        passes.append([pc, f"first({name}, 1)"])
    if dob and name and given:  # swap-proof: given name and surname swapped still block
        passes.append([dob, f"min_initial({given}, {name})"])
        passes.append([dob, f"max_initial({given}, {name})"])
    elif dob and (name or given):
        passes.append([dob, f"first({given or name}, 1)"])
    for role in ("national_id", "email", "phone"):
        if r(role):
            passes.append([str(r(role))])
    addr = r("street_address")
    if addr and (name or given):
        passes.append([f"first({addr}, 4)", f"soundex({name or given})"])
    sn: list[list[str]] = []
    if name and given:
        sn += [[name, given], [given, name]]
    elif name or given:
        sn.append([str(name or given)])
    if addr:
        sn.append([addr] + ([r("city")] if r("city") else []))  # type: ignore[list-item]
    if not passes and not sn:
        strings = [c for c in texts if texts[c].dtype == pl.String]
        passes = [[f"first({c}, 4)"] for c in strings[:4]]
        if texts:
            cols = list(texts)
            sn = [cols, list(reversed(cols))]
    return passes, sn


def run(frame: pl.DataFrame, params: GoldenRecordBuilderParams, ctx: AgentContext) -> AgentResult:
    p: GoldenRecordBuilderParams = params
    t0 = time.perf_counter()
    n = frame.height
    match_cols = (
        [ctx.resolve(c, frame) for c in p.match_columns]
        if p.match_columns
        else _detect_match_columns(frame)
    )
    overrides = {ctx.resolve(c, frame): k for c, k in p.comparators.items()}
    specs = [
        comparators.FieldSpec(c, overrides.get(c) or comparators.kind_for(c, role_of(c), frame[c]))
        for c in match_cols
    ]
    texts = {s.column: comparators.normalise(frame[s.column], s.kind) for s in specs}
    roles = {role: s.column for s in specs if (role := role_of(s.column)) is not None}

    # Blocking.
    if p.blocking_keys is not None or p.sorted_neighbourhood is not None:
        pass_texts = p.blocking_keys or []
        sn_texts = p.sorted_neighbourhood or []
    else:
        pass_texts, sn_texts = _auto_blocking(roles, texts)
    passes = [[blocking.parse_key(k) for k in keys] for keys in pass_texts]
    passes = [
        [
            blocking.KeyExpr(
                k.fn,
                ctx.resolve(k.column, frame),
                k.arg,
                ctx.resolve(k.column2, frame) if k.column2 else None,
            )
            for k in keys
        ]
        for keys in passes
    ]
    sn_cols = [[ctx.resolve(c, frame) for c in cols] for cols in sn_texts]
    for col in {c for keys in passes for k in keys for c in k.columns} | {
        c for cs in sn_cols for c in cs
    }:
        if col not in texts:
            texts[col] = comparators.normalise(
                frame[col], comparators.kind_for(col, role_of(col), frame[col])
            )
    blocked = (
        blocking.candidate_pairs(
            texts, passes, sn_cols, p.window_size, p.max_block_size, n, p.block_window
        )
        if n > 1 and specs
        else blocking.BlockingResult(np.zeros(0, np.int64), np.zeros(0, np.int64))
    )
    t_block = time.perf_counter()
    left, right = blocked.left, blocked.right
    n_levels = [s.n_levels for s in specs]
    encoded = {s.column: comparators.encode(texts[s.column], s.kind) for s in specs}
    levels = _compare(specs, encoded, left, right)
    t_compare = time.perf_counter()

    # Scoring.
    model: scoring.FSModel | None = None
    tf_fields: list[str] = []
    implied_names: list[str] = []
    if p.scoring == "fellegi_sunter":
        rng = np.random.default_rng(p.random_seed)
        r_count = int(min(p.u_sample_pairs, n * (n - 1) // 2)) if n > 1 else 0
        ri = rng.integers(0, n, r_count) if r_count else np.zeros(0, np.int64)
        rj = rng.integers(0, n, r_count) if r_count else np.zeros(0, np.int64)
        keep = ri != rj
        random_levels = _compare(specs, encoded, ri[keep], rj[keep])
        u = scoring.estimate_u(random_levels, n_levels)
        # at most ~2 true duplicates per row among the candidates (see scoring.em)
        lam_max = min(0.5, 2.0 * n / max(len(left), 1))
        adjustment = common = None
        shifts: list[np.ndarray | None] | None = None
        if p.term_frequency_adjustments:
            freqs = [
                scoring.value_frequencies(encoded[s.column].codes) if s.kind in TF_KINDS else None
                for s in specs
            ]
            implied = scoring.implied_fields(random_levels, n_levels)
            shifts = scoring.field_shifts(levels, n_levels, u, freqs, left, implied)
            adjustment, common = scoring.tf_adjustment(levels, n_levels, u, shifts, freqs, left)
            implied_names = [f"{specs[b].column} given {specs[a].column}" for a, b, _ in implied]
            tf_fields = [s.column for s, f in zip(specs, freqs, strict=True) if f is not None]
        model = scoring.em(
            levels,
            n_levels,
            u,
            max_iter=p.em_max_iterations,
            lam_max=lam_max,
            adjustment=adjustment,
            common=common,
        )
        # u describes random pairs, so the prior must too (see scoring.random_pair_prior)
        model = scoring.random_pair_prior(model, len(left), n * (n - 1) // 2)
        model = scoring.refine_m(levels, n_levels, model, shifts)
        prob = scoring.fs_probability(levels, n_levels, model, adjustment)
    else:
        weights = [p.field_weights.get(s.column, 1.0) for s in specs]
        prob = scoring.weighted_score(levels, n_levels, weights)
    compared = (levels >= 0).sum(axis=1) if levels.size else np.zeros(len(left), np.int64)
    need = min(p.min_fields_compared, len(specs)) if specs else 1
    threshold = p.match_threshold
    if threshold is None:
        threshold = (
            scoring.honest_threshold(prob, p.target_precision, floor=p.min_match_threshold)
            if model is not None
            else AUTO_WEIGHTED_THRESHOLD
        )
    accepted = (prob >= threshold) & (compared >= need)
    t_score = time.perf_counter()

    # Clustering.
    cl = clustering.cluster(
        n, left[accepted], right[accepted], prob[accepted], max_size=p.max_cluster_size
    )
    row_ids = frame[ROW_ID].to_numpy() if n else np.zeros(0, np.int64)
    cluster_ids = row_ids[cl.label] if n else np.zeros(0, np.int64)
    out = frame.with_columns(
        pl.Series(CLUSTER_ID, cluster_ids, dtype=pl.Int64),
        pl.Series(SOURCE_COUNT, cl.size, dtype=pl.Int64),
        pl.Series(TRUST_SCORE, np.round(cl.trust, 6), dtype=pl.Float64),
        pl.Series(MATCH_SCORE, np.round(cl.best_edge, 6), dtype=pl.Float64).fill_nan(None),
    )
    t_cluster = time.perf_counter()

    n_clusters = int(np.unique(cl.label).size) if n else 0
    multi = int((cl.size > 1).sum())
    merged_rows = np.flatnonzero(cluster_ids != row_ids) if n else np.zeros(0, np.int64)
    changes = [
        Change(
            kind=ChangeKind.CELL,
            agent_id=AGENT_ID,
            rule="entity_resolution",
            row_id=int(row_ids[i]),
            column=CLUSTER_ID,
            before=int(row_ids[i]),
            after=int(cluster_ids[i]),
            reason=f"matched into cluster {int(cluster_ids[i])} "
            f"(best match probability {float(cl.best_edge[i]):.3f})",
        )
        for i in merged_rows.tolist()
    ]
    all_pairs = n * (n - 1) // 2
    borderline = int(((prob >= 0.5) & ~accepted).sum()) if prob.size else 0
    metrics: dict[str, float | int] = {
        "rows": n,
        "match_columns": len(specs),
        "candidate_pairs": len(left),
        "reduction_ratio": round(1 - len(left) / all_pairs, 6) if all_pairs else 1.0,
        "matched_pairs": int(accepted.sum()),
        "borderline_pairs": borderline,
        "clusters": n_clusters,
        "multi_row_clusters": int(np.unique(cl.label[cl.size > 1]).size) if n else 0,
        "rows_in_multi_row_clusters": multi,
        "duplicate_rows_merged": len(merged_rows),
        "refused_merges": cl.refused_merges,
        "blocking_ms": int((t_block - t0) * 1000),
        "comparison_ms": int((t_compare - t_block) * 1000),
        "scoring_ms": int((t_score - t_compare) * 1000),
        "clustering_ms": int((t_cluster - t_score) * 1000),
    }
    data: dict[str, Any] = {
        "match_columns": [{"column": s.column, "comparator": s.kind} for s in specs],
        "blocking": {
            "passes": [[str(k) for k in keys] for keys in passes],
            "sorted_neighbourhood": sn_cols,
            "window_size": p.window_size,
            "max_block_size": p.max_block_size,
            "block_window": p.block_window,
            "pairs_per_pass": blocked.per_pass,
        },
        "scoring": p.scoring,
        "match_threshold": threshold,
        "match_threshold_source": "parameter"
        if p.match_threshold is not None
        else f"chosen for an expected precision of {p.target_precision} (model posteriors)",
        "survivorship_default": p.survivorship_default,
        "score_histogram": _histogram(prob),
        "trust_score_formula": "min match probability over the edges that joined the cluster "
        "(strongest first); 1.0 for a single-row cluster",
    }
    if model is not None:
        data["fellegi_sunter"] = {
            "lambda_candidates": model.lam,
            "lambda_random_pairs": model.lam_score,
            "em_iterations": model.iterations,
            "em_converged": model.converged,
            "lambda_prior": model.lam_prior,
            "em_fallback": model.fallback,
            "term_frequency_fields": tf_fields,
            "dependent_fields": implied_names,
            "m_refined_fields": [specs[k].column for k in model.refined],
            "fields": {
                s.column: {
                    "m": [round(float(x), 6) for x in model.m[k]],
                    "u": [round(float(x), 6) for x in model.u[k]],
                    "match_weight": [round(float(x), 3) for x in model.weights()[k]],
                }
                for k, s in enumerate(specs)
            },
        }
    alerts: list[Alert] = []
    recs: list[Recommendation] = []
    if not specs:
        alerts.append(
            Alert(
                "no-match-columns",
                "medium",
                "matching",
                "No identity columns were found to match on; every row is its own record.",
                0,
                "Name the match_columns parameter.",
            )
        )
    if cl.refused_merges:
        alerts.append(
            Alert(
                "cluster-size-cap",
                "medium",
                "matching",
                f"{cl.refused_merges} accepted matches were not merged because the cluster "
                f"would exceed max_cluster_size {p.max_cluster_size} (a chain of links); "
                "review them in the stewardship queue or raise the cap.",
                0,
                "Inspect the largest clusters; tighten blocking or raise match_threshold.",
            )
        )
    if borderline:
        recs.append(
            Recommendation(
                "review-borderline",
                "medium",
                f"{borderline} candidate pairs scored between 0.5 and the match threshold "
                f"{threshold:.3f}; review them or lower the threshold.",
                "medium",
            )
        )
    summary = [
        SummaryItem("Source rows", n, "info"),
        SummaryItem("Entities (clusters)", n_clusters, "info"),
        SummaryItem("Duplicate rows merged", len(merged_rows), "good" if n else "info"),
        SummaryItem("Pairs compared", len(left), "info"),
    ]
    return AgentResult(
        agent_id=AGENT_ID,
        summary_metrics=metrics,
        data=data,
        alerts=alerts,
        recommendations=recs,
        executive_summary=summary,
        frame=out,
        changes=changes,
    )


#: pairs compared per chunk: bounds the temporary arrays of a comparison, whatever N is
COMPARE_CHUNK = 1 << 21


def _compare(
    specs: list[comparators.FieldSpec],
    encoded: dict[str, comparators.Encoded],
    left: np.ndarray,
    right: np.ndarray,
) -> np.ndarray:
    """Agreement levels (pairs x fields, int8), chunk by chunk on dictionary codes."""
    levels = np.zeros((len(left), len(specs)), dtype=np.int8)
    for start in range(0, len(left), COMPARE_CHUNK):
        li = left[start : start + COMPARE_CHUNK]
        ri = right[start : start + COMPARE_CHUNK]
        for k, s in enumerate(specs):
            levels[start : start + len(li), k] = comparators.compare_encoded(
                s, encoded[s.column], li, ri
            )
    return levels


def _histogram(prob: np.ndarray) -> list[dict[str, float | int]]:
    edges = [0.0, 0.1, 0.3, 0.5, 0.7, 0.85, 0.95, 0.99, 1.000001]
    counts, _ = np.histogram(prob, bins=edges) if prob.size else (np.zeros(8, np.int64), None)
    return [
        {"from": edges[i], "to": min(edges[i + 1], 1.0), "pairs": int(counts[i])}
        for i in range(len(edges) - 1)
    ]
