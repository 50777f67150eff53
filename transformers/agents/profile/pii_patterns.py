"""PII detection by value patterns, shared by score-risk (authoritative) and unified-profiler
(a hint on a sample).

Each non-null value (whitespace-stripped) is assigned to at most ONE type, tested in this
precedence order, so that a more specific pattern always wins over a looser one:

    email > iban (mod-97) > credit_card (Luhn) > ssn > ip (v4/v6) > date > postal_code > phone

``phone`` additionally refuses anything shaped like an SSN (``ddd-dd-dddd``) or a date
(``yyyy-mm-dd``, ``dd/mm/yyyy``...), valid or not, and plain decimals (``12345.678``), so an SSN
or an ISO date is never a phone number. A column's type is the one with the largest share of
its non-null values, if that share is at least ``min_match_ratio``.

Column names are only a tiebreaker, matched on whole words (``customer_email``, ``customerEmail``
-> ``customer``, ``email``; ``filename`` is one word and is not ``name``):

* ambiguous value shapes need the name to decide: digit-only numbers (zip codes vs. quantities,
  bare phone numbers vs. ids) and dates (date of birth vs. any event date: without a name hint a
  date column is a date of birth only if its dates are plausible birth dates — all in the past,
  none before 1900, spanning at least 10 years, median age between 10 and
  100 years — and no event word like ``order`` or
  ``created`` is in the name);
* person names and street addresses have no value pattern; they are detected when the name says
  so *and* the values look like words.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from transformers.agents.profile.stats import name_tokens

EMAIL = "email"
PHONE = "phone"
SSN = "ssn"
CREDIT_CARD = "credit_card"
IBAN = "iban"
IP = "ip_address"
DOB = "date_of_birth"
POSTAL = "postal_code"
PERSON = "person_name"
ADDRESS = "street_address"

PRECEDENCE: tuple[str, ...] = (EMAIL, IBAN, CREDIT_CARD, SSN, IP, "date", POSTAL, PHONE)

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_H = r"[0-9A-Fa-f]{1,4}"
_IPV6 = (
    r"(?:"
    rf"(?:{_H}:){{7}}{_H}|"
    rf"(?:{_H}:){{1,7}}:|"
    rf"(?:{_H}:){{1,6}}:{_H}|"
    rf"(?:{_H}:){{1,5}}(?::{_H}){{1,2}}|"
    rf"(?:{_H}:){{1,4}}(?::{_H}){{1,3}}|"
    rf"(?:{_H}:){{1,3}}(?::{_H}){{1,4}}|"
    rf"(?:{_H}:){{1,2}}(?::{_H}){{1,5}}|"
    rf"{_H}:(?::{_H}){{1,6}}|"
    rf":(?:(?::{_H}){{1,7}}|:)"
    r")"
)

#: Anchored value patterns (applied to whitespace-stripped values).
PATTERNS: dict[str, str] = {
    EMAIL: r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$",
    IBAN: r"^[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}$",
    CREDIT_CARD: r"^(?:[0-9]{4}[ \-]?){3}[0-9]{1,7}$",
    SSN: r"^(?:00[1-9]|0[1-9][0-9]|[1-578][0-9]{2}|6(?:[0-57-9][0-9]|6[0-57-9]))-"
    r"(?:0[1-9]|[1-9][0-9])-(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})$",
    IP: rf"^(?:(?:{_OCTET}\.){{3}}{_OCTET}|{_IPV6})$",
    # yyyy-mm-dd[Thh:mm[:ss]], dd/mm/yyyy, mm/dd/yyyy, dd.mm.yyyy, dd-mm-yyyy, yyyy/mm/dd
    "date": r"^(?:(?:19|20)[0-9]{2}[\-/.](?:0?[1-9]|1[0-2])[\-/.](?:0?[1-9]|[12][0-9]|3[01])"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+\-][0-9]{2}:?[0-9]{2})?)?"
    r"|(?:0?[1-9]|[12][0-9]|3[01])[\-/.](?:0?[1-9]|[12][0-9]|3[01])[\-/.](?:19|20)[0-9]{2})$",
    # UK, Canada, Netherlands, Poland, Brazil, US ZIP+4 (bare 4-/5-digit codes need a name hint)
    POSTAL: r"^(?:[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}|[A-Z][0-9][A-Z] ?[0-9][A-Z][0-9]"
    r"|[1-9][0-9]{3} ?[A-Z]{2}|[0-9]{2}-[0-9]{3}|[0-9]{5}-[0-9]{3,4})$",
    # +CC ..., (area) ..., or digit groups separated by space/dot/dash; 7-15 digits in all
    PHONE: r"^(?:\+[0-9]{1,3}[ .\-]?)?(?:\([0-9]{1,4}\)[ .\-]?)?"
    r"[0-9]{1,5}(?:[ .\-][0-9]{1,8}){1,5}$"
    r"|^\+[0-9]{7,15}$|^\([0-9]{2,4}\) ?[0-9]{3,4}[ .\-]?[0-9]{3,4}$",
}
_SSN_SHAPE = r"^[0-9]{3}-[0-9]{2}-[0-9]{4}$"
_DATE_SHAPE = (
    r"^(?:[0-9]{4}[\-/.][0-9]{1,2}[\-/.][0-9]{1,2}|[0-9]{1,2}[\-/.][0-9]{1,2}[\-/.][0-9]{2,4})"
)
_DIGITS = r"^[0-9]+$"
_DECIMAL = r"^[0-9]+[.,][0-9]+$"  # 12345.678 is an amount, not a phone number
_YYYYMMDD = r"^(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])$"
_WORDS = r"^[^\W\d_]+(?:[ '.\-]+[^\W\d_]+)*\.?$"
_ADDRESS = r"^[0-9A-Za-z][\w '.,/#\-]*[^\W\d_][\w '.,/#\-]*$"

#: Whole-word name hints per type.
NAME_HINTS: dict[str, frozenset[str]] = {
    EMAIL: frozenset({"email", "mail", "emailaddress", "e"}),
    PHONE: frozenset({"phone", "tel", "telephone", "mobile", "cell", "fax", "msisdn"}),
    SSN: frozenset({"ssn", "social", "sec", "socsec", "nin", "sin"}),
    CREDIT_CARD: frozenset({"card", "cc", "credit", "pan", "creditcard"}),
    IBAN: frozenset({"iban", "bank", "account"}),
    IP: frozenset({"ip", "ipv4", "ipv6", "ipaddress"}),
    DOB: frozenset({"dob", "birth", "birthday", "born", "birthdate", "bday"}),
    POSTAL: frozenset({"zip", "zipcode", "postal", "postcode", "plz", "cp", "pincode"}),
    PERSON: frozenset(
        {"surname", "firstname", "lastname", "fullname", "forename", "givenname", "familyname"}
    ),
    ADDRESS: frozenset({"address", "street", "addr"}),
}
_PERSON_QUALIFIERS = frozenset({"first", "last", "given", "family", "full", "middle", "maiden"})
_NOT_PERSON = frozenset(
    {"file", "host", "user", "product", "company", "table", "column", "field", "domain",
     "server", "brand", "item", "app", "device", "path", "db", "schema", "dataset", "business",
     "store", "city", "street", "country", "state", "category", "display", "screen", "org",
     "organisation", "organization", "project", "team", "dept", "department", "account", "bank"}
)  # fmt: skip
_EVENT_WORDS = frozenset(
    {"order", "created", "updated", "modified", "ship", "shipped", "delivery", "due", "start",
     "end", "timestamp", "event", "transaction", "invoice", "purchase", "signup", "login",
     "expiry", "expiration", "expires", "valid", "effective", "payment", "report", "load"}
)  # fmt: skip


@dataclass
class Detection:
    pii_type: str | None
    confidence: float  # 0..1: the matching share, lowered when only the name says so
    match_ratio: float  # share of non-null values matching the chosen type's pattern
    matches: dict[str, int] = field(default_factory=dict)  # per type (exclusive, precedence)
    non_null: int = 0
    reason: str = ""


def name_hint(column: str) -> str | None:
    """The PII type the column's name suggests, by whole words (None if none)."""
    tokens = name_tokens(column)
    token_set = set(tokens)
    joined = "".join(tokens)
    for pii_type in (EMAIL, SSN, CREDIT_CARD, IBAN, IP, DOB, POSTAL, PHONE, ADDRESS):
        hints = NAME_HINTS[pii_type]
        if token_set & hints and not (pii_type == EMAIL and token_set == {"e"}):
            return pii_type
        if joined in hints:
            return pii_type
    if token_set & NAME_HINTS[PERSON] or joined in NAME_HINTS[PERSON]:
        return PERSON
    if "name" in token_set and not token_set & _NOT_PERSON:
        if token_set & _PERSON_QUALIFIERS or tokens == ["name"]:
            return PERSON
        if not token_set - {"name", "customer", "client", "contact", "person", "patient",
                            "employee", "member", "owner", "full"}:  # fmt: skip
            return PERSON
    return None


