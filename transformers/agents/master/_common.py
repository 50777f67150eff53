"""Shared vocabulary, value validators and frame conventions of the master-my-data agents.

Chain design (why the frames look the way they do):

* ``golden-record-builder`` matches and clusters, but returns the *source rows* (order and
  ``__row_id__`` kept) with ``cluster_id``, ``source_count``, ``trust_score`` and
  ``match_score`` added. Survivorship needs every source value of a cluster, and the pipeline
  passes exactly one frame between agents, so the builder must not collapse.
* ``survivorship-resolver`` collapses to one golden record per cluster. A golden record's
  ``__row_id__`` is its ``cluster_id`` (the smallest source row id of the cluster). It carries
  the lineage it needs downstream in internal columns: ``__members__`` (source row ids) and per
  field ``__src__<field>`` (source row that supplied the value) and ``__conf__<field>``.
* stewardship, lineage and writeback accept either frame shape: given source rows with a
  ``cluster_id`` they collapse them first with the builder's default rule (``ensure_golden``).
* ``master-writeback-agent`` writes the files and returns the golden frame without the
  internal columns, so the task's final data file is clean.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import re
from typing import Any

import polars as pl

from transformers.contract import ROW_ID, AgentContext

CLUSTER_ID = "cluster_id"
SOURCE_COUNT = "source_count"
TRUST_SCORE = "trust_score"
MATCH_SCORE = "match_score"
MEMBERS = "__members__"
SRC_PREFIX = "__src__"
CONF_PREFIX = "__conf__"
BUILDER_COLUMNS = (CLUSTER_ID, SOURCE_COUNT, TRUST_SCORE, MATCH_SCORE)

#: Canonical vocabulary: canonical name -> name synonyms (normalised snake_case).
VOCABULARY: dict[str, tuple[str, ...]] = {
    "given_name": ("given_name", "first_name", "firstname", "fname", "forename", "first"),
    "middle_name": ("middle_name", "middlename", "middle_initial"),
    "surname": ("surname", "last_name", "lastname", "family_name", "lname", "last"),
    "full_name": ("full_name", "fullname", "name", "customer_name", "person_name", "contact_name"),
    "email": ("email", "e_mail", "email_address", "mail", "emailaddress"),
    "phone": ("phone", "phone_number", "telephone", "tel", "mobile", "cell", "phone_no"),
    "street_number": ("street_number", "house_number", "street_no", "house_no", "building_no"),
    "street_address": (
        "street_address",
        "address",
        "address_1",
        "address1",
        "address_line_1",
        "addr",
        "street",
    ),
    "address_line_2": ("address_line_2", "address_2", "address2", "addr2"),
    "city": ("city", "town", "suburb", "locality"),
    "state": ("state", "province", "region", "county"),
    "postcode": ("postcode", "post_code", "postal_code", "zip", "zipcode", "zip_code"),
    "country": ("country", "country_code", "nation"),
    "date_of_birth": ("date_of_birth", "dob", "birth_date", "birthdate", "birthday"),
    "gender": ("gender", "sex"),
    "national_id": (
        "national_id",
        "ssn",
        "soc_sec_id",
        "social_security_number",
        "nin",
        "tax_id",
        "national_insurance_number",
    ),
    "company": ("company", "company_name", "organisation", "organization", "employer", "business"),
    "status": ("status", "account_status", "customer_status"),
    "record_id": ("record_id", "rec_id", "customer_id", "person_id", "id"),
    "updated_at": ("updated_at", "last_updated", "modified_at", "last_modified", "timestamp"),
    "source": ("source", "source_system", "system", "origin"),
}

NAME_ROLES = {"given_name", "middle_name", "surname", "full_name", "city", "company"}
ADDRESS_ROLES = {"street_address", "address_line_2"}
IDENTIFIER_ROLES = {"national_id", "postcode", "street_number"}
CATEGORY_ROLES = {"state", "country", "gender", "status"}

EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
PHONE_RE = re.compile(r"^\+?[\d\s().-]{7,20}$")
POSTCODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{1,9}$")
SSN_RE = re.compile(r"^(\d{3}-\d{2}-\d{4}|\d{6,11})$")
DATE_RE = re.compile(r"^(\d{4}[-/.]?\d{1,2}[-/.]?\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})$")

DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y")
DATETIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
)


#: the worker's memory budget when ``WORKER_MEMORY_LIMIT_MB`` is not set
DEFAULT_MEMORY_BUDGET_MB = 1536


def memory_budget_mb() -> int:
    """The worker's memory budget in MiB (``WORKER_MEMORY_LIMIT_MB``; a missing or unusable
    value gives the default). The one place the master agents read it."""
    raw = os.environ.get("WORKER_MEMORY_LIMIT_MB", "")
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_MEMORY_BUDGET_MB
    return value if value > 0 else DEFAULT_MEMORY_BUDGET_MB


def release_memory() -> None:
    """Hand freed heap memory back to the system between phases of a large run.

    glibc keeps freed chunks below its (self-raising, up to 32 MB) mmap threshold in its
    arenas, so after a phase of many mid-sized numpy arrays the process holds hundreds of MB
    it no longer uses, and the next phase's peak stacks on top of them (measured: 983 MB
    resident after matching 1M rows, 469 MB after a trim). A no-op where there is no glibc."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def normalise_name(name: str) -> str:
    """``FirstName`` / ``first-name`` / ``First Name`` -> ``first_name``."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    s = re.sub(r"[^0-9A-Za-z]+", "_", s).strip("_").lower()
    return s


def as_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A column as trimmed text (dates ISO), whatever its type; empty strings become null."""
    if dtype == pl.String:
        out = expr.str.strip_chars()
    elif dtype.is_temporal():
        out = expr.dt.to_string("%Y-%m-%d") if dtype == pl.Date else expr.cast(pl.String)
    else:
        out = expr.cast(pl.String)
    return pl.when(out == "").then(None).otherwise(out)


