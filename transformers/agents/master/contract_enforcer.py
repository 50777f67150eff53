"""contract-enforcer: apply a data contract, or derive one from the data and report it.

Contract (JSON/YAML, from the ``contract`` file role)::

    {"renames": {"old": "new"},
     "columns": {"email": {"type": "string", "required": true, "unique": true,
                           "allowed_values": [...], "min": 0, "max": 10,
                           "pattern": "^...$", "rename_from": "e_mail"}}}

``columns`` may also be a list of objects with a ``name``. Types: string, integer, float,
boolean, date, datetime. A column is converted only when every non-null value converts; a
column with values that do not convert keeps its type and each failing value is reported with
its row id (never silently nulled). ``conversions`` counts only the cells that converted.
Violations (missing required column or value, allowed values, ranges, patterns, uniqueness)
are reported per row; rows are not removed. Without a contract one is derived (types,
required = no nulls, unique, ranges, allowed values of low-cardinality text) and reported in
``data["contract"]``; the agent never fails for lack of a contract.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from transformers.agents.master._common import DATE_FORMATS, DATETIME_FORMATS
from transformers.contract import (
    ROW_ID,
    AgentContext,
    AgentResult,
    Alert,
    Change,
    ChangeKind,
    Issue,
    RowIssue,
    SummaryItem,
)
from transformers.errors import InvalidParametersError
from transformers.params.master import ContractEnforcerParams

AGENT_ID = "contract-enforcer"
TYPES: dict[str, Any] = {
    "string": pl.String,
    "integer": pl.Int64,
    "float": pl.Float64,
    "boolean": pl.Boolean,
    "date": pl.Date,
    "datetime": pl.Datetime("us"),
}
MAX_ALLOWED_DERIVED = 20


def _type_name(dtype: pl.DataType) -> str:
    if dtype.is_integer():
        return "integer"
    if dtype.is_float():
        return "float"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype == pl.Date:
        return "date"
    if dtype.is_temporal():
        return "datetime"
    return "string"


def derive(frame: pl.DataFrame) -> dict[str, Any]:
    cols: dict[str, Any] = {}
    n = frame.height
    for c in frame.columns:
        if c == ROW_ID:
            continue
        s = frame[c]
        spec: dict[str, Any] = {
            "type": _type_name(s.dtype),
            "required": n > 0 and s.null_count() == 0,
        }
        nn = s.drop_nulls()
        if nn.len() and (s.dtype.is_numeric() or s.dtype.is_temporal()):
            spec["min"], spec["max"] = nn.min(), nn.max()
        if nn.len():
            distinct = nn.n_unique()
            spec["unique"] = distinct == nn.len() and s.null_count() == 0 and n > 1
            if (
                s.dtype == pl.String
                and distinct <= MAX_ALLOWED_DERIVED
                and nn.len() >= 5 * distinct
            ):
                spec["allowed_values"] = sorted(nn.unique().to_list())
        cols[c] = spec
    return {"columns": cols, "derived": True}


def _normalise_contract(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise InvalidParametersError(f"{AGENT_ID}: the contract must be an object")
    columns = doc.get("columns", {})
    if isinstance(columns, list):
        columns = {c["name"]: c for c in columns if isinstance(c, dict) and "name" in c}
    if not isinstance(columns, dict):
        raise InvalidParametersError(f"{AGENT_ID}: contract 'columns' must be an object or list")
    return {"columns": columns, "renames": dict(doc.get("renames", {}) or {})}


def _convert(s: pl.Series, target: str) -> pl.Series:
    if target == "date" and s.dtype == pl.String:
        txt = s.str.strip_chars()
        return pl.select(
            pl.coalesce([txt.str.to_date(f, strict=False) for f in DATE_FORMATS])
        ).to_series()
    if target == "datetime" and s.dtype == pl.String:
        txt = s.str.strip_chars()
        return pl.select(
            pl.coalesce(
                [
                    txt.str.to_datetime(f, strict=False, time_unit="us")
                    for f in DATETIME_FORMATS
                    if "%z" not in f
                ]
            )
        ).to_series()
    if target == "boolean" and s.dtype == pl.String:
        m = {
            "true": True,
            "false": False,
            "yes": True,
            "no": False,
            "1": True,
            "0": False,
            "y": True,
            "n": False,
            "t": True,
            "f": False,
        }
        return (
            s.str.strip_chars()
            .str.to_lowercase()
            .replace_strict(m, default=None, return_dtype=pl.Boolean)
        )
    if target == "integer" and s.dtype == pl.String:
        f = s.str.strip_chars().cast(pl.Float64, strict=False)
        ok = f.is_not_null() & (f == f.floor())
        return pl.select(pl.when(ok).then(f).otherwise(None).cast(pl.Int64)).to_series()
    return s.cast(TYPES[target], strict=False)


def run(frame: pl.DataFrame, params: ContractEnforcerParams, ctx: AgentContext) -> AgentResult:
    p: ContractEnforcerParams = params
    doc = ctx.documents.get("contract")
    derived = doc is None
    if derived:
        contract = derive(frame)
        if not p.derive_if_missing:
            return AgentResult(
                agent_id=AGENT_ID,
                data={"contract": None, "derived": False},
                alerts=[
                    Alert("no-contract", "info", "contract", "No contract given; nothing enforced.")
                ],
            )
        return AgentResult(
            agent_id=AGENT_ID,
            summary_metrics={
                "columns": len(contract["columns"]),
                "violations": 0,
                "conversions": 0,
                "contract_derived": 1,
            },
            data={"contract": contract, "derived": True},
            alerts=[
                Alert(
                    "contract-derived",
                    "info",
                    "contract",
                    "No contract was given: one was derived from the data (see data.contract).",
                    0,
                    "Review the derived contract and upload it as the contract file.",
                )
            ],
            executive_summary=[SummaryItem("Contract", "derived from data", "info")],
            frame=frame,
        )
    contract = _normalise_contract(doc)
    out = frame
    changes: list[Change] = []
    row_issues: list[RowIssue] = []
    issues: list[Issue] = []
    renames: dict[str, str] = {}
    wanted = dict(contract["renames"])
    for name, spec in contract["columns"].items():
        if isinstance(spec, dict) and spec.get("rename_from"):
            wanted[str(spec["rename_from"])] = name
    for old, new in wanted.items():
        try:
            cur = ctx.resolve(old, out)
        except InvalidParametersError:
            continue
        if new in out.columns and new != cur:
            issues.append(
                Issue(
                    f"rename-{old}",
                    old,
                    "rename_conflict",
                    "medium",
                    f"Cannot rename '{old}' to '{new}': '{new}' exists",
                )
            )
            continue
        if cur != new:
            out = out.rename({cur: new})
            renames[cur] = new
            changes.append(
                Change(
                    ChangeKind.COLUMN_RENAMED,
                    AGENT_ID,
                    "contract_rename",
                    None,
                    new,
                    cur,
                    new,
                    "renamed by the contract",
                )
            )
    conversions = 0
    failed_conversions = 0
    violations = 0
    ids = out[ROW_ID]

    def flag(mask: pl.Series, col: str, kind: str, msg: str, sev: str = "medium") -> int:
        idx = mask.fill_null(False).arg_true()
        vals = out[col].gather(idx).to_list()
        for r, v in zip(ids.gather(idx).to_list(), vals, strict=True):
            row_issues.append(RowIssue(int(r), col, kind, sev, v, msg))
        return len(idx)

    for name, spec in contract["columns"].items():
        spec = spec if isinstance(spec, dict) else {}
        col = ctx.column_aliases.get(name, name)
        col = renames.get(col, col)
        if col not in out.columns:
            if spec.get("required"):
                violations += 1
                issues.append(
                    Issue(
                        f"missing-{name}",
                        name,
                        "missing_required_column",
                        "high",
                        f"Required column '{name}' is missing",
                    )
                )
            continue
        target = spec.get("type")
        if target and target not in TYPES:
            raise InvalidParametersError(f"{AGENT_ID}: unknown type '{target}' for '{name}'")
        if target and _type_name(out[col].dtype) != target:
            before = out[col]
            after = _convert(before, target)
            bad = before.is_not_null() & after.is_null()
            n_bad = int(bad.sum())
            if n_bad:
                failed_conversions += flag(
                    bad, col, "type_conversion_failed", f"value does not convert to {target}"
                )
            else:
                conversions += int(before.is_not_null().sum())
                out = out.with_columns(after.alias(col))
                changes.append(
                    Change(
                        ChangeKind.COLUMN_TYPE,
                        AGENT_ID,
                        "contract_type",
                        None,
                        col,
                        str(before.dtype),
                        str(after.dtype),
                        f"converted to {target}",
                    )
                )
        s = out[col]
        if spec.get("required"):
            violations += flag(
                s.is_null(), col, "missing_required_value", "required value missing", "high"
            )
        if spec.get("allowed_values") is not None:
            allowed = pl.Series(list(spec["allowed_values"])).cast(pl.String)
            violations += flag(
                s.is_not_null() & ~s.cast(pl.String).is_in(allowed.implode()),
                col,
                "value_not_allowed",
                "value not in allowed_values",
            )
        for bound, op in (("min", "lt"), ("max", "gt")):
            if spec.get(bound) is not None and (s.dtype.is_numeric() or s.dtype.is_temporal()):
                try:
                    lim = pl.Series([spec[bound]]).cast(s.dtype)[0]
                except Exception:
                    continue
                mask = (s < lim) if op == "lt" else (s > lim)
                word = "below" if op == "lt" else "above"
                msg = f"value {word} {bound} {spec[bound]}"
                violations += flag(mask, col, "out_of_range", msg)
        if spec.get("pattern"):
            pat = str(spec["pattern"])
            pat = (
                ("^" if not pat.startswith("^") else "")
                + pat
                + ("$" if not pat.endswith("$") else "")
            )
            txt = s.cast(pl.String)
            violations += flag(
                txt.is_not_null() & ~txt.str.contains(pat),
                col,
                "pattern_mismatch",
                f"value does not match {spec['pattern']}",
            )
        if spec.get("unique"):
            violations += flag(
                s.is_not_null() & s.is_duplicated(), col, "not_unique", "duplicate value"
            )
    if p.drop_unknown_columns:
        known = {
            renames.get(ctx.column_aliases.get(c, c), ctx.column_aliases.get(c, c))
            for c in contract["columns"]
        }
        drop = [c for c in out.columns if c != ROW_ID and c not in known]
        for c in drop:
            changes.append(
                Change(
                    ChangeKind.COLUMN_REMOVED,
                    AGENT_ID,
                    "contract_unknown_column",
                    None,
                    c,
                    c,
                    None,
                    "not in the contract",
                )
            )
        out = out.drop(drop)
    return AgentResult(
        agent_id=AGENT_ID,
        summary_metrics={
            "columns": len(contract["columns"]),
            "violations": violations,
            "conversions": conversions,
            "failed_conversions": failed_conversions,
            "renames": len(renames),
            "contract_derived": 0,
        },
        data={"contract": contract, "derived": False, "renames": renames},
        issues=issues,
        row_level_issues=row_issues,
        executive_summary=[
            SummaryItem("Contract violations", violations, "warning" if violations else "good")
        ],
        frame=out,
        changes=changes,
        renames=renames,
    )