def luhn_valid(digits: list[str]) -> np.ndarray:
    """Vectorised Luhn check of digit-only strings (any lengths)."""
    out = np.zeros(len(digits), dtype=bool)
    by_len: dict[int, list[int]] = {}
    for i, d in enumerate(digits):
        by_len.setdefault(len(d), []).append(i)
    for length, idx in by_len.items():
        if length < 12:
            continue
        buf = "".join(digits[i] for i in idx).encode("ascii")
        arr = (np.frombuffer(buf, dtype=np.uint8).reshape(len(idx), length) - 48).astype(np.int64)
        rev = arr[:, ::-1]
        doubled = rev[:, 1::2] * 2
        doubled = np.where(doubled > 9, doubled - 9, doubled)
        total = rev[:, 0::2].sum(axis=1) + doubled.sum(axis=1)
        out[np.asarray(idx)] = total % 10 == 0
    return out


def iban_valid(value: str) -> bool:
    """ISO 13616 mod-97 check."""
    v = value.replace(" ", "").upper()
    if len(v) < 15 or len(v) > 34:
        return False
    rearranged = v[4:] + v[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1


def classify_values(values: pl.Series) -> dict[str, pl.Series]:
    """Exclusive boolean masks per type (PRECEDENCE order) over stripped string values."""
    s = values.cast(pl.String).str.strip_chars()
    remaining = s.is_not_null()
    masks: dict[str, pl.Series] = {}
    for pii_type in PRECEDENCE:
        if not remaining.any():  # every value already has a type: the rest match nothing
            masks[pii_type] = remaining
            continue
        m = s.str.contains(PATTERNS[pii_type]).fill_null(False) & remaining
        if m.any():
            if pii_type == CREDIT_CARD:
                cand = s.filter(m).str.replace_all(r"[ \-]", "")
                ok = luhn_valid(cand.to_list())
                m = _scatter(m, ok)
            elif pii_type == IBAN:
                cand = s.filter(m)
                m = _scatter(m, np.array([iban_valid(v) for v in cand.to_list()], dtype=bool))
            elif pii_type == PHONE:
                digits = s.str.replace_all(r"[^0-9]", "").str.len_chars()
                m = (
                    m
                    & digits.is_between(7, 15)
                    & ~s.str.contains(_SSN_SHAPE).fill_null(False)
                    & ~s.str.contains(_DATE_SHAPE).fill_null(False)
                    & ~s.str.contains(_DECIMAL).fill_null(False)
                )
        masks[pii_type] = m
        remaining = remaining & ~m
    return masks


def screen_candidates(frame: pl.DataFrame, columns: list[str]) -> list[str]:
    """Columns worth a full ``detect_column``: typed dates, a name hint, or any value matching
    a PII pattern (regex only), found with one select over all columns."""
    exprs = []
    checked: list[str] = []
    out: list[str] = []
    schema = frame.schema
    for c in columns:
        dtype = schema[c]
        if dtype.is_temporal() or name_hint(c) is not None:
            out.append(c)
        elif dtype == pl.String:
            s = pl.col(c).str.strip_chars()
            any_match = pl.any_horizontal([s.str.contains(p) for p in PATTERNS.values()])
            exprs.append(any_match.any().alias(f"{len(checked)}"))
            checked.append(c)
    if exprs:
        hits = frame.select(exprs).row(0)
        out += [c for c, hit in zip(checked, hits, strict=True) if hit]
    chosen = set(out)
    return [c for c in columns if c in chosen]


def _scatter(mask: pl.Series, ok: np.ndarray) -> pl.Series:
    arr = mask.to_numpy().copy()
    arr[np.flatnonzero(arr)] = ok
    return pl.Series(mask.name, arr)


def _years_from_strings(s: pl.Series) -> pl.Series:
    iso = s.str.extract(r"^((?:19|20)[0-9]{2})[\-/.]", 1)
    dmy = s.str.extract(r"[\-/.]((?:19|20)[0-9]{2})$", 1)
    ymd = s.str.extract(r"^((?:19|20)[0-9]{2})[0-9]{4}$", 1)
    return iso.fill_null(dmy).fill_null(ymd).cast(pl.Int32, strict=False)


def plausible_birth_years(years: pl.Series, today: dt.date | None = None) -> bool:
    ys = years.drop_nulls()
    if ys.len() == 0:
        return False
    year = (today or dt.date.today()).year
    lo, hi = ys.min(), ys.max()
    median = ys.median()
    assert isinstance(lo, int) and isinstance(hi, int)
    if lo < 1900 or hi > year or median is None or hi - lo < 10:
        return False
    return 10 <= year - float(median) <= 100  # type: ignore[arg-type]


def detect_column(
    name: str, series: pl.Series, min_match_ratio: float = 0.6, today: dt.date | None = None
) -> Detection:
    """Detect the PII type of one column from its values, the name breaking ties."""
    hint = name_hint(name)
    nn = series.drop_nulls()
    dtype = series.dtype
    n = nn.len()
    if n == 0:
        return Detection(None, 0.0, 0.0, non_null=0, reason="no values")
    if dtype.is_temporal():
        # typed dates: a date of birth if the name says so, or if plausible and not an event
        years = nn.dt.year().cast(pl.Int32)
        return _date_decision(name, hint, years, n, n, {"date": n}, today)
    if dtype.is_numeric() and not dtype.is_integer():
        return Detection(None, 0.0, 0.0, non_null=n, reason="non-integer numbers")
    s = nn.cast(pl.String)
    masks = classify_values(s)
    counts = {t: int(m.sum()) for t, m in masks.items()}
    # Digit-only values are ambiguous (ids, amounts...): only a name hint gives them a type.
    digit_only = int(s.str.strip_chars().str.contains(_DIGITS).sum())
    if digit_only and hint in (POSTAL, PHONE, SSN, DOB, CREDIT_CARD):
        stripped = s.str.strip_chars()
        if hint == POSTAL:
            extra = stripped.str.contains(r"^[0-9]{4,5}$")
        elif hint == PHONE:
            extra = stripped.str.contains(r"^[0-9]{7,15}$")
        elif hint == SSN:
            extra = stripped.str.contains(r"^[0-9]{9}$")
        elif hint == DOB:
            extra = stripped.str.contains(_YYYYMMDD)
        else:
            extra = stripped.str.contains(r"^[0-9]{13,19}$")
            extra = _scatter(extra, luhn_valid(stripped.filter(extra).to_list()))
        key = "date" if hint == DOB else hint
        counts[key] = counts.get(key, 0) + int(extra.sum())
    best = max(counts, key=lambda t: counts[t]) if counts else None
    if best is not None and counts[best] > 0 and counts[best] / n >= min_match_ratio:
        ratio = counts[best] / n
        if best == "date":
            years = _years_from_strings(s.str.strip_chars())
            return _date_decision(name, hint, years, counts[best], n, counts, today)
        conf = min(1.0, ratio + (0.05 if hint == best else 0.0))
        return Detection(best, conf, ratio, counts, n, "value pattern")
    # No value pattern: person names and addresses by name hint + word-like values.
    if hint == PERSON and dtype == pl.String:
        ratio = _share(s.str.strip_chars().str.contains(_WORDS))
        if ratio >= min_match_ratio:
            return Detection(PERSON, 0.8 * ratio, ratio, counts, n, "name hint + word values")
    if hint == ADDRESS and dtype == pl.String:
        ratio = _share(s.str.strip_chars().str.contains(_ADDRESS))
        if ratio >= min_match_ratio:
            return Detection(ADDRESS, 0.8 * ratio, ratio, counts, n, "name hint + address values")
    return Detection(None, 0.0, 0.0, counts, n, "no pattern reached the match ratio")


def _share(mask: pl.Series) -> float:
    return int(mask.sum()) / mask.len() if mask.len() else 0.0


def _date_decision(
    name: str,
    hint: str | None,
    years: pl.Series,
    matched: int,
    n: int,
    counts: dict[str, int],
    today: dt.date | None,
) -> Detection:
    ratio = matched / n
    tokens = set(name_tokens(name))
    if hint == DOB:
        return Detection(DOB, ratio, ratio, counts, n, "dates; name says birth date")
    if tokens & _EVENT_WORDS:
        return Detection(None, 0.0, ratio, counts, n, "dates of an event (name)")
    if plausible_birth_years(years, today):
        return Detection(DOB, 0.7 * ratio, ratio, counts, n, "dates with plausible birth years")
    return Detection(None, 0.0, ratio, counts, n, "dates, not plausible birth dates")
