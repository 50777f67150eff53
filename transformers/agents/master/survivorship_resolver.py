"""survivorship-resolver: collapse each cluster to one golden record, field by field, by rules.

Rules (per field; ``rules`` overrides ``default_rule``). Missing values never survive while a
source has a value. Among a cluster's non-missing values:

* ``most_complete``: the consensus value: highest support, where support(v) = count(v) +
  sum over the other distinct values v' of count(v') * similarity(v, v') (Jaro-Winkler on
  text, equality otherwise): the medoid, which recovers the original when each duplicate has
  a different typo. Ties: the value from the most complete source row, then the earliest row.
* ``most_frequent``: highest count; ties by earliest row.
* ``most_recent``: the value of the row with the latest ``timestamp_column`` (text parsed as
  real timestamps in several formats; unparseable timestamps rank last).
* ``source_priority``: the row whose ``source_column`` comes first in ``source_priority``.
* ``longest`` / ``min`` / ``max``: by text length / value.
* ``validated``: ``most_frequent`` among values passing the field's format check (email,
  phone, postcode, national id, date), falling back to all values when none pass.

Confidence of a decision = share of the cluster's non-missing values equal to the survivor
(1.0 = unanimous); 0.0 when every source is missing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

from transformers.agents.master._common import (
    CLUSTER_ID,
    CONF_PREFIX,
    MEMBERS,
    SOURCE_COUNT,
    SRC_PREFIX,
    TRUST_SCORE,
    as_text,
    data_columns,
    invalid_mask,
    parse_timestamps,
    release_memory,
    role_of,
)
from transformers.contract import (
    ROW_ID,
    AgentContext,
    AgentResult,
    Change,
    ChangeKind,
    Recommendation,
    SummaryItem,
)
from transformers.errors import InvalidParametersError
from transformers.params.master import SurvivorshipResolverParams

AGENT_ID = "survivorship-resolver"
RULES = (
    "most_recent",
    "source_priority",
    "most_complete",
    "most_frequent",
    "longest",
    "min",
    "max",
    "validated",
)


def _pick(cand: pl.DataFrame, rule: str, role: str | None, is_text: bool) -> pl.DataFrame:
    """cand: one row per (cluster, distinct value) with stats; returns the survivor per cluster."""
    if rule == "most_recent":
        keys, desc = ["ts", "count", "first_row"], [True, True, False]
    elif rule == "source_priority":
        keys, desc = ["prio", "count", "first_row"], [False, True, False]
    elif rule == "longest":
        keys, desc = ["length", "count", "first_row"], [True, True, False]
    elif rule in ("min", "max"):
        keys, desc = ["v", "first_row"], [rule == "max", False]
    elif rule == "validated":
        keys, desc = ["valid", "count", "first_row"], [True, True, False]
    elif rule == "most_complete":
        cand = cand.with_columns(_support(cand, is_text))
        keys, desc = ["support", "completeness", "first_row"], [True, True, False]
    else:  # most_frequent
        keys, desc = ["count", "first_row"], [True, False]
    return (
        cand.sort([CLUSTER_ID, *keys], descending=[False, *desc], nulls_last=True)
        .group_by(CLUSTER_ID, maintain_order=True)
        .first()
    )


def _support(cand: pl.DataFrame, is_text: bool) -> pl.Series:
    """support(v) = count(v) + sum_{v' != v} count(v') * sim(v, v') within the cluster."""
    base = cand["count"].cast(pl.Float64)
    if not is_text:
        return base.alias("support")
    multi = cand.with_row_index("_i").filter(pl.len().over(CLUSTER_ID) > 1)
    if multi.height == 0:
        return base.alias("support")
    small = multi.select("_i", CLUSTER_ID, "txt", "count")
    pairs = small.join(small, on=CLUSTER_ID, suffix="_o").filter(pl.col("_i") != pl.col("_i_o"))
    if pairs.height == 0:
        return base.alias("support")
    sim = process.cpdist(
        pairs["txt"].to_list(),
        pairs["txt_o"].to_list(),
        scorer=JaroWinkler.normalized_similarity,
        workers=-1,
    )
    add = (
        pairs.select("_i", (pl.Series(sim) * pl.col("count_o")).alias("add"))
        .group_by("_i")
        .agg(pl.col("add").sum())
    )
    extra = np.zeros(cand.height)
    extra[add["_i"].to_numpy()] = add["add"].to_numpy()
    return (base + pl.Series(extra)).alias("support")


def collapse(
    frame: pl.DataFrame,
    default_rule: str = "most_complete",
    rules: dict[str, str] | None = None,
    timestamp_column: str | None = None,
    source_column: str | None = None,
    source_priority: list[str] | None = None,
) -> tuple[pl.DataFrame, dict[str, str], dict[str, dict[str, Any]]]:
    """Source rows with ``cluster_id`` -> golden records (see the module docstring)."""
    rules = rules or {}
    fields = data_columns(frame)
    used = {f: rules.get(f, default_rule) for f in fields}
    for f, r in used.items():
        if r not in RULES:
            raise InvalidParametersError(
                f"{AGENT_ID}: unknown rule '{r}' for field '{f}'", details={"rules": list(RULES)}
            )
    if timestamp_column is None and any(r == "most_recent" for r in used.values()):
        raise InvalidParametersError(f"{AGENT_ID}: most_recent needs timestamp_column")
    if source_column is None and any(r == "source_priority" for r in used.values()):
        raise InvalidParametersError(f"{AGENT_ID}: source_priority needs source_column")

    work = frame.select(
        ROW_ID,
        CLUSTER_ID,
        *fields,
        pl.sum_horizontal([pl.col(f).is_not_null() for f in fields]).alias("_completeness")
        if fields
        else pl.lit(0).alias("_completeness"),
    )
    if timestamp_column is not None:
        work = work.with_columns(parse_timestamps(frame[timestamp_column]).alias("_ts"))
    if source_column is not None:
        prio = {s: i for i, s in enumerate(source_priority or [])}
        work = work.with_columns(
            frame[source_column]
            .cast(pl.String)
            .replace_strict(prio, default=len(prio), return_dtype=pl.Int64)
            .alias("_prio")
        )
    # Golden records by group-by: every cluster's rows in (cluster, row) order, the cluster's
    # first row standing for it. A one-row cluster is its row; only the multi-row clusters
    # (a small share) are resolved field by field and written into their records' positions,
    # one column at a time, so the golden frame is built once, not filtered, concatenated and
    # sorted.
    order = frame.select(pl.arg_sort_by(CLUSTER_ID, ROW_ID)).to_series()
    ids = frame[CLUSTER_ID].gather(order)
    starts = (ids != ids.shift(1)).fill_null(True).arg_true()
    del ids
    offsets = np.append(starts.to_numpy(), frame.height).astype(np.int64)
    counts = np.diff(offsets)
    rep_pos = order.gather(starts)
    members = pl.from_arrow(
        pa.LargeListArray.from_arrays(
            pa.array(offsets),
            pa.array(frame[ROW_ID].gather(order).to_numpy().astype(np.int64, copy=False)),
        )
    )
    del order
    trust = (
        frame[TRUST_SCORE].gather(rep_pos).cast(pl.Float64)
        if TRUST_SCORE in frame.columns
        else pl.Series(TRUST_SCORE, np.ones(len(counts)), dtype=pl.Float64)
    )
    reps = frame.select(pl.col(CLUSTER_ID, ROW_ID, *fields).gather(rep_pos))
    out = reps.select(
        pl.col(CLUSTER_ID).alias(ROW_ID),
        pl.col(CLUSTER_ID),
        *[pl.col(f) for f in fields],
        pl.Series(SOURCE_COUNT, counts, dtype=pl.Int64),
        trust.alias(TRUST_SCORE),
        members.cast(pl.List(pl.Int64)).alias(MEMBERS),  # type: ignore[union-attr]
        *[
            pl.when(pl.col(f).is_not_null()).then(pl.col(ROW_ID)).alias(SRC_PREFIX + f)
            for f in fields
        ],
        *[
            pl.when(pl.col(f).is_not_null()).then(1.0).otherwise(0.0).alias(CONF_PREFIX + f)
            for f in fields
        ],
    )
    del reps, members
    stats: dict[str, dict[str, Any]] = {
        f: {"rule": used[f], "conflicting_clusters": 0} for f in fields
    }
    multi_at = np.flatnonzero(counts > 1)
    if multi_at.size:
        multi = work.filter(pl.len().over(CLUSTER_ID) > 1).sort(CLUSTER_ID, ROW_ID)
        ids = out[CLUSTER_ID].gather(multi_at)  # the multi-row clusters, in golden order
        at = pl.Series("_at", multi_at, dtype=pl.Int64)
        for f in fields:
            picked, conflicts = _resolve_field(multi, f, used[f])
            aligned = (
                pl.DataFrame({CLUSTER_ID: ids})
                .join(picked, on=CLUSTER_ID, how="left", maintain_order="left")
                .with_columns(pl.col(CONF_PREFIX + f).fill_null(0.0))
            )
            for col in (f, SRC_PREFIX + f, CONF_PREFIX + f):
                values = aligned[col].cast(out[col].dtype)
                out = out.with_columns(out[col].scatter(at, values))
            stats[f]["conflicting_clusters"] = conflicts
        del multi
    del work
    release_memory()
    for f in fields:
        conf = out[CONF_PREFIX + f]
        stats[f]["mean_confidence"] = round(float(conf.mean() or 0.0), 6) if out.height else 0.0  # type: ignore[arg-type]
    return out, used, stats


def _resolve_field(multi: pl.DataFrame, f: str, rule: str) -> tuple[pl.DataFrame, int]:
    dtype = multi[f].dtype
    is_text = dtype == pl.String
    cols = [CLUSTER_ID, ROW_ID, f, "_completeness"]
    extra = [c for c in ("_ts", "_prio") if c in multi.columns]
    rows = multi.select(*cols, *extra).filter(pl.col(f).is_not_null())
    role = role_of(f)
    aggs = [
        pl.len().alias("count"),
        pl.col(ROW_ID).min().alias("first_row"),
        pl.col("_completeness").max().alias("completeness"),
    ]
    if "_ts" in rows.columns:
        aggs.append(pl.col("_ts").max().alias("ts"))
    if "_prio" in rows.columns:
        aggs.append(pl.col("_prio").min().alias("prio"))
    cand = rows.group_by(CLUSTER_ID, f, maintain_order=True).agg(aggs)
    cand = cand.with_columns(
        pl.col(f).alias("v"),
        as_text(pl.col(f), dtype).alias("txt"),
    ).with_columns(pl.col("txt").str.len_chars().alias("length"))
    if rule == "validated":
        bad = invalid_mask(cand[f], role) if role else None
        valid = ~bad if bad is not None else pl.Series([True] * cand.height)
        cand = cand.with_columns(valid.alias("valid"))
    nonnull = cand.group_by(CLUSTER_ID).agg(
        pl.col("count").sum().alias("n_nonnull"), pl.len().alias("n_distinct")
    )
    conflicts = int((nonnull["n_distinct"] > 1).sum())
    picked = _pick(cand, rule, role, is_text).join(nonnull, on=CLUSTER_ID)
    return (
        picked.select(
            CLUSTER_ID,
            pl.col(f),
            pl.col("first_row").alias(SRC_PREFIX + f),
            (pl.col("count") / pl.col("n_nonnull")).round(6).alias(CONF_PREFIX + f),
        ),
        conflicts,
    )


def run(frame: pl.DataFrame, params: SurvivorshipResolverParams, ctx: AgentContext) -> AgentResult:
    p: SurvivorshipResolverParams = params
    if CLUSTER_ID not in frame.columns:
        frame = frame.with_columns(pl.col(ROW_ID).alias(CLUSTER_ID))
    rules = {ctx.resolve(c, frame): r for c, r in p.rules.items()}
    ts = ctx.resolve(p.timestamp_column, frame) if p.timestamp_column else None
    src = ctx.resolve(p.source_column, frame) if p.source_column else None
    golden, used, stats = collapse(frame, p.default_rule, rules, ts, src, p.source_priority)
    merged = frame.filter(pl.col(ROW_ID) != pl.col(CLUSTER_ID)).select(ROW_ID, CLUSTER_ID)
    changes = [
        Change(
            kind=ChangeKind.ROW_REMOVED,
            agent_id=AGENT_ID,
            rule="survivorship",
            row_id=int(r),
            after=int(c),
            reason=f"merged into golden record {int(c)}",
        )
        for r, c in merged.iter_rows()
    ]
    conflicts = sum(int(s["conflicting_clusters"]) for s in stats.values())
    low = {f: int((golden[CONF_PREFIX + f] < 0.5).sum()) for f in stats if golden.height}
    recs = []
    if conflicts:
        recs.append(
            Recommendation(
                "review-conflicts",
                "medium",
                f"{conflicts} field decisions chose between conflicting source values; "
                "stewardship-flagger lists the low-confidence ones.",
                "medium",
            )
        )
    release_memory()  # before the next agent's peak stacks on freed, unreturned memory
    return AgentResult(
        agent_id=AGENT_ID,
        summary_metrics={
            "source_rows": frame.height,
            "golden_records": golden.height,
            "rows_merged": len(changes),
            "conflicting_decisions": conflicts,
            "low_confidence_decisions": sum(low.values()),
        },
        data={
            "rules": used,
            "fields": stats,
            "confidence_formula": "share of the cluster's non-missing values equal to the "
            "surviving value; 0 when all are missing",
        },
        recommendations=recs,
        executive_summary=[
            SummaryItem("Golden records", golden.height, "info"),
            SummaryItem(
                "Conflicting field decisions", conflicts, "warning" if conflicts else "good"
            ),
        ],
        frame=golden,
        changes=changes,
    )
