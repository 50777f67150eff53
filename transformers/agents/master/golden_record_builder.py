"""golden-record-builder: entity resolution (blocking, comparators, Fellegi-Sunter, union-find).

Output frame: the source rows, in order, with ``cluster_id`` (the smallest ``__row_id__`` of the
row's cluster, which is also its golden record's id), ``source_count``, ``trust_score`` (the
cluster's weakest joining match probability, see ``er.clustering``) and ``match_score`` (the
strongest accepted match touching the row; null for a row that matched nothing).
``survivorship-resolver`` collapses these rows to golden records (see ``_common`` for why).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from transformers.agents.master._common import (
    CLUSTER_ID,
    MATCH_SCORE,
    SOURCE_COUNT,
    TRUST_SCORE,
    data_columns,
    memory_budget_mb,
    release_memory,
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
HIST_EDGES = [0.0, 0.1, 0.3, 0.5, 0.7, 0.85, 0.95, 0.99, 1.000001]


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
    roles: dict[str, str], columns: list[str], text_columns: list[str]
) -> tuple[list[list[str]], list[list[str]]]:
    r = roles.get
    name = r("surname") or r("full_name") or r("company")
    given = r("given_name")
    dob, pc = r("date_of_birth"), r("postcode")
    # Every key must stay selective as the file grows: a key whose value set is fixed (a given
    # name, a birth year) makes blocks that grow with N; composite keys are neighbourhoods (see
    # er.blocking), so they cost a fixed number of pairs per row, and the finer the key, the
    # likelier a row's neighbours are its duplicates.
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
        passes = [[f"first({c}, 4)"] for c in text_columns[:4]]
        if columns:
            sn = [list(columns), list(reversed(columns))]
    return passes, sn


def _dictionary(
    frame: pl.DataFrame, column: str, kind: str
) -> tuple[comparators.Encoded, blocking.Dictionary]:
    """A column's comparison encoding and its blocking dictionary (the same codes for text
    kinds; numbers get a text dictionary of their own)."""
    text = comparators.normalise(frame[column], kind)
    enc = comparators.encode(text, kind)
    if enc.numeric is None:
        return enc, blocking.Dictionary(enc.codes, enc.values)
    return enc, blocking.Dictionary.of(text)


class _PairStore:
    """Compared candidate pairs (left, right, levels) by batch: in memory up to a share of the
    worker's memory budget, then as ``.npy`` files in the spill directory."""

    def __init__(self, directory: Path, memory_bytes: int) -> None:
        self.dir = directory
        self.memory_bytes = memory_bytes
        self.held = 0
        self.batches: list[tuple[np.ndarray, np.ndarray, np.ndarray] | Path] = []
        self.pairs = 0

    def add(self, left: np.ndarray, right: np.ndarray, levels: np.ndarray) -> None:
        self.pairs += len(left)
        size = left.nbytes + right.nbytes + levels.nbytes
        if self.held + size <= self.memory_bytes:
            self.held += size
            self.batches.append((left, right, levels))
            return
        path = self.dir / f"batch{len(self.batches)}.npz"
        np.savez(path, left=left, right=right, levels=levels)
        self.batches.append(path)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        for item in self.batches:
            if isinstance(item, Path):
                with np.load(item) as z:
                    yield z["left"], z["right"], z["levels"]
            else:
                yield item


