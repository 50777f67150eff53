"""key-identifier: candidate primary, composite, natural and foreign keys.

* uniqueness = distinct non-null values / rows; completeness = non-null rows / rows.
* primary key: uniqueness = completeness = 1. Candidate key: uniqueness >=
  ``uniqueness_threshold``.
* composite keys (up to ``max_composite_size`` columns, only when no single column is a primary
  key): combinations unique and complete over all rows. A combination is first tested on a
  sample (a combination with duplicates in a sample has duplicates in the whole), so only
  survivors are checked on every row; minimal combinations only.
* natural keys: columns whose values look like emails or national ids.
* foreign keys: columns whose distinct values are (>= 95%) contained in a ``reference``
  column.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import polars as pl

from transformers.agents.master._common import EMAIL_RE, SSN_RE, as_text
from transformers.contract import ROW_ID, AgentContext, AgentResult, SummaryItem
from transformers.params.master import KeyIdentifierParams

AGENT_ID = "key-identifier"
SAMPLE = 20_000
MAX_COMPOSITE_COLUMNS = 10


def run(frame: pl.DataFrame, params: KeyIdentifierParams, ctx: AgentContext) -> AgentResult:
    p: KeyIdentifierParams = params
    n = frame.height
    cols = [c for c in frame.columns if c != ROW_ID]
    stats: list[dict[str, Any]] = []
    for c in cols:
        s = frame[c]
        nn = n - s.null_count()
        distinct = s.drop_nulls().n_unique() if nn else 0
        stats.append(
            {
                "column": c,
                "uniqueness": round(distinct / n, 6) if n else 0.0,
                "completeness": round(nn / n, 6) if n else 0.0,
                "distinct": distinct,
            }
        )
    primary = [s["column"] for s in stats if n and s["uniqueness"] == 1 and s["completeness"] == 1]
    candidates = [s for s in stats if n and s["uniqueness"] >= p.uniqueness_threshold]
    composite: list[dict[str, Any]] = []
    if not primary and n > 1 and p.max_composite_size > 1:
        pool = sorted(
            (s for s in stats if s["completeness"] == 1 and s["distinct"] > 1),
            key=lambda s: -s["distinct"],
        )[:MAX_COMPOSITE_COLUMNS]
        names = [s["column"] for s in pool]
        sample = frame.sample(SAMPLE, seed=0) if n > SAMPLE else frame
        found: list[tuple[str, ...]] = []
        for size in range(2, p.max_composite_size + 1):
            for combo in combinations(names, size):
                if any(set(f) <= set(combo) for f in found):
                    continue  # not minimal
                if sample.select(pl.struct(list(combo)).n_unique()).item() < sample.height:
                    continue
                if frame.select(pl.struct(list(combo)).n_unique()).item() == n:
                    found.append(combo)
                    composite.append(
                        {"columns": list(combo), "uniqueness": 1.0, "completeness": 1.0}
                    )
            if len(found) >= 10:
                break
    natural: list[dict[str, Any]] = []
    for st in stats:
        c = st["column"]
        if frame[c].dtype not in (pl.String, pl.Int64) or st["distinct"] == 0:
            continue
        txt = frame.select(as_text(pl.col(c), frame[c].dtype)).to_series().drop_nulls().head(2000)
        for kind, pat in (("email", EMAIL_RE), ("national_id", SSN_RE)):
            share = float(txt.str.contains(pat.pattern).mean() or 0.0)  # type: ignore[arg-type]
            if share >= 0.9 and st["uniqueness"] >= 0.5:
                natural.append({"column": c, "kind": kind, "uniqueness": st["uniqueness"]})
                break
    foreign: list[dict[str, Any]] = []
    ref = ctx.frames.get("reference")
    if ref is not None and n:
        for c in cols:
            vals = frame[c].drop_nulls().unique()
            if vals.len() == 0:
                continue
            for rc in ref.columns:
                if rc == ROW_ID:
                    continue
                try:
                    inside = vals.cast(pl.String).is_in(
                        ref[rc].cast(pl.String).drop_nulls().implode()
                    )
                except Exception:
                    continue
                share = float(inside.mean() or 0.0)  # type: ignore[arg-type]
                if share >= 0.95:
                    foreign.append(
                        {"column": c, "reference_column": rc, "containment": round(share, 4)}
                    )
    return AgentResult(
        agent_id=AGENT_ID,
        summary_metrics={
            "columns": len(cols),
            "primary_keys": len(primary),
            "candidate_keys": len(candidates),
            "composite_keys": len(composite),
            "natural_keys": len(natural),
            "foreign_keys": len(foreign),
        },
        data={
            "primary_keys": primary,
            "candidate_keys": candidates,
            "composite_keys": composite,
            "natural_keys": natural,
            "foreign_keys": foreign,
            "columns": stats[:1000],
        },
        executive_summary=[
            SummaryItem(
                "Primary key",
                primary[0] if primary else ("composite" if composite else "none found"),
                "good" if primary or composite else "warning",
            )
        ],
    )
