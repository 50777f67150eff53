"""cleanse-previewer: simulates the later agents IN SEQUENCE and reports what they would do.

The previewer only receives its own parameters, so it simulates each later data-changing agent
(quarantine-agent, type-fixer, field-standardization, duplicate-resolver, null-handler,
outlier-remover; or ``simulate_agents``) with the parameters given for it in
``agent_parameters`` and, for the others, that agent's documented DEFAULTS. Pass the same
parameters as the real run to get an exact preview. The simulation runs the real agents on
the frame, each on the previous one's output (so a row quarantined first is not counted again
as a duplicate), in a scratch directory, and applies renames like the pipeline does.

The simulated results are kept (``_memo``): when the chain then runs an agent on the very
same input frame with the same parameters and aliases, that agent returns the simulated
result instead of computing it again (so the preview does not double the cost of a run whose
parameters it was given). Any difference means the agent computes as usual.

Reported (``data``): per agent, the number of rows removed/quarantined and cells changed by
rule, the real row ids (``preview_rows`` per agent and rule in the JSON; counts are complete),
and the totals. Nothing is changed: the result has no frame and no changes.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel

from transformers.agents.clean._common import change_frame
from transformers.agents.clean._memo import MEMO
from transformers.contract import (
    AgentContext,
    AgentResult,
    AgentStatus,
    ChangeKind,
    Issue,
    SummaryItem,
)
from transformers.errors import InvalidParametersError
from transformers.params.clean import CleansePreviewerParams
from transformers.registry import CLEAN

AGENT_ID = "cleanse-previewer"

#: The agents simulated, in chain order: the data-changing ones of the registry.
SIMULATED: dict[str, type[BaseModel]] = {
    spec.agent_id: spec.params for spec in CLEAN.agents if spec.changes_data
}


def _agents() -> dict[str, Any]:
    """The simulated agents' own functions (never their memoised form)."""
    from transformers.agents import raw_implementation

    return {spec.agent_id: raw_implementation(spec) for spec in CLEAN.agents if spec.changes_data}


def run(frame: pl.DataFrame, params: CleansePreviewerParams, ctx: AgentContext) -> AgentResult:
    from pydantic import ValidationError

    result = AgentResult(agent_id=AGENT_ID)
    chosen = params.simulate_agents if params.simulate_agents is not None else list(SIMULATED)
    for a in [*chosen, *params.agent_parameters]:
        if a not in SIMULATED:
            raise InvalidParametersError(
                f"{AGENT_ID}: '{a}' is not an agent the previewer simulates "
                f"({', '.join(SIMULATED)})",
                details={"agent_id": AGENT_ID, "agent": a},
            )
    chosen = [a for a in SIMULATED if a in chosen]  # chain order
    models: dict[str, Any] = {}
    for a in chosen:
        try:
            models[a] = SIMULATED[a].model_validate(params.agent_parameters.get(a, {}))
        except ValidationError as exc:
            raise InvalidParametersError(
                f"{AGENT_ID}: agent_parameters.{a}: {exc.errors()[0]['msg']}",
                details={"agent_id": AGENT_ID, "agent": a},
            ) from None

    fns = _agents()
    aliases = dict(ctx.column_aliases)
    results: dict[str, AgentResult] = dict(ctx.results)
    current = frame
    per_agent: dict[str, dict[str, Any]] = {}
    removed_total = 0
    cells_total = 0
    affected: list[pl.Series] = []
    with contextlib.nullcontext(MEMO.reset()) as tmp:
        for a in chosen:
            sub = AgentContext(
                task_id=ctx.task_id,
                tenant_id=ctx.tenant_id,
                tool_id=ctx.tool_id,
                agent_id=a,
                frames=ctx.frames,
                inputs=ctx.inputs,
                work_dir=Path(tmp) / a,
                results=results,
                column_aliases=aliases,
                documents=ctx.documents,
            )
            sub.work_dir.mkdir(parents=True, exist_ok=True)
            aliases_before = dict(aliases)
            try:
                res = fns[a](current, models[a], sub)
            except Exception as exc:  # report, go on with the same frame
                per_agent[a] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
                result.issues.append(
                    Issue(
                        f"cleanse-previewer-{a}",
                        None,
                        "simulation_failed",
                        "high",
                        f"Simulating {a} failed: {exc}",
                    )
                )
                continue
            results[a] = res
            for old, new in res.renames.items():
                for original, now in list(aliases.items()):
                    if now == old:
                        aliases[original] = new
                aliases.setdefault(old, new)
            cf = change_frame(res.changes)
            row_kinds = [ChangeKind.ROW_REMOVED.value, ChangeKind.ROW_QUARANTINED.value]
            rows_cf = cf.filter(pl.col("kind").is_in(row_kinds))
            cells_cf = cf.filter(pl.col("kind") == ChangeKind.CELL.value)
            removed: dict[str, list[int]] = {
                f"{k}:{r}": ids
                for k, r, ids in rows_cf.group_by(["kind", "rule"], maintain_order=True)
                .agg(pl.col("row_id"))
                .iter_rows()
            }
            by_rule = cells_cf.group_by(["column", "rule"], maintain_order=True).agg(
                pl.len().alias("n"), pl.col("row_id").head(params.preview_rows).alias("ids")
            )
            cells: dict[str, int] = {f"{c}:{r}": int(k) for c, r, k, _ in by_rule.iter_rows()}
            cell_rows = {f"{c}:{r}": ids for c, r, _, ids in by_rule.iter_rows()}
            affected.append(pl.concat([rows_cf["row_id"], cells_cf["row_id"]]))
            columns = (
                cf.filter(pl.col("row_id").is_null()).select("kind", "column", "after").to_dicts()
            )
            n_removed = sum(len(v) for v in removed.values())
            removed_total += n_removed
            cells_total += sum(cells.values())
            per_agent[a] = {
                "status": str(res.status),
                "parameters": "given" if a in params.agent_parameters else "defaults",
                "rows_removed": n_removed,
                "removed_row_ids": {k: v[: params.preview_rows] for k, v in removed.items()},
                "removed_counts": {k: len(v) for k, v in removed.items()},
                "cells_changed": sum(cells.values()),
                "cells_changed_by_column_rule": dict(cells),
                "changed_row_ids": cell_rows,
                "column_changes": columns,
                "rows_after": res.frame.height if res.frame is not None else current.height,
            }
            MEMO.put(a, ctx.task_id, aliases_before, current, models[a], res)
            if res.status == AgentStatus.SUCCESS and res.frame is not None:
                current = res.frame
            res.frame = None
    result.data = {
        "simulated_agents": chosen,
        "agents": per_agent,
        "rows_in": frame.height,
        "rows_after": current.height,
        "note": "agents without agent_parameters were simulated with their defaults",
    }
    result.summary_metrics = {
        "rows_in": frame.height,
        "rows_would_be_removed": removed_total,
        "cells_would_change": cells_total,
        "rows_affected": pl.concat(affected).n_unique() if affected else 0,
        "rows_after": current.height,
    }
    result.executive_summary = [
        SummaryItem("Rows that would be removed", removed_total, "info"),
        SummaryItem("Cells that would change", cells_total, "info"),
    ]
    return result
