"""quarantine-agent: moves rows that break declared rules into ``quarantine.csv``.

Rules (each row gets every reason that applies, joined with ``; ``):

- ``required_fields``: the value is null, blank or a missing token (``missing_tokens``).
- ``expected_schema`` {column: type}: a present value does not parse as the type. Types:
  integer/int, number/float/numeric/decimal/double (thousands separators and currency symbols
  allowed, since type-fixer converts them), boolean/bool, date/datetime (either day/month order
  unless ``day_first``), email, string/text (anything).
- ``range_constraints`` {column: {min, max}}: a present value is not a number or lies outside.
- ``format_constraints`` {column: regex}: a present value does not fully match (anchored at
  both ends).
- empty rows (``quarantine_empty_rows``): every data column missing.
- injection (``detect_injection``): SQL (``' OR 1=1``, ``; DROP TABLE``, ``UNION SELECT``,
  ``'--``), script (``<script``, ``javascript:``, ``onerror=``) and spreadsheet formula
  (``=HYPERLINK(``, ``@SUM(``, ``=cmd|``) patterns. The patterns need the syntax around the
  keyword, so ordinary text ("please update my address", "I'd like to drop by") is not flagged.

Missing values pass every rule except ``required_fields`` (null-handler deals with them).
Quarantined rows leave the frame (row order of the rest unchanged) and are listed in the change
log (kind ``row_quarantined``, ``before`` = the row) and in ``quarantine.csv`` with
``__row_id__``, the row's values and ``quarantine_reason``.
"""

from __future__ import annotations

import re

import polars as pl

from transformers.agents.clean._common import (
    EMAIL_RE,
    ChangeBuilder,
    data_columns,
    missing_expr,
    missing_mask,
    parse_bool,
    parse_dates,
    parse_datetimes,
    parse_numbers,
    text_columns,
)
from transformers.contract import (
    ROW_ID,
    AgentContext,
    AgentResult,
    Alert,
    ChangeKind,
    Issue,
    OutputFile,
    SummaryItem,
)
from transformers.errors import InvalidParametersError
from transformers.params.clean import QuarantineParams

AGENT_ID = "quarantine-agent"

INJECTION_PATTERNS: dict[str, str] = {
    "sql": (
        r"(?i)(?:['\"]\s*(?:or|and)\s+(?:['\"]?\d+['\"]?\s*(?:=|<|>)\s*['\"]?\d+"
        r"|['\"]\w*['\"]\s*(?:=|like)\s*['\"]\w*|true\b)"
        r"|;\s*(?:drop|truncate|alter)\s+(?:table|database|schema)\b"
        r"|;\s*(?:delete\s+from|insert\s+into|shutdown|exec\b|execute\b)"
        r"|;\s*update\s+\w+\s+set\s+\w+\s*="
        r"|\bunion\s+(?:all\s+)?select\b"
        r"|\bdrop\s+table\s+\w+"
        r"|['\"]\s*;?\s*--"
        r"|\bexec(?:ute)?\s+xp_\w+"
        r"|\bwaitfor\s+delay\s+'"
        r"|\b(?:sleep|benchmark|pg_sleep)\s*\(\s*\d+"
        r"|/\*.*\*/\s*(?:or|and|union|select)\b)"
    ),
    "script": (
        r"(?i)(?:<\s*/?\s*(?:script|iframe|object|embed|svg|img)\b[^>]*>?"
        r"|javascript\s*:|vbscript\s*:"
        r"|\bon(?:error|load|click|mouseover|focus|submit)\s*=)"
    ),
    "formula": (
        r"(?i)(?:^\s*=\s*[A-Za-z_][A-Za-z0-9_.]*\s*\("
        r"|^\s*[+\-@]\s*[A-Za-z_][A-Za-z0-9_.]*\("
        r"|^\s*[=+\-@].*\bcmd\s*\|"
        r"|^\s*=\s*['\"A-Za-z0-9$]"
        r"|^\s*=\s*[+\-]?\d+\s*[+\-*/]\s*\d)"
    ),
}

_ANY_INJECTION = "|".join(f"(?:{p})" for p in INJECTION_PATTERNS.values())
_NUMBER_TYPES = {"number", "float", "numeric", "decimal", "double", "real"}
_INT_TYPES = {"integer", "int", "int64", "int32", "bigint"}
_BOOL_TYPES = {"boolean", "bool"}
_DATE_TYPES = {"date", "datetime", "timestamp"}
_TEXT_TYPES = {"string", "str", "text", "varchar", "any"}