def parse_timestamps(series: pl.Series) -> pl.Series:
    """Real timestamp parsing: native temporal types as they are, text by several formats."""
    if series.dtype == pl.Datetime or isinstance(series.dtype, pl.Datetime):
        return series.dt.replace_time_zone(None) if series.dtype.time_zone else series  # type: ignore[attr-defined]
    if series.dtype == pl.Date:
        return series.cast(pl.Datetime("us"))
    if series.dtype.is_numeric():
        # yyyymmdd integers, else epoch seconds
        s = series.cast(pl.Int64, strict=False)
        as_ymd = s.cast(pl.String).str.to_date("%Y%m%d", strict=False).cast(pl.Datetime("us"))
        epoch = pl.from_epoch(s, time_unit="s").cast(pl.Datetime("us"))
        return pl.select(pl.coalesce(as_ymd, epoch)).to_series().alias(series.name)
    text = series.cast(pl.String).str.strip_chars()
    frame = pl.DataFrame({"t": text})
    tries: list[pl.Expr] = []
    for fmt in DATETIME_FORMATS:
        parsed = pl.col("t").str.to_datetime(fmt, strict=False, time_unit="us")
        if "%z" in fmt:
            parsed = parsed.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        tries.append(parsed)
    tries += [
        pl.col("t").str.to_date(fmt, strict=False).cast(pl.Datetime("us")) for fmt in DATE_FORMATS
    ]
    return frame.select(pl.coalesce(tries)).to_series().alias(series.name)


def value_is_valid(role: str | None, value: Any) -> bool | None:
    """Format validator by canonical role; None when the role has no format to check."""
    if value is None:
        return None
    text = str(value).strip()
    if role == "email":
        return bool(EMAIL_RE.match(text))
    if role == "phone":
        digits = re.sub(r"\D", "", text)
        return bool(PHONE_RE.match(text)) and 7 <= len(digits) <= 15
    if role == "postcode":
        return bool(POSTCODE_RE.match(text))
    if role == "national_id":
        return bool(SSN_RE.match(text))
    if role == "date_of_birth":
        return bool(DATE_RE.match(text)) or hasattr(value, "year")
    return None


def invalid_mask(series: pl.Series, role: str) -> pl.Series | None:
    """Vectorised format check: True where a non-null value breaks the role's format."""
    text = as_text(pl.col("v"), series.dtype)
    frame = pl.DataFrame({"v": series})
    if role == "email":
        ok = text.str.contains(EMAIL_RE.pattern)
    elif role == "phone":
        digits = text.str.replace_all(r"\D", "").str.len_chars()
        ok = text.str.contains(PHONE_RE.pattern) & digits.is_between(7, 15)
    elif role == "postcode":
        ok = text.str.contains(POSTCODE_RE.pattern)
    elif role == "national_id":
        ok = text.str.contains(SSN_RE.pattern)
    elif role == "date_of_birth":
        if series.dtype.is_temporal():
            return None
        ok = text.str.contains(DATE_RE.pattern)
    else:
        return None
    return frame.select((text.is_not_null() & ~ok.fill_null(False)).alias("bad")).to_series()


def role_of(column: str) -> str | None:
    """Canonical role of a (possibly already mapped) column name, by exact synonym."""
    norm = normalise_name(column)
    for canonical, synonyms in VOCABULARY.items():
        if norm == canonical or norm in synonyms:
            return canonical
    return None


def data_columns(frame: pl.DataFrame) -> list[str]:
    """User data columns: not the row id, not builder/survivorship bookkeeping."""
    return [
        c
        for c in frame.columns
        if c != ROW_ID
        and c not in BUILDER_COLUMNS
        and c != MEMBERS
        and not c.startswith(SRC_PREFIX)
        and not c.startswith(CONF_PREFIX)
    ]


def is_golden(frame: pl.DataFrame) -> bool:
    return MEMBERS in frame.columns


def ensure_golden(frame: pl.DataFrame, ctx: AgentContext) -> tuple[pl.DataFrame, dict[str, str]]:
    """The golden frame and the rule used per field, whichever shape the chain handed over."""
    if is_golden(frame):
        prior = ctx.results.get("survivorship-resolver")
        rules = dict(prior.data.get("rules", {})) if prior is not None else {}
        return frame, rules
    from transformers.agents.master.survivorship_resolver import collapse

    default = "most_complete"
    builder = ctx.results.get("golden-record-builder")
    if builder is not None:
        default = str(builder.data.get("survivorship_default", default))
    if CLUSTER_ID not in frame.columns:
        frame = frame.with_columns(pl.col(ROW_ID).alias(CLUSTER_ID))
    golden, rules, _ = collapse(frame, default_rule=default)
    return golden, rules


def public_golden(frame: pl.DataFrame) -> pl.DataFrame:
    """A golden frame without the internal lineage columns."""
    drop = [c for c in frame.columns if c == MEMBERS or c.startswith((SRC_PREFIX, CONF_PREFIX))]
    return frame.drop(drop)


def resolve_all(ctx: AgentContext, columns: list[str], frame: pl.DataFrame) -> list[str]:
    return [ctx.resolve(c, frame) for c in columns]
