"""field-standardization: trim, collapse spaces, case, synonyms, units, ISO dates.

On text columns, in this order:

1. ``trim`` (leading/trailing white space) and ``collapse_spaces`` (runs of white space -> one
   space).
2. ``case_strategy`` (preserve | lower | upper | title), default ``preserve``. Applied to
   ``case_columns`` when given; otherwise to every text column EXCEPT e-mail-like and id-like
   columns (those are only changed when named in ``case_columns``).
3. ``synonyms`` {column: {variant: canonical}}: a value equal to a variant (ignoring case) is
   replaced by the canonical value.
4. ``units`` {column: {"to": "kg", "factors": {"g": 0.001, "lb": 0.453592}}}: values like
   ``500 g`` or ``1.2kg`` are converted to the target unit (a bare number is taken as already
   in it). When every present value converts, the column becomes Float64 (optionally renamed
   with ``"rename_to"``); otherwise the converted values are written ``"0.5 kg"`` and those
   that do not convert are kept and reported.
5. ``dates_to_iso``: a text column whose present values are dates in at least
   ``date_min_parse_ratio`` of cases is rewritten as ISO 8601 (``2024-01-31``); values that are
   not dates are kept and reported. (Columns where every value is a date were already typed by
   type-fixer; typed dates are ISO when written.)

Every changed cell is in the change log with the rule that changed it (``trim``,
``collapse_spaces``, ``case``, ``synonym``, ``unit``, ``date_iso``; several joined with ``+``).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from transformers.agents.clean._common import (
    DATE_SHAPE_RE,
    ChangeBuilder,
    count_kind,
    detect_day_first,
    is_email_like,
    is_id_like,
    missing_mask,
    parse_dates,
    resolve_all,
    row_issues,
    text_columns,
)
from transformers.contract import (
    ROW_ID,
    AgentContext,
    AgentResult,
    ChangeKind,
    Issue,
    RowIssue,
    SummaryItem,
)
from transformers.errors import InvalidParametersError
from transformers.params.clean import FieldStandardizationParams

AGENT_ID = "field-standardization"
_UNIT_RE = r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*([A-Za-zµ°%/]+)?$"


def _apply_case(s: Any, strategy: str) -> Any:
    """On a Series or an Expr."""
    if strategy == "lower":
        return s.str.to_lowercase()
    if strategy == "upper":
        return s.str.to_uppercase()
    if strategy == "title":
        return s.str.to_titlecase()
    return s


def _units(s: pl.Series, spec: dict[str, Any], column: str) -> tuple[pl.Series, pl.Series, bool]:
    """(new values, mask of values that did not convert, all converted?)."""
    target = spec.get("to")
    factors = spec.get("factors")
    if not isinstance(target, str) or not isinstance(factors, dict):
        raise InvalidParametersError(
            f"{AGENT_ID}: units['{column}'] needs 'to' (unit) and 'factors' {{unit: factor}}",
            details={"agent_id": AGENT_ID, "column": column},
        )
    table = {str(k).lower(): float(v) for k, v in factors.items()}
    table.setdefault(target.lower(), 1.0)
    parts = s.str.strip_chars().str.extract_groups(_UNIT_RE)
    number = parts.struct.field("1").cast(pl.Float64, strict=False)
    unit = parts.struct.field("2").str.to_lowercase()
    factor = unit.replace_strict(table, default=None, return_dtype=pl.Float64)
    factor = pl.select(
        pl.when(pl.lit(unit).is_null() & pl.lit(number).is_not_null())
        .then(1.0)
        .otherwise(pl.lit(factor))
    ).to_series()
    value = number * factor
    present = ~missing_mask(s)
    failed = present & value.is_null()
    if not bool(failed.any()):
        return value.alias(s.name), failed, True
    text = pl.select(
        pl.when(pl.lit(value).is_not_null())
        .then(pl.format("{} {}", pl.lit(value), pl.lit(target)))
        .otherwise(pl.lit(s))
    ).to_series()
    return text.alias(s.name), failed, False


def run(frame: pl.DataFrame, params: FieldStandardizationParams, ctx: AgentContext) -> AgentResult:
    result = AgentResult(agent_id=AGENT_ID)
    rid = frame[ROW_ID]
    changes = ChangeBuilder(AGENT_ID)
    issues: list[RowIssue] = []
    renames: dict[str, str] = {}
    new_cols: dict[str, pl.Series] = {}
    per_rule: dict[str, int] = {}

    case_cols: set[str]
    texts = text_columns(frame)
    if params.case_columns is not None:
        case_cols = set(resolve_all(ctx, params.case_columns, frame))
    elif params.case_strategy == "preserve":
        case_cols = set()
    else:
        case_cols = {
            c for c in texts if not is_email_like(c, frame[c]) and not is_id_like(c, frame[c])
        }
    synonyms = {ctx.resolve(c, frame): m for c, m in params.synonyms.items()}
    units = {ctx.resolve(c, frame): m for c, m in params.units.items()}

    # Batched pre-pass: skip the columns where no rule can change anything.
    def cheap(c: str) -> pl.Expr:
        e = pl.col(c)
        if params.trim:
            e = e.str.strip_chars()
        if params.collapse_spaces:
            e = e.str.replace_all(r"\s+", " ")
        if c in case_cols:
            e = _apply_case(e, params.case_strategy)  # type: ignore[arg-type]
        return e

    plain = [c for c in texts if c not in synonyms and c not in units]
    todo = set(texts) - set(plain)
    if plain and frame.height:
        flags = frame.select(
            [pl.col(c).ne_missing(cheap(c)).any().alias(f"x{i}") for i, c in enumerate(plain)]
            + [
                pl.col(c).str.contains(DATE_SHAPE_RE).mean().alias(f"d{i}")
                for i, c in enumerate(plain)
            ]
        ).row(0, named=True)
        for i, c in enumerate(plain):
            datey = params.dates_to_iso and (flags[f"d{i}"] or 0) >= params.date_min_parse_ratio / 2
            if flags[f"x{i}"] or datey:
                todo.add(c)

    for c in texts:
        if c not in todo:
            continue
        before = frame[c]
        cur = before
        steps: list[tuple[str, pl.Series]] = []  # (rule, value after the step)
        if params.trim:
            cur = cur.str.strip_chars()
            steps.append(("trim", cur))
        if params.collapse_spaces:
            cur = cur.str.replace_all(r"\s+", " ")
            steps.append(("collapse_spaces", cur))
        if params.case_strategy != "preserve" and c in case_cols:
            cur = _apply_case(cur, params.case_strategy)
            steps.append(("case", cur))
        if c in synonyms:
            table = {str(k).strip().lower(): str(v) for k, v in synonyms[c].items()}
            cur = cur.str.to_lowercase().replace_strict(table, default=cur, return_dtype=pl.String)
            steps.append(("synonym", cur))
        if c in units:
            cur, failed, _numeric = _units(cur, units[c], c)
            steps.append(("unit", cur))
            if bool(failed.any()):
                issues += row_issues(
                    rid.filter(failed),
                    before.filter(failed),
                    c,
                    "unit_not_converted",
                    "low",
                    f"value of '{c}' has no known unit; kept",
                )
        elif params.dates_to_iso:
            present = ~missing_mask(cur)
            n_present = int(present.sum())
            if n_present:
                looks_datey = cur.filter(present).str.contains(DATE_SHAPE_RE).mean()
                if isinstance(looks_datey, float) and looks_datey >= params.date_min_parse_ratio:
                    order = params.day_first
                    if order is None:
                        order = bool(detect_day_first(cur.filter(present)))
                    parsed = parse_dates(cur, order)
                    ok = int((parsed.is_not_null() & present).sum())
                    if ok / n_present >= params.date_min_parse_ratio:
                        iso = parsed.cast(pl.String)
                        cur = pl.select(pl.coalesce(pl.lit(iso), pl.lit(cur))).to_series()
                        steps.append(("date_iso", cur))
                        failed = present & parsed.is_null()
                        if bool(failed.any()):
                            issues += row_issues(
                                rid.filter(failed),
                                before.filter(failed),
                                c,
                                "not_a_date",
                                "low",
                                f"'{c}' holds dates; this value is not one and was kept",
                            )
        cur = cur.alias(c)
        if not steps:
            continue
        # Which rules changed each cell: compare consecutive steps.
        prev = before
        rule_parts: list[pl.Series] = []
        for rule, val in steps:
            changed = prev.cast(pl.String).ne_missing(val.cast(pl.String))
            per_rule[rule] = per_rule.get(rule, 0) + int(changed.sum())
            rule_parts.append(
                pl.select(pl.when(pl.lit(changed)).then(pl.lit(rule)).otherwise(None)).to_series()
            )
            prev = val
        rules = pl.select(pl.concat_str(rule_parts, separator="+", ignore_nulls=True)).to_series()
        changes.cells(rid, c, before, cur, rules, "standardised")
        if cur.dtype != before.dtype:
            changes.column(
                ChangeKind.COLUMN_TYPE, c, str(before.dtype), str(cur.dtype), "unit", "converted"
            )
        new_cols[c] = cur
        if c in units and cur.dtype != pl.String and units[c].get("rename_to"):
            renames[c] = str(units[c]["rename_to"])

    out = frame.with_columns(list(new_cols.values())) if new_cols else frame
    for old, new in renames.items():
        if new in out.columns:
            raise InvalidParametersError(
                f"{AGENT_ID}: cannot rename '{old}' to '{new}': that column exists",
                details={"agent_id": AGENT_ID, "column": old},
            )
        changes.column(ChangeKind.COLUMN_RENAMED, old, old, new, "unit", "unit in the name")
    if renames:
        out = out.rename(renames)
    built = changes.build()
    n_cells = count_kind(built, ChangeKind.CELL)
    result.frame = out
    result.changes = built
    result.renames = renames
    result.row_level_issues = issues
    result.data = {
        "changes_by_rule": per_rule,
        "case_columns": sorted(case_cols) if params.case_strategy != "preserve" else [],
    }
    result.summary_metrics = {"cells_changed": n_cells, "text_columns": len(texts)}
    result.executive_summary = [SummaryItem("Cells standardised", n_cells, "info")]
    if issues:
        result.issues.append(
            Issue(
                "field-standardization-kept",
                None,
                "values_kept",
                "low",
                f"{len(issues)} value(s) could not be standardised and were kept",
            )
        )
    return result
