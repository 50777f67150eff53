"""Which tool to run next, by a small documented rule table over signals computed from findings.

Signals (all computed from the agents' results, whatever agent produced them):

- ``duplicate_rate``: the largest summary metric whose name mentions duplicates and a rate
  (``duplicate_rate``, ``duplicate_row_pct``, ...; ``*_pct``/``*_percent`` and values above 1 are
  read as percentages), else duplicate row-level issues / rows.
- ``duplicate_findings``: alerts and issues of severity medium or above whose category, issue
  type or id mentions ``duplicate``.
- ``quality_findings``: alerts and issues of severity medium or above about nulls / missing
  values / completeness, types / formats / parsing, or outliers.
- ``quality_severe``: one of those is high or critical, or the dataset grade is D or F.
- ``null_rate``: the largest summary metric naming nulls or missing values and a rate.
- ``changes``: the number of change-log entries (cells changed, rows removed...).

Rules, first match wins (``RULES``); no rule → ``None`` (nothing warrants another tool):

1. ``duplicates`` — after profile-my-data: duplicate_rate ≥ 5% or duplicate_findings ≥ 1
   → master-my-data (consolidate duplicated entities into golden records).
2. ``data-quality`` — after profile-my-data or master-my-data: quality_severe, or
   quality_findings ≥ 3, or null_rate ≥ 10% → clean-my-data.
3. ``verify-clean`` — after clean-my-data that changed data → profile-my-data (verify it).
4. ``entities-after-clean`` — after clean-my-data that changed nothing but found duplicates
   → master-my-data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from transformers.contract import AgentResult, AgentStatus

DUPLICATE_RATE_THRESHOLD = 0.05
NULL_RATE_THRESHOLD = 0.10
MIN_QUALITY_FINDINGS = 3
_SEVERE = {"high", "critical"}
_COUNTED = {"medium", "high", "critical"}

_QUALITY_WORDS = re.compile(
    r"null|missing|complete|empty|type|format|pars|invalid|outlier|anomal", re.IGNORECASE
)
_DUP_WORDS = re.compile(r"duplicat", re.IGNORECASE)
_RATE_WORDS = re.compile(r"rate|ratio|pct|percent|share|fraction", re.IGNORECASE)


@dataclass
class Signals:
    tool_id: str
    rows: int
    duplicate_rate: float
    duplicate_findings: int
    quality_findings: int
    quality_severe: bool
    null_rate: float
    changes: int
    grade: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _as_fraction(key: str, value: float) -> float:
    if re.search(r"pct|percent", key, re.IGNORECASE) or value > 1:
        return value / 100.0
    return value


def _max_rate(results: list[AgentResult], words: re.Pattern[str]) -> float:
    best = 0.0
    for r in results:
        for key, value in r.summary_metrics.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if words.search(key) and _RATE_WORDS.search(key):
                best = max(best, _as_fraction(key, float(value)))
    return best


def compute_signals(
    tool_id: str, results: list[AgentResult], rows: int, grade: str | None
) -> Signals:
    ok = [r for r in results if r.status == AgentStatus.SUCCESS]
    dup_findings = 0
    quality = 0
    severe = False
    for r in ok:
        for text, severity in [(f"{a.id} {a.category}", a.severity) for a in r.alerts] + [
            (f"{i.id} {i.issue_type}", i.severity) for i in r.issues
        ]:
            sev = str(severity).lower()
            if sev not in _COUNTED:
                continue
            if _DUP_WORDS.search(text):
                dup_findings += 1
            elif _QUALITY_WORDS.search(text):
                quality += 1
                severe = severe or sev in _SEVERE
    dup_rate = _max_rate(ok, _DUP_WORDS)
    if not dup_rate and rows:
        dup_rows = {
            ri.row_id for r in ok for ri in r.row_level_issues if _DUP_WORDS.search(ri.issue_type)
        }
        dup_rate = len(dup_rows) / rows
    if grade is not None and grade.upper()[:1] in ("D", "F"):
        severe = True
    return Signals(
        tool_id=tool_id,
        rows=rows,
        duplicate_rate=dup_rate,
        duplicate_findings=dup_findings,
        quality_findings=quality,
        quality_severe=severe,
        null_rate=_max_rate(ok, re.compile(r"null|missing", re.IGNORECASE)),
        changes=sum(len(r.changes) for r in ok),
        grade=grade,
    )


@dataclass(frozen=True)
class Rule:
    rule_id: str
    after: tuple[str, ...]
    next_tool: str
    when: Callable[[Signals], bool]
    reason: Callable[[Signals], str]


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


RULES: tuple[Rule, ...] = (
    Rule(
        "duplicates",
        ("profile-my-data",),
        "master-my-data",
        lambda s: s.duplicate_rate >= DUPLICATE_RATE_THRESHOLD or s.duplicate_findings >= 1,
        lambda s: (
            f"{_pct(s.duplicate_rate)} of rows look duplicated and {s.duplicate_findings} "
            "duplicate finding(s) were reported: consolidate them into golden records"
        ),
    ),
    Rule(
        "data-quality",
        ("profile-my-data", "master-my-data"),
        "clean-my-data",
        lambda s: (
            s.quality_severe
            or s.quality_findings >= MIN_QUALITY_FINDINGS
            or s.null_rate >= NULL_RATE_THRESHOLD
        ),
        lambda s: (
            f"{s.quality_findings} finding(s) about missing values, types, formats or "
            f"outliers (highest null rate {_pct(s.null_rate)}"
            + (f", grade {s.grade}" if s.grade else "")
            + "): clean the data"
        ),
    ),
    Rule(
        "verify-clean",
        ("clean-my-data",),
        "profile-my-data",
        lambda s: s.changes > 0,
        lambda s: f"{s.changes} change(s) were applied: profile the cleaned data to verify it",
    ),
    Rule(
        "entities-after-clean",
        ("clean-my-data",),
        "master-my-data",
        lambda s: s.duplicate_findings >= 1,
        lambda s: (
            f"{s.duplicate_findings} duplicate finding(s) remain: resolve entities into "
            "golden records"
        ),
    ),
)


def recommend_next_tool(signals: Signals) -> dict[str, Any] | None:
    """``{tool_id, reason, rule}`` of the first matching rule, or None."""
    for rule in RULES:
        if signals.tool_id in rule.after and rule.when(signals):
            return {"tool_id": rule.next_tool, "reason": rule.reason(signals), "rule": rule.rule_id}
    return None
