"""governance-checker: declared governance rules against what the profile and PII scan found.

Uses score-risk's and unified-profiler's results from ``ctx.results`` when present, and runs
score-risk itself (default parameters) when it is absent. Checks, each passed or failed:

1. ``metadata:<field>`` for each of ``required_metadata`` (owner, classification,
   retention_days): declared (non-empty).
2. ``pii_allowed:<column>`` for each column where score-risk found PII: listed in
   ``allowed_pii_columns`` (names resolved through renames).
3. ``allowed_exists:<column>``: each allowed PII column exists (a stale declaration fails).
4. ``classification``: at least the level the PII requires: no PII -> public; any PII ->
   confidential; SSN and national IDs, card numbers, IBAN, passwords -> restricted
   (public < internal < confidential < restricted). Undeclared with PII present -> failed.
5. ``retention``: with PII, a retention is declared and <= ``max_retention_days_with_pii``.
6. ``profile_pii_hint:<column>``: a column the profiler hinted as PII but score-risk did not
   confirm is reported as ``warning`` (not failed) for a human to look at.

compliance_score = 100 * passed / (passed + failed); status ``compliant`` when nothing failed.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from transformers.agents.profile import pii_patterns as pp
from transformers.agents.profile import score_risk, unified_profiler
from transformers.agents.profile.stats import Ids, data_columns
from transformers.contract import (
    AgentContext,
    AgentResult,
    AgentStatus,
    Alert,
    Issue,
    Recommendation,
    SummaryItem,
)
from transformers.errors import InvalidParametersError
from transformers.params.profile import GovernanceCheckerParams, ScoreRiskParams

AGENT_ID = "governance-checker"
LEVELS = ["public", "internal", "confidential", "restricted"]
RESTRICTED_TYPES = {pp.SSN, pp.NATIONAL_ID, pp.CREDIT_CARD, pp.IBAN, pp.PASSWORD}


def run(frame: pl.DataFrame, params: GovernanceCheckerParams, ctx: AgentContext) -> AgentResult:
    ids = Ids("GC")
    result = AgentResult(agent_id=AGENT_ID)
    cols = data_columns(frame)
    prior = ctx.results.get(score_risk.AGENT_ID)
    if prior is not None and prior.status == AgentStatus.SUCCESS and "columns" in prior.data:
        risk, source = prior.data, "score-risk result"
    else:
        risk, source = score_risk.run(frame, ScoreRiskParams(), ctx).data, "computed"
    pii: dict[str, str] = {c: risk["columns"][c]["pii_type"] for c in risk["pii_columns"]}
    checks: list[dict[str, Any]] = []

    def check(check_id: str, ok: bool | None, message: str, severity: str = "high") -> None:
        status = "warning" if ok is None else "passed" if ok else "failed"
        checks.append({"check": check_id, "status": status, "severity": severity,
                       "message": message})  # fmt: skip

    declared = {
        "owner": params.owner,
        "classification": params.classification,
        "retention_days": params.retention_days,
    }
    for fld in params.required_metadata:
        value = declared.get(fld)
        check(f"metadata:{fld}", value not in (None, ""),
              f"{fld} is {'declared' if value not in (None, '') else 'not declared'}",
              "medium")  # fmt: skip

    allowed: set[str] = set()
    for a in params.allowed_pii_columns:
        try:
            name = ctx.resolve(a, frame)
        except InvalidParametersError:
            check(f"allowed_exists:{a}", False, f"allowed PII column '{a}' is not in the data",
                  "low")  # fmt: skip
            continue
        allowed.add(name)
        check(f"allowed_exists:{a}", True, f"allowed PII column '{a}' exists", "low")
    for c, t in pii.items():
        check(f"pii_allowed:{c}", c in allowed,
              f"{c} holds {t}" + ("" if c in allowed else " but is not an allowed PII column"),
              "critical" if t in RESTRICTED_TYPES else "high")  # fmt: skip

    required = (
        "restricted" if set(pii.values()) & RESTRICTED_TYPES else
        "confidential" if pii else "public"
    )  # fmt: skip
    if params.classification is None:
        check("classification", None if not pii else False,
              f"no classification declared (the data needs at least '{required}')")  # fmt: skip
    else:
        ok = LEVELS.index(params.classification) >= LEVELS.index(required)
        check(
            "classification",
            ok,
            f"declared '{params.classification}', the PII found needs at least '{required}'",
        )
    if pii:
        r = params.retention_days
        check("retention", r is not None and r <= params.max_retention_days_with_pii,
              "no retention period declared for data with PII" if r is None else
              f"retention {r} days (max {params.max_retention_days_with_pii} with PII)",
              "medium")  # fmt: skip

    prof = ctx.results.get(unified_profiler.AGENT_ID)
    if prof is not None and prof.status == AgentStatus.SUCCESS:
        for c, p in prof.data.get("columns", {}).items():
            if p.get("pii_hint") and c not in pii and c in cols:
                check(f"profile_pii_hint:{c}", None,
                      f"the profiler hints {p['pii_hint']} in {c}; score-risk did not confirm",
                      "low")  # fmt: skip

    passed = sum(c["status"] == "passed" for c in checks)
    failed = [c for c in checks if c["status"] == "failed"]
    score = 100.0 * passed / (passed + len(failed)) if passed + len(failed) else 100.0
    status = "compliant" if not failed else "non_compliant"
    result.data = {
        "status": status,
        "compliance_score": score,
        "checks": checks,
        "pii_columns": pii,
        "required_classification": required,
        "declared": declared,
        "risk_source": source,
    }
    result.summary_metrics = {
        "compliance_score": score,
        "checks_passed": passed,
        "checks_failed": len(failed),
        "checks_warning": sum(c["status"] == "warning" for c in checks),
        "unapproved_pii_columns": sum(1 for c in pii if c not in allowed),
    }
    for chk in checks:
        if chk["status"] != "passed":
            kind, _, field = str(chk["check"]).partition(":")
            result.issues.append(
                Issue(ids.next("I"), field or None, f"governance_{kind}",
                      chk["severity"] if chk["status"] == "failed" else "info", chk["message"])
            )  # fmt: skip
    if failed:
        result.alerts.append(
            Alert(ids.next("A"), "high", "governance",
                  f"{len(failed)} governance check(s) failed", len(failed),
                  "Declare the missing metadata and approve or remove PII columns.")
        )  # fmt: skip
        result.recommendations.append(
            Recommendation(ids.next("R"), "high",
                           "; ".join(c["message"] for c in failed[:5]), "low")
        )  # fmt: skip
    result.executive_summary = [
        SummaryItem("Governance", status, "good" if not failed else "critical"),
        SummaryItem("Compliance score", round(score, 1), "info"),
    ]
    return result