def _type_ok(s: pl.Series, type_name: str, day_first: bool | None) -> pl.Series:
    """True where the (present) value parses as ``type_name``."""
    t = type_name.strip().lower()
    if s.dtype != pl.String:
        base = s.dtype
        if t in _TEXT_TYPES:
            return pl.Series([True] * s.len(), dtype=pl.Boolean)
        if t in _INT_TYPES:
            return pl.Series([base.is_integer()] * s.len(), dtype=pl.Boolean)
        if t in _NUMBER_TYPES:
            return pl.Series([base.is_numeric()] * s.len(), dtype=pl.Boolean)
        if t in _BOOL_TYPES:
            return pl.Series([base == pl.Boolean] * s.len(), dtype=pl.Boolean)
        if t in _DATE_TYPES:
            return pl.Series([base.is_temporal()] * s.len(), dtype=pl.Boolean)
        s = s.cast(pl.String)
    if t in _TEXT_TYPES:
        return pl.Series([True] * s.len(), dtype=pl.Boolean)
    if t in _INT_TYPES:
        num, _, _ = parse_numbers(s)
        return num.is_not_null() & (num == num.round(0)).fill_null(False)
    if t in _NUMBER_TYPES:
        return parse_numbers(s)[0].is_not_null()
    if t in _BOOL_TYPES:
        return parse_bool(s).is_not_null()
    if t in _DATE_TYPES:
        orders = [day_first] if day_first is not None else [True, False]
        ok = parse_datetimes(s).is_not_null()
        for order in orders:
            ok = ok | parse_dates(s, order).is_not_null()
        return ok
    if t == "email":
        return s.str.strip_chars().str.contains(EMAIL_RE).fill_null(False)
    raise InvalidParametersError(
        f"{AGENT_ID}: expected_schema type '{type_name}' is not supported",
        details={"agent_id": AGENT_ID, "type": type_name},
    )


def _fullmatch(s: pl.Series, pattern: str, column: str) -> pl.Series:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise InvalidParametersError(
            f"{AGENT_ID}: format_constraints['{column}'] is not a valid regex: {exc}",
            details={"agent_id": AGENT_ID, "column": column},
        ) from None
    text = s if s.dtype == pl.String else s.cast(pl.String)
    try:
        return text.str.contains(f"^(?:{pattern})$").fill_null(False)
    except Exception:  # a Python-only construct (look-around...): fall back to re.fullmatch
        rx = re.compile(pattern)
        return pl.Series(
            [v is not None and rx.fullmatch(v) is not None for v in text.to_list()],
            dtype=pl.Boolean,
        )