class _PairGroups:
    """Candidate pairs grouped by what the Fellegi-Sunter model sees of them: the agreement
    pattern and, per term-frequency field agreeing exactly, the count of the shared value
    (which fixes its frequency shift). EM and the m refinement run on the groups with their
    pair counts: the same sums as over the pairs, at a cost that does not grow with N.

    The group key is one int64 when it fits (the pattern in mixed radix, then per field the
    rank of the value's count among the field's distinct counts); otherwise one column per
    field."""

    MERGE_ROWS = 1 << 20

    def __init__(
        self, n_levels: list[int], counts: list[np.ndarray | None], codes: list[np.ndarray]
    ):
        self.n_levels = n_levels
        self.codes = codes
        # per frequency field: each value code's count class (1..), and the distinct counts
        self.classes: list[tuple[int, np.ndarray, np.ndarray] | None] = []
        for k, cnt in enumerate(counts):
            if cnt is None:
                self.classes.append(None)
                continue
            distinct = np.unique(cnt)
            self.classes.append((k, distinct, np.searchsorted(distinct, cnt) + 1))
        radix = [nl + 1 for nl in n_levels] + [c[1].size + 1 for c in self.classes if c]
        self.radix = radix
        self.compact = float(np.prod(radix, dtype=np.float64)) < 2.0**62
        self.keys = (
            ["g"]
            if self.compact
            else [f"l{k}" for k in range(len(n_levels))]
            + [f"t{c[0]}" for c in self.classes if c is not None]
        )
        self.parts: list[pl.DataFrame] = []
        self.rows = 0
        self.merge_at = self.MERGE_ROWS

    def add(self, levels: np.ndarray, left: np.ndarray) -> None:
        cols: dict[str, np.ndarray] = {}
        if self.compact:
            key = np.zeros(len(left), dtype=np.int64)
            for k, nl in enumerate(self.n_levels):
                key = key * (nl + 1) + (levels[:, k].astype(np.int64) + 1)
        else:
            cols = {f"l{k}": levels[:, k] for k in range(len(self.n_levels))}
        for c in self.classes:
            if c is None:
                continue
            k, distinct, code_class = c
            exact = levels[:, k] == self.n_levels[k] - 1
            cls = np.zeros(len(left), dtype=np.int64)
            cls[exact] = code_class[self.codes[k][left[exact]]]
            if self.compact:
                key = key * (distinct.size + 1) + cls
            else:
                cols[f"t{k}"] = cls
        if self.compact:
            cols = {"g": key}
        frame = pl.DataFrame(cols).with_columns(pl.Series("left", left))
        part = frame.group_by(self.keys).agg(pl.col("left").min(), pl.len().alias("w"))
        self.parts.append(part)
        self.rows += part.height
        if self.rows > self.merge_at and len(self.parts) > 1:
            self.parts = [self._merged()]
            self.rows = self.parts[0].height
            # merge again only once as many rows have been added as the table holds: the
            # distinct groups grow with N, and re-grouping them on every batch would not
            self.merge_at = max(self.MERGE_ROWS, 2 * self.rows)

    def _merged(self) -> pl.DataFrame:
        return (
            pl.concat(self.parts).group_by(self.keys).agg(pl.col("left").min(), pl.col("w").sum())
        )

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(levels, a representative left row, pair count) per group, in a fixed order."""
        if not self.parts:
            empty = np.zeros((0, len(self.n_levels)), dtype=np.int8)
            return empty, np.zeros(0, np.int64), np.zeros(0, np.float64)
        g = self._merged().sort(self.keys)
        if self.compact:
            key = g["g"].to_numpy().astype(np.int64)
            for c in reversed([c for c in self.classes if c is not None]):
                key = key // (c[1].size + 1)
            levels = np.zeros((g.height, len(self.n_levels)), dtype=np.int8)
            for k in range(len(self.n_levels) - 1, -1, -1):
                levels[:, k] = key % (self.n_levels[k] + 1) - 1
                key = key // (self.n_levels[k] + 1)
        else:
            levels = np.stack(
                [g[f"l{k}"].to_numpy() for k in range(len(self.n_levels))], axis=1
            ).astype(np.int8)
        return levels, g["left"].to_numpy().astype(np.int64), g["w"].to_numpy().astype(np.float64)


def run(frame: pl.DataFrame, params: GoldenRecordBuilderParams, ctx: AgentContext) -> AgentResult:
    p: GoldenRecordBuilderParams = params
    t0 = time.perf_counter()
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
    encoded: dict[str, comparators.Encoded] = {}
    dicts: dict[str, blocking.Dictionary] = {}
    for s in specs:
        encoded[s.column], dicts[s.column] = _dictionary(frame, s.column, s.kind)
    roles = {role: s.column for s in specs if (role := role_of(s.column)) is not None}

    # Blocking.
    if p.blocking_keys is not None or p.sorted_neighbourhood is not None:
        pass_texts = p.blocking_keys or []
        sn_texts = p.sorted_neighbourhood or []
    else:
        pass_texts, sn_texts = _auto_blocking(
            roles,
            [s.column for s in specs],
            [s.column for s in specs if encoded[s.column].numeric is None],
        )
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
        if col not in dicts:
            _enc, dicts[col] = _dictionary(
                frame, col, comparators.kind_for(col, role_of(col), frame[col])
            )
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    spill = Path(tempfile.mkdtemp(prefix="er-", dir=ctx.work_dir))
    try:
        result = _run(frame, p, ctx, specs, encoded, dicts, passes, sn_cols, spill, t0)
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    del encoded, dicts
    release_memory()  # before the next agent's peak stacks on freed, unreturned memory
    return result


def _run(
    frame: pl.DataFrame,
    p: GoldenRecordBuilderParams,
    ctx: AgentContext,
    specs: list[comparators.FieldSpec],
    encoded: dict[str, comparators.Encoded],
    dicts: dict[str, blocking.Dictionary],
    passes: list[list[blocking.KeyExpr]],
    sn_cols: list[list[str]],
    spill: Path,
    t0: float,
) -> AgentResult:
    n = frame.height
    n_levels = [s.n_levels for s in specs]
    fs = p.scoring == "fellegi_sunter"
    blocked = (
        blocking.candidate_batches(
            dicts,
            list(dicts),
            passes,
            sn_cols,
            p.window_size,
            p.max_block_size,
            n,
            p.block_window,
            directory=spill,
        )
        if n > 1 and specs
        else None
    )
    per_pass = blocked.per_pass if blocked is not None else {}
    del dicts
    release_memory()
    t_block = time.perf_counter()

    # The model's inputs that do not depend on the candidates: u from random pairs, value
    # frequencies, dependent fields.
    u: list[np.ndarray] = []
    freqs: list[np.ndarray | None] = [None] * len(specs)
    implied: list[tuple[int, int, float]] = []
    tf_fields: list[str] = []
    implied_names: list[str] = []
    tf = fs and p.term_frequency_adjustments
    if fs:
        rng = np.random.default_rng(p.random_seed)
        r_count = int(min(p.u_sample_pairs, n * (n - 1) // 2)) if n > 1 else 0
        ri = rng.integers(0, n, r_count) if r_count else np.zeros(0, np.int64)
        rj = rng.integers(0, n, r_count) if r_count else np.zeros(0, np.int64)
        keep = ri != rj
        random_levels = _compare(specs, encoded, ri[keep], rj[keep])
        u = scoring.estimate_u(random_levels, n_levels)
        if tf:
            freqs = [
                scoring.value_frequencies(encoded[s.column].codes) if s.kind in TF_KINDS else None
                for s in specs
            ]
            implied = scoring.implied_fields(random_levels, n_levels)
            implied_names = [f"{specs[b].column} given {specs[a].column}" for a, b, _ in implied]
            tf_fields = [s.column for s, f in zip(specs, freqs, strict=True) if f is not None]
    value_counts = [
        np.bincount(encoded[s.column].codes[encoded[s.column].codes >= 0])
        if f is not None
        else None
        for s, f in zip(specs, freqs, strict=True)
    ]
    groups = _PairGroups(n_levels, value_counts, [encoded[s.column].codes for s in specs])
    store = _PairStore(spill, memory_budget_mb() * (1 << 20) // 16)
    t_compare_s = t_dedup_s = 0.0
    batches = blocked.batches() if blocked is not None else iter(())
    while True:
        tc = time.perf_counter()
        batch = next(batches, None)
        t_dedup_s += time.perf_counter() - tc
        if batch is None:
            break
        left, right = batch
        tc = time.perf_counter()
        levels = _compare(specs, encoded, left, right)
        t_compare_s += time.perf_counter() - tc
        store.add(left, right, levels)
        if fs:
            groups.add(levels, left)
    total = store.pairs
    release_memory()
    t_compare = time.perf_counter()

    # Scoring: the model from the grouped pairs, then every batch scored with it.
    model: scoring.FSModel | None = None
    if fs:
        g_levels, g_left, g_weight = groups.result()
        del groups
        # at most ~2 true duplicates per row among the candidates (see scoring.em)
        lam_max = min(0.5, 2.0 * n / max(total, 1))
        g_adj = g_common = None
        g_shifts: list[np.ndarray | None] | None = None
        if tf:
            g_shifts = scoring.field_shifts(g_levels, n_levels, u, freqs, g_left, implied)
            g_adj, g_common = scoring.tf_adjustment(g_levels, n_levels, u, g_shifts, freqs, g_left)
        model = scoring.em(
            g_levels,
            n_levels,
            u,
            max_iter=p.em_max_iterations,
            lam_max=lam_max,
            adjustment=g_adj,
            common=g_common,
            weights=g_weight,
        )
        # u describes random pairs, so the prior must too (see scoring.random_pair_prior)
        model = scoring.random_pair_prior(model, total, n * (n - 1) // 2)
        model = scoring.refine_m(g_levels, n_levels, model, g_shifts, weights=g_weight)
    weights = [p.field_weights.get(s.column, 1.0) for s in specs]
    need = min(p.min_fields_compared, len(specs)) if specs else 1
    threshold = p.match_threshold
    keep_floor = min(0.5, threshold) if threshold is not None else 0.5
    hist = np.zeros(len(HIST_EDGES) - 1, dtype=np.int64)
    kept: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for left, right, levels in store:
        if model is not None:
            adjustment = None
            if tf:
                shifts = scoring.field_shifts(levels, n_levels, u, freqs, left, implied)
                adjustment = scoring.tf_adjustment(levels, n_levels, u, shifts, freqs, left)[0]
            prob = scoring.fs_probability(levels, n_levels, model, adjustment)
        else:
            prob = scoring.weighted_score(levels, n_levels, weights)
        hist += np.histogram(prob, bins=HIST_EDGES)[0]
        sel = np.flatnonzero(prob >= keep_floor)
        compared = (levels[sel] >= 0).sum(axis=1)
        kept.append((left[sel], right[sel], prob[sel], compared))
    del store
    k_left = (
        np.concatenate([k[0] for k in kept]).astype(np.int64) if kept else np.zeros(0, np.int64)
    )
    k_right = (
        np.concatenate([k[1] for k in kept]).astype(np.int64) if kept else np.zeros(0, np.int64)
    )
    k_prob = np.concatenate([k[2] for k in kept]) if kept else np.zeros(0, np.float64)
    k_compared = np.concatenate([k[3] for k in kept]) if kept else np.zeros(0, np.int64)
    del kept
    if threshold is None:
        threshold = (
            scoring.honest_threshold(k_prob, p.target_precision, floor=p.min_match_threshold)
            if model is not None
            else AUTO_WEIGHTED_THRESHOLD
        )
    accepted = (k_prob >= threshold) & (k_compared >= need)
    borderline = int(((k_prob >= 0.5) & ~accepted).sum())
    t_score = time.perf_counter()

    # Clustering.
    cl = clustering.cluster(
        n, k_left[accepted], k_right[accepted], k_prob[accepted], max_size=p.max_cluster_size
    )
    row_ids = frame[ROW_ID].to_numpy() if n else np.zeros(0, np.int64)
    cluster_ids = row_ids[cl.label] if n else np.zeros(0, np.int64)
    out = frame.with_columns(
        pl.Series(CLUSTER_ID, cluster_ids, dtype=pl.Int64),
        pl.Series(SOURCE_COUNT, cl.size, dtype=pl.Int64),
        pl.Series(TRUST_SCORE, np.round(cl.trust, 6), dtype=pl.Float64),
        pl.Series(MATCH_SCORE, np.round(cl.best_edge, 6), dtype=pl.Float64).fill_nan(None),
    )
    matched = int(accepted.sum())
    del k_left, k_right, k_prob, k_compared, accepted
    release_memory()
    t_cluster = time.perf_counter()

    own = cl.label == np.arange(n)  # each cluster's label is one of its rows: its first
    n_clusters = int(own.sum())
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
    metrics: dict[str, float | int] = {
        "rows": n,
        "match_columns": len(specs),
        "candidate_pairs": total,
        "reduction_ratio": round(1 - total / all_pairs, 6) if all_pairs else 1.0,
        "matched_pairs": matched,
        "borderline_pairs": borderline,
        "clusters": n_clusters,
        "multi_row_clusters": int((own & (cl.size > 1)).sum()),
        "rows_in_multi_row_clusters": multi,
        "duplicate_rows_merged": len(merged_rows),
        "refused_merges": cl.refused_merges,
        "blocking_ms": int((t_block - t0 + t_dedup_s) * 1000),
        "comparison_ms": int(t_compare_s * 1000),
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
            "pairs_per_pass": per_pass,
        },
        "scoring": p.scoring,
        "match_threshold": threshold,
        "match_threshold_source": "parameter"
        if p.match_threshold is not None
        else f"chosen for an expected precision of {p.target_precision} (model posteriors)",
        "survivorship_default": p.survivorship_default,
        "score_histogram": _histogram(hist),
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
        SummaryItem("Pairs compared", total, "info"),
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


def _histogram(counts: np.ndarray) -> list[dict[str, float | int]]:
    return [
        {"from": HIST_EDGES[i], "to": min(HIST_EDGES[i + 1], 1.0), "pairs": int(counts[i])}
        for i in range(len(HIST_EDGES) - 1)
    ]
