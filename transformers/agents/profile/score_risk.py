"""score-risk: PII detection by value patterns, per-column and overall risk, frameworks.

Detection (see ``pii_patterns``): every non-null value of a column is classified by anchored
patterns in a fixed precedence (email > IBAN mod-97 > credit card Luhn > SSN > national IDs by
format and checksum > IP > date > postal code > phone); the column's type is the most frequent
one if it covers at least ``min_match_ratio`` of the values; person names are recognised by
value from offline name lists (``pii_names``); the column name breaks ties (digit-only values,
dates of birth vs. event dates, addresses, usernames, passwords) and is matched in several
languages. Each column's ``evidence`` states what the finding rests on: value hit ratio,
checksum pass ratio, header hint, national-ID formats, name-list hit ratio.
``sample_size`` limits the rows scanned per column (evenly spaced); ``None`` scans all.
Columns whose name hints at nothing and where no value of an evenly spaced 2,000-row screening
sample matches any PII pattern (nor, for text, are mostly names) are not scanned further
(a column of which >= ``min_match_ratio`` matched would have to avoid every sampled position).

Risk per column = ``TYPE_WEIGHT[type] * confidence`` (0-100). Overall risk is max-weighted so
that harmless columns never dilute it, and further PII columns raise it towards 100::

    overall = r_max + 0.5 * (100 - r_max) * (1 - prod_{other columns j} (1 - r_j / 100))

Row-level issues (``stray_pii_rows``): in text columns that are not PII columns, every value
(of the scanned rows) that is an email, IBAN, card number, SSN, IP address or phone number by
``pii_patterns.classify_values`` is listed with its real row id as ``stray_pii_<type>``, the value
redacted (its first and last two characters kept). One select finds the columns with any such
value (one combined pattern per column); only those are classified value by value.

Levels: critical >= 90, high >= 70, medium >= 40, low > 0, none. Frameworks: GDPR and CCPA for
any personal data, PCI-DSS for card numbers, HIPAA when HIPAA identifiers occur together with a
health-related column name (otherwise listed under ``frameworks_if_health_data``).
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from transformers.agents.profile import pii_patterns as pp
from transformers.agents.profile.stats import Ids, data_columns, name_tokens
from transformers.contract import (
    ROW_ID,
    AgentContext,
    AgentResult,
    Alert,
    Issue,
    Recommendation,
    RowIssue,
    SummaryItem,
)
from transformers.params.profile import ScoreRiskParams

AGENT_ID = "score-risk"
SCREEN_ROWS = 2_000

TYPE_WEIGHT: dict[str, float] = {
    pp.SSN: 100,
    pp.NATIONAL_ID: 100,
    pp.CREDIT_CARD: 100,
    pp.PASSWORD: 95,
    pp.IBAN: 90,
    pp.DOB: 70,
    pp.EMAIL: 65,
    pp.PHONE: 60,
    pp.PERSON: 55,
    pp.ADDRESS: 55,
    pp.USERNAME: 50,
    pp.IP: 40,
    pp.POSTAL: 30,
}
FRAMEWORKS: dict[str, list[str]] = {
    pp.SSN: ["GDPR", "CCPA", "HIPAA"],
    pp.NATIONAL_ID: ["GDPR", "CCPA", "HIPAA"],
    pp.PASSWORD: ["GDPR", "CCPA"],
    pp.USERNAME: ["GDPR", "CCPA"],
    pp.CREDIT_CARD: ["GDPR", "CCPA", "PCI-DSS"],
    pp.IBAN: ["GDPR", "CCPA"],
    pp.DOB: ["GDPR", "CCPA", "HIPAA"],
    pp.EMAIL: ["GDPR", "CCPA", "HIPAA"],
    pp.PHONE: ["GDPR", "CCPA", "HIPAA"],
    pp.PERSON: ["GDPR", "CCPA", "HIPAA"],
    pp.ADDRESS: ["GDPR", "CCPA", "HIPAA"],
    pp.IP: ["GDPR", "CCPA", "HIPAA"],
    pp.POSTAL: ["GDPR", "CCPA", "HIPAA"],
}
HEALTH_WORDS = frozenset(
    {"patient", "diagnosis", "icd", "medical", "mrn", "treatment", "prescription", "health",
     "clinical", "medication", "blood", "allergy", "disease", "symptom", "doctor", "hospital"}
)  # fmt: skip


#: Types listed value by value in non-PII text columns (dates and postal codes are too common
#: in ordinary text to be called stray personal data).
STRAY_TYPES: tuple[str, ...] = (pp.EMAIL, pp.IBAN, pp.CREDIT_CARD, pp.SSN, pp.IP, pp.PHONE)
_ANY_STRAY = "|".join(f"(?:{pp.PATTERNS[t]})" for t in STRAY_TYPES)


def redact(value: str) -> str:
    """The first and last two characters, the rest starred (short values fully starred)."""
    v = value.strip()
    return "*" * len(v) if len(v) <= 6 else f"{v[:2]}{'*' * (len(v) - 4)}{v[-2:]}"


def stray_pii_rows(frame: pl.DataFrame, columns: list[str]) -> list[RowIssue]:
    """Row-level issues for PII values in the given text columns (see the module doc)."""
    text = [c for c in columns if frame.schema[c] == pl.String]
    if not text or frame.height == 0:
        return []
    if ROW_ID not in frame.columns:
        frame = frame.with_row_index(ROW_ID).with_columns(pl.col(ROW_ID).cast(pl.Int64))

    def matches(e: pl.Expr) -> pl.Expr:
        return e.str.strip_chars().str.contains(_ANY_STRAY).fill_null(False)

    conds = {c: matches(pl.col(c)) for c in text}
    # screened over the distinct values (far fewer than rows in most text columns)
    screen = (matches(pl.col(c).unique()).any().alias(str(i)) for i, c in enumerate(text))
    found = frame.select(screen).row(0)
    out: list[RowIssue] = []
    for (c, cond), hit in zip(conds.items(), found, strict=True):
        if not hit:
            continue
        hits = frame.lazy().select(ROW_ID, c).filter(cond).collect()
        values = hits.get_column(c)
        masks = pp.classify_values(values)
        ids = hits.get_column(ROW_ID).to_list()
        texts = values.to_list()
        kinds: list[str | None] = [None] * hits.height
        for t in STRAY_TYPES:  # the masks are exclusive
            for i in masks[t].fill_null(False).arg_true().to_list():
                kinds[i] = t
        for rid, value, kind in zip(ids, texts, kinds, strict=True):
            if kind is None:
                continue
            sev = "high" if TYPE_WEIGHT[kind] >= 90 else "medium"
            shown = redact(value)
            out.append(
                RowIssue(int(rid), c, f"stray_pii_{kind}", sev, shown,
                         f"{c}: a {kind.replace('_', ' ')} ({shown}) in a column that is not "
                         "personal data")
            )  # fmt: skip
    return out


def level(score: float) -> str:
    if score >= 90:
        return "critical"
    if score >= 70:
        return "high"
    if score >= 40:
        return "medium"
    return "low" if score > 0 else "none"


def overall_risk(scores: list[float]) -> float:
    if not scores:
        return 0.0
    ordered = sorted(scores, reverse=True)
    top = ordered[0]
    rest = math.prod(1 - r / 100 for r in ordered[1:])
    return top + 0.5 * (100 - top) * (1 - rest)


def _evenly(frame: pl.DataFrame, k: int | None) -> pl.DataFrame:
    if k is None or frame.height <= k:
        return frame
    step = frame.height / k
    return frame[[int(i * step) for i in range(k)]]


def run(frame: pl.DataFrame, params: ScoreRiskParams, ctx: AgentContext) -> AgentResult:
    ids = Ids("SR")
    result = AgentResult(agent_id=AGENT_ID)
    cols = data_columns(frame)
    scanned = _evenly(frame, params.sample_size)
    candidates = set(pp.screen_candidates(_evenly(scanned, SCREEN_ROWS), cols))
    # integer columns: only with a name hint (digit-only values are ambiguous)
    columns: dict[str, dict[str, Any]] = {}
    schema = frame.schema
    for c in cols:
        dtype = schema[c]
        hint = pp.name_hint(c)
        if c in candidates:
            det = pp.detect_column(c, scanned.get_column(c), params.min_match_ratio)
        else:
            det = pp.Detection(None, 0.0, 0.0, non_null=0, reason="no PII pattern in screening")
        weight = TYPE_WEIGHT.get(det.pii_type or "", 0.0)
        risk = weight * det.confidence
        columns[c] = {
            "pii_type": det.pii_type,
            "confidence": det.confidence,
            "match_ratio": det.match_ratio,
            "matches": det.matches,
            "values_scanned": det.non_null,
            "name_hint": hint,
            "reason": det.reason,
            "evidence": det.evidence,
            "risk_score": risk,
            "risk_level": level(risk),
            "frameworks": FRAMEWORKS.get(det.pii_type or "", []),
            "dtype": str(dtype),
        }
    pii_cols = [c for c in cols if columns[c]["pii_type"]]
    if params.stray_pii_rows:
        result.row_level_issues = stray_pii_rows(
            scanned, [c for c in cols if not columns[c]["pii_type"]]
        )
    overall = overall_risk([columns[c]["risk_score"] for c in pii_cols])
    tokens = {t for c in cols for t in name_tokens(c)}
    health = bool(tokens & HEALTH_WORDS)
    frameworks: set[str] = set()
    for c in pii_cols:
        frameworks.update(columns[c]["frameworks"])
    if_health = sorted(frameworks & {"HIPAA"}) if not health else []
    if not health:
        frameworks.discard("HIPAA")
    by_type: dict[str, list[str]] = {}
    for c in pii_cols:
        by_type.setdefault(columns[c]["pii_type"], []).append(c)
    result.data = {
        "columns": columns,
        "pii_columns": pii_cols,
        "pii_by_type": by_type,
        "overall_risk_score": overall,
        "overall_risk_level": level(overall),
        "frameworks_affected": sorted(frameworks),
        "frameworks_if_health_data": if_health,
        "health_data_detected": health,
        "type_weights": TYPE_WEIGHT,
        "formula": "r_max + 0.5*(100-r_max)*(1-prod(1-r_j/100))",
        "rows_scanned": scanned.height,
    }
    result.summary_metrics = {
        "overall_risk_score": overall,
        "pii_columns": len(pii_cols),
        "high_risk_columns": sum(columns[c]["risk_score"] >= 70 for c in pii_cols),
        "stray_pii_values": len(result.row_level_issues),
        "columns_scanned": len(cols),
        "frameworks_affected": len(frameworks),
    }
    for c in pii_cols:
        info = columns[c]
        sev = info["risk_level"] if info["risk_level"] != "none" else "info"
        result.issues.append(
            Issue(
                ids.next("I"),
                c,
                f"pii_{info['pii_type']}",
                sev,
                f"{c}: {info['pii_type']} ({100 * info['match_ratio']:.1f}% of values, "
                f"risk {info['risk_score']:.0f})",
            )
        )
    high = [c for c in pii_cols if columns[c]["risk_score"] >= 70]
    if high:
        result.alerts.append(
            Alert(
                ids.next("A"),
                "critical" if overall >= 90 else "high",
                "privacy",
                f"High-risk personal data in {len(high)} column(s): {', '.join(high[:10])}",
                len(high),
                "Mask, tokenise or remove these columns before sharing the data.",
            )
        )
    elif pii_cols:
        result.alerts.append(
            Alert(
                ids.next("A"),
                "medium",
                "privacy",
                f"Personal data in {len(pii_cols)} column(s): {', '.join(pii_cols[:10])}",
                len(pii_cols),
                "Restrict access and document a lawful basis.",
            )
        )
    if "PCI-DSS" in frameworks:
        result.recommendations.append(
            Recommendation(
                ids.next("R"),
                "high",
                f"Card numbers in {', '.join(by_type[pp.CREDIT_CARD])}: store only tokens or "
                "the last four digits (PCI-DSS).",
                "medium",
            )
        )
    if pii_cols:
        result.recommendations.append(
            Recommendation(
                ids.next("R"),
                "high" if high else "medium",
                "Declare the allowed PII columns, a classification and a retention period "
                "(governance-checker).",
                "low",
            )
        )
    status = {"critical": "critical", "high": "critical", "medium": "warning"}.get(
        level(overall), "good"
    )
    result.executive_summary = [
        SummaryItem("Overall PII risk", round(overall, 1), status),
        SummaryItem("PII columns", len(pii_cols), "warning" if pii_cols else "good"),
        SummaryItem("Frameworks affected", ", ".join(sorted(frameworks)) or "none", "info"),
    ]
    return result