def run(frame: pl.DataFrame, params: QuarantineParams, ctx: AgentContext) -> AgentResult:
    result = AgentResult(agent_id=AGENT_ID)
    n = frame.height
    reasons: list[pl.Series] = []  # String series: reason or null
    counts: dict[str, int] = {}

    def add(rule: str, bad: pl.Series, text: str) -> None:
        bad = bad.fill_null(False)
        k = int(bad.sum())
        counts[rule] = counts.get(rule, 0) + k
        if k:
            reasons.append(
                pl.select(pl.when(pl.lit(bad)).then(pl.lit(text)).otherwise(None)).to_series()
            )

    missing_cache: dict[str, pl.Series] = {}

    def missing(col: str) -> pl.Series:
        if col not in missing_cache:
            missing_cache[col] = missing_mask(frame[col], params.missing_tokens)
        return missing_cache[col]

    for col in params.required_fields:
        c = ctx.resolve(col, frame)
        add("required_fields", missing(c), f"required field '{c}' is missing")
    for col, type_name in params.expected_schema.items():
        c = ctx.resolve(col, frame)
        ok = _type_ok(frame[c], type_name, params.day_first)
        add("expected_schema", ~missing(c) & ~ok, f"'{c}' is not a valid {type_name}")
    for col, bounds in params.range_constraints.items():
        c = ctx.resolve(col, frame)
        unknown = set(bounds) - {"min", "max"}
        if unknown:
            raise InvalidParametersError(
                f"{AGENT_ID}: range_constraints['{col}'] accepts min and max, not "
                + ", ".join(sorted(unknown)),
                details={"agent_id": AGENT_ID, "column": col},
            )
        s = frame[c]
        num = s.cast(pl.Float64) if s.dtype.is_numeric() else parse_numbers(s.cast(pl.String))[0]
        present = ~missing(c)
        add("range_constraints", present & num.is_null(), f"'{c}' is not a number")
        if "min" in bounds:
            add("range_constraints", num < bounds["min"], f"'{c}' is below {bounds['min']:g}")
        if "max" in bounds:
            add("range_constraints", num > bounds["max"], f"'{c}' is above {bounds['max']:g}")
    for col, pattern in params.format_constraints.items():
        c = ctx.resolve(col, frame)
        ok = _fullmatch(frame[c], pattern, c)
        add("format_constraints", ~missing(c) & ~ok, f"'{c}' does not match {pattern}")
    cols = data_columns(frame)
    if params.quarantine_empty_rows and cols and n:
        # An empty row has every column missing: the other columns are only tested on the
        # rows where one column (already known missing for required_fields, if any) is.
        schema = frame.schema
        first = next((c for c in cols if c in missing_cache), cols[0])
        at = missing(first).arg_true()
        empty = pl.repeat(False, n, dtype=pl.Boolean, eager=True)
        if at.len():
            sub = (
                frame[at]
                .select(
                    pl.all_horizontal(
                        [missing_expr(c, schema[c], params.missing_tokens) for c in cols]
                    )
                )
                .to_series()
            )
            empty = empty.scatter(at.filter(sub), True)
        add("empty_row", empty, "the row is empty")
    texts = text_columns(frame)
    if params.detect_injection and texts and n:
        # one scan per column with all patterns; the kinds only where something was found
        hits = frame.select(
            [pl.col(c).str.contains(_ANY_INJECTION).fill_null(False).any() for c in texts]
        ).row(0, named=True)
        for c, hit in hits.items():
            if not hit:
                continue
            for kind, pattern in INJECTION_PATTERNS.items():
                add(
                    "injection",
                    frame[c].str.contains(pattern),
                    f"'{c}' looks like {kind} injection",
                )

    if reasons:
        reason = pl.select(pl.concat_str(reasons, separator="; ", ignore_nulls=True)).to_series()
        bad = reason.is_not_null() & (reason != "")
    else:
        reason = pl.Series([None] * n, dtype=pl.String)
        bad = pl.Series([False] * n, dtype=pl.Boolean)
    quarantined = frame.filter(bad)
    kept = frame.filter(~bad)
    q_reason = reason.filter(bad)

    changes = ChangeBuilder(AGENT_ID)
    changes.rows(ChangeKind.ROW_QUARANTINED, quarantined, "quarantine", q_reason)
    path = ctx.work_dir / "quarantine.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    out = quarantined.with_columns(q_reason.alias("quarantine_reason"))
    out = out.with_columns(
        [pl.col(c).cast(pl.String) for c, t in out.schema.items() if t.is_nested()]
    )
    out.write_csv(path)
    result.outputs.append(OutputFile("quarantine.csv", path, "quarantine", "text/csv"))
    result.frame = kept
    result.changes = changes.build()
    result.data = {
        "quarantined_rows": quarantined.height,
        "violations_by_rule": counts,
        "quarantined_row_ids": quarantined[ROW_ID].head(1000).to_list(),
    }
    result.summary_metrics = {
        "rows_in": n,
        "rows_quarantined": quarantined.height,
        "rows_kept": kept.height,
        **{f"violations_{k}": v for k, v in counts.items()},
    }
    result.executive_summary = [
        SummaryItem(
            "Rows quarantined",
            quarantined.height,
            "warning" if quarantined.height else "good",
        )
    ]
    for rule, k in counts.items():
        if k:
            result.issues.append(
                Issue(
                    f"quarantine-{rule}",
                    None,
                    rule,
                    "high" if rule == "injection" else "medium",
                    f"{k} violation(s) of {rule}",
                )
            )
    if counts.get("injection"):
        result.alerts.append(
            Alert(
                "quarantine-injection",
                "high",
                "security",
                f"{counts['injection']} value(s) look like SQL/script/formula injection and "
                "were quarantined",
                recommendation="Review quarantine.csv before loading these rows anywhere.",
            )
        )
    return result
