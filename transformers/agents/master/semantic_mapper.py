"""semantic-mapper: column names -> canonical vocabulary, by name similarity and value patterns.

Score of (column, canonical) = the best rapidfuzz ``ratio`` between the column's normalised
name and the canonical name's synonyms (0-100). A candidate whose canonical has a value
detector must also have its values match (>= 50% of a sample), so ``mail_count`` full of
integers is not an ``email``; a column whose values are unmistakably emails (>= 90%) maps to
``email`` whatever its name. Assignment is one-to-one, best score first: two columns never map
to one name, and a name already used by a column that stays keeps it.

Value standardisation (``standardize_values``) only where the column's values match the
domain (>= 80% of distinct non-null values recognised): country -> ISO 3166 alpha-2, gender ->
M/F/X, yes/no text -> booleans, status -> lower-case canonical words. Unrecognised values are
kept as they are; every changed cell is in the change log.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl
from rapidfuzz import fuzz

from transformers.agents.master._common import (
    DATE_RE,
    EMAIL_RE,
    PHONE_RE,
    SSN_RE,
    VOCABULARY,
    normalise_name,
)
from transformers.contract import (
    ROW_ID,
    AgentContext,
    AgentResult,
    Change,
    ChangeKind,
    Issue,
    SummaryItem,
)
from transformers.errors import InvalidParametersError
from transformers.params.master import SemanticMapperParams

AGENT_ID = "semantic-mapper"
SAMPLE = 2000

COUNTRIES: dict[str, str] = {
    "australia": "AU",
    "aus": "AU",
    "au": "AU",
    "united states": "US",
    "usa": "US",
    "us": "US",
    "united states of america": "US",
    "america": "US",
    "united kingdom": "GB",
    "uk": "GB",
    "gb": "GB",
    "gbr": "GB",
    "great britain": "GB",
    "england": "GB",
    "canada": "CA",
    "can": "CA",
    "ca": "CA",
    "germany": "DE",
    "deutschland": "DE",
    "deu": "DE",
    "de": "DE",
    "france": "FR",
    "fra": "FR",
    "fr": "FR",
    "spain": "ES",
    "esp": "ES",
    "es": "ES",
    "italy": "IT",
    "ita": "IT",
    "it": "IT",
    "netherlands": "NL",
    "nld": "NL",
    "nl": "NL",
    "new zealand": "NZ",
    "nzl": "NZ",
    "nz": "NZ",
    "ireland": "IE",
    "irl": "IE",
    "ie": "IE",
    "india": "IN",
    "ind": "IN",
    "in": "IN",
    "china": "CN",
    "chn": "CN",
    "cn": "CN",
    "japan": "JP",
    "jpn": "JP",
    "jp": "JP",
    "brazil": "BR",
    "bra": "BR",
    "br": "BR",
    "mexico": "MX",
    "mex": "MX",
    "mx": "MX",
    "switzerland": "CH",
    "che": "CH",
    "ch": "CH",
    "sweden": "SE",
    "swe": "SE",
    "se": "SE",
    "norway": "NO",
    "nor": "NO",
    "no": "NO",
    "denmark": "DK",
    "dnk": "DK",
    "dk": "DK",
    "belgium": "BE",
    "bel": "BE",
    "be": "BE",
    "austria": "AT",
    "aut": "AT",
    "at": "AT",
    "portugal": "PT",
    "prt": "PT",
    "pt": "PT",
    "poland": "PL",
    "pol": "PL",
    "pl": "PL",
    "south africa": "ZA",
    "zaf": "ZA",
    "za": "ZA",
    "singapore": "SG",
    "sgp": "SG",
    "sg": "SG",
}
GENDERS = {
    "m": "M",
    "male": "M",
    "man": "M",
    "f": "F",
    "female": "F",
    "woman": "F",
    "x": "X",
    "other": "X",
    "non-binary": "X",
    "nonbinary": "X",
}
BOOLEANS = {
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "y": True,
    "n": False,
    "t": True,
    "f": False,
    "1": True,
    "0": False,
}
STATUSES = {
    "active": "active",
    "act": "active",
    "enabled": "active",
    "inactive": "inactive",
    "disabled": "inactive",
    "closed": "closed",
    "pending": "pending",
    "suspended": "suspended",
    "deleted": "deleted",
}


def _share(values: list[str], pattern: re.Pattern[str]) -> float:
    return sum(1 for v in values if pattern.match(v)) / len(values) if values else 0.0


def _value_score(canonical: str, values: list[str]) -> float | None:
    """Share of sampled values fitting the canonical's domain; None = no detector."""
    if not values:
        return None
    if canonical == "email":
        return _share(values, EMAIL_RE)
    if canonical == "phone":
        return sum(
            1
            for v in values
            if PHONE_RE.match(v) and not DATE_RE.match(v) and len(re.sub(r"\D", "", v)) >= 7
        ) / len(values)
    if canonical == "date_of_birth":
        return _share(values, DATE_RE)
    if canonical == "national_id":
        return _share(values, SSN_RE)
    if canonical == "gender":
        return sum(1 for v in values if v.lower() in GENDERS) / len(values)
    if canonical == "country":
        return sum(1 for v in values if v.lower() in COUNTRIES) / len(values)
    if canonical in ("given_name", "surname", "city"):
        return sum(1 for v in values if not any(ch.isdigit() for ch in v)) / len(values)
    return None


def _sample(series: pl.Series) -> list[str]:
    s = series.drop_nulls()
    if s.len() > SAMPLE:
        s = s.sample(SAMPLE, seed=0)
    if s.dtype.is_temporal():
        return ["2000-01-01"] * s.len()  # a real date type is date-like by construction
    return [str(v).strip() for v in s.to_list() if str(v).strip()]


def propose(frame: pl.DataFrame, threshold: float) -> list[tuple[float, str, str, str]]:
    """All (score, column, canonical, evidence) candidates above the threshold."""
    out: list[tuple[float, str, str, str]] = []
    for col in frame.columns:
        if col == ROW_ID:
            continue
        norm = normalise_name(col)
        values: list[str] | None = None
        for canonical, synonyms in VOCABULARY.items():
            name_score = max(fuzz.ratio(norm, s) for s in (canonical, *synonyms))
            if name_score >= threshold:
                values = values if values is not None else _sample(frame[col])
                vs = _value_score(canonical, values)
                if vs is not None and vs < 0.5:
                    continue
                out.append((name_score, col, canonical, "name"))
        if normalise_name(col) not in VOCABULARY:
            values = values if values is not None else _sample(frame[col])
            if frame[col].dtype == pl.String and _share(values, EMAIL_RE) >= 0.9:
                out.append((threshold - 0.5, col, "email", "values"))
    return out


def assign(
    frame: pl.DataFrame, threshold: float, explicit: dict[str, str]
) -> dict[str, tuple[str, float, str]]:
    """One-to-one mapping column -> (canonical, score, evidence)."""
    targets: dict[str, str] = {}
    result: dict[str, tuple[str, float, str]] = {}
    for col, canonical in explicit.items():
        if canonical in targets:
            raise InvalidParametersError(
                f"{AGENT_ID}: columns '{targets[canonical]}' and '{col}' both map to '{canonical}'",
                details={"canonical": canonical, "columns": [targets[canonical], col]},
            )
        targets[canonical] = col
        result[col] = (canonical, 100.0, "explicit")
    # A column already named canonically keeps its name and its canonical.
    for col in frame.columns:
        norm = normalise_name(col)
        if col not in result and norm in VOCABULARY and norm not in targets:
            targets[norm] = col
            result[col] = (norm, 100.0, "name")
    for score, col, canonical, evidence in sorted(propose(frame, threshold), key=lambda t: -t[0]):
        if col in result or canonical in targets:
            continue
        targets[canonical] = col
        result[col] = (canonical, score, evidence)
    return result


def _standardise(series: pl.Series, canonical: str, col: str) -> tuple[pl.Series, str | None]:
    """(new series, domain) when the column's values fit a domain, else (series, None)."""
    if series.dtype != pl.String:
        return series, None
    distinct = [v for v in series.drop_nulls().unique().to_list() if v.strip()]
    if not distinct:
        return series, None
    low = {v: v.strip().lower() for v in distinct}
    table: dict[str, Any] | None = None
    domain = None
    if canonical == "country":
        table, domain = COUNTRIES, "country"
    elif canonical == "gender":
        table, domain = GENDERS, "gender"
    elif canonical == "status":
        table, domain = STATUSES, "status"
    elif all(v in BOOLEANS for v in low.values()) and len(set(low.values())) <= 4:
        table, domain = BOOLEANS, "boolean"
    if table is None:
        return series, None
    known = sum(1 for v in low.values() if v in table)
    if known / len(distinct) < 0.8:
        return series, None
    mapping = {v: table[low[v]] for v in distinct if low[v] in table}
    if domain == "boolean":
        if known != len(distinct):
            return series, None
        return series.replace_strict(mapping, default=None, return_dtype=pl.Boolean), domain
    return series.replace(mapping), domain


def run(frame: pl.DataFrame, params: SemanticMapperParams, ctx: AgentContext) -> AgentResult:
    p: SemanticMapperParams = params
    explicit = {ctx.resolve(c, frame): t for c, t in p.mapping.items()}
    mapping = assign(frame, p.name_similarity_threshold, explicit)
    renames = {c: m[0] for c, m in mapping.items() if m[0] != c}
    # A rename must not collide with a column that keeps its name.
    kept = set(frame.columns) - set(renames)
    renames = {c: t for c, t in renames.items() if t not in kept}
    out = frame.rename(renames)
    changes: list[Change] = [
        Change(
            kind=ChangeKind.COLUMN_RENAMED,
            agent_id=AGENT_ID,
            rule="canonical_name",
            column=new,
            before=old,
            after=new,
            reason=f"mapped by {mapping[old][2]} (score {mapping[old][1]:.0f})",
        )
        for old, new in renames.items()
    ]
    standardised: dict[str, dict[str, Any]] = {}
    if p.standardize_values:
        for col in out.columns:
            if col == ROW_ID:
                continue
            canonical = normalise_name(col)
            before = out[col]
            after, domain = _standardise(before, canonical, col)
            if domain is None:
                continue
            diff = (before.cast(pl.String) != after.cast(pl.String)).fill_null(False)
            if not diff.any():
                continue
            idx = diff.arg_true()
            rows = out[ROW_ID].gather(idx).to_list()
            olds = before.gather(idx).to_list()
            news = after.gather(idx).to_list()
            changes += [
                Change(
                    kind=ChangeKind.CELL,
                    agent_id=AGENT_ID,
                    rule=f"standardise_{domain}",
                    row_id=r,
                    column=col,
                    before=o,
                    after=nv,
                    reason=f"{domain} value standardised",
                )
                for r, o, nv in zip(rows, olds, news, strict=True)
            ]
            if after.dtype != before.dtype:
                changes.append(
                    Change(
                        ChangeKind.COLUMN_TYPE,
                        AGENT_ID,
                        f"standardise_{domain}",
                        None,
                        col,
                        str(before.dtype),
                        str(after.dtype),
                        "domain values typed",
                    )
                )
            out = out.with_columns(after.alias(col))
            standardised[col] = {"domain": domain, "cells_changed": len(rows)}
    unmapped = [c for c in frame.columns if c != ROW_ID and c not in mapping]
    return AgentResult(
        agent_id=AGENT_ID,
        summary_metrics={
            "columns": len(frame.columns) - (1 if ROW_ID in frame.columns else 0),
            "mapped": len(mapping),
            "renamed": len(renames),
            "unmapped": len(unmapped),
            "cells_standardised": sum(s["cells_changed"] for s in standardised.values()),
        },
        data={
            "mapping": {
                c: {"canonical": m[0], "score": round(m[1], 1), "evidence": m[2]}
                for c, m in mapping.items()
            },
            "renames": renames,
            "unmapped": unmapped[:200],
            "standardised": standardised,
        },
        issues=[
            Issue(f"unmapped-{i}", c, "unmapped_column", "info", "No canonical name matched")
            for i, c in enumerate(unmapped[:50])
        ],
        executive_summary=[
            SummaryItem("Columns mapped to canonical names", len(mapping), "info"),
        ],
        frame=out,
        changes=changes,
        renames=renames,
    )
