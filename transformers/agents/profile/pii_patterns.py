"""PII detection by value patterns, shared by score-risk (authoritative) and unified-profiler
(a hint on a sample).

Each non-null value (whitespace-stripped) is assigned to at most ONE type, tested in this
precedence order, so that a more specific pattern always wins over a looser one:

    email > iban (mod-97) > credit_card (Luhn) > ssn > national_id (format + checksum, see
    pii_ids) > ip (v4/v6) > date > postal_code > phone

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
* street addresses have no value pattern; they are detected when the name says so *and* the
  values look like addresses. Person names are found by value too: a column whose values are,
  for at least ``pii_names.NAME_RATIO`` of them, names from the offline name lists
  (``pii_names``) is a person-name column whatever its header;
* usernames and passwords have no pattern of their own: a header hint (several languages:
  ``login``, ``benutzername``, ``usuario``, ``pwd``, ``passwort``, ``mot_de_passe``...) plus
  handle- or secret-shaped values;
* numbers stored as numbers are read as their digits: a column of integers (or integral floats)
  of 13-19 digits passing Luhn is a card column, one of 9-15 digits passing a national-ID
  checksum a national-ID column, without any header hint (the checksum is the evidence).

Every detection carries its ``evidence``: the value hit ratio, the checksum pass ratio (share of
the values of the type's shape that pass its check digit, where it has one), the header hint,
the national-ID formats seen, the name-list hit ratio.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from transformers.agents.profile import pii_ids, pii_names
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
NATIONAL_ID = "national_id"
USERNAME = "username"
PASSWORD = "password"

PRECEDENCE: tuple[str, ...] = (
    EMAIL, IBAN, CREDIT_CARD, SSN, NATIONAL_ID, IP, "date", POSTAL, PHONE
)  # fmt: skip
#: types found by a check function rather than a regex alone (see classify_values)
_FUNCTION_TYPES = frozenset({NATIONAL_ID})

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
#: loose screen for national-ID shapes (the full test is pii_ids.classify)
_ID_SCREEN = (
    r"^(?:[0-9XYZxyz][0-9 .\-]{7,20}[0-9A-Za-z]|[A-Za-z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?"
    r"[A-Za-z]|[A-Za-z]{6}[0-9A-Za-z]{10})$"
)
_DECIMAL = r"^[0-9]+[.,][0-9]+$"  # 12345.678 is an amount, not a phone number
_YYYYMMDD = r"^(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])$"
_WORDS = r"^[^\W\d_]+(?:[ '.\-]+[^\W\d_]+)*\.?$"
_ADDRESS = r"^[0-9A-Za-z][\w '.,/#\-]*[^\W\d_][\w '.,/#\-]*$"

#: Whole-word name hints per type (English, French, German, Spanish, Italian, Dutch,
#: Portuguese; accents kept as written and also without them).
NAME_HINTS: dict[str, frozenset[str]] = {
    EMAIL: frozenset({"email", "mail", "emailaddress", "e", "courriel", "correo", "epost",
                      "posta"}),
    PHONE: frozenset({"phone", "tel", "telephone", "mobile", "cell", "fax", "msisdn", "telefon",
                      "telefono", "teléfono", "téléphone", "telefone", "handy", "movil",
                      "móvil", "portable", "cellulare", "gsm", "rufnummer", "telefoon"}),
    SSN: frozenset({"ssn", "social", "sec", "socsec", "nin", "sin"}),
    NATIONAL_ID: frozenset({"nationalid", "passport", "passeport", "pasaporte", "passaporto",
                            "reisepass", "paspoort", "passnummer", "taxid", "tin", "steuerid",
                            "steuernummer", "idnr", "nif", "nie", "dni", "bsn", "nir", "nino",
                            "codicefiscale", "fiscale", "insee", "sofinummer",
                            "personalausweis", "ausweis", "ausweisnummer", "cedula", "cédula",
                            "curp", "idcard", "identity", "nationalidentifier", "nss", "cpf",
                            "pesel", "personnummer", "burgerservicenummer"}),
    CREDIT_CARD: frozenset({"card", "cc", "credit", "pan", "creditcard", "carte", "tarjeta",
                            "karte", "kreditkarte", "carta"}),
    IBAN: frozenset({"iban", "bank", "account", "konto", "rib", "cuenta", "conto"}),
    IP: frozenset({"ip", "ipv4", "ipv6", "ipaddress"}),
    DOB: frozenset({"dob", "birth", "birthday", "born", "birthdate", "bday", "geburtsdatum",
                    "geburtstag", "geboren", "naissance", "datenaissance", "nacimiento",
                    "fechanacimiento", "nascita", "datanascita", "geboortedatum", "nascimento"}),
    POSTAL: frozenset({"zip", "zipcode", "postal", "postcode", "plz", "cp", "pincode",
                       "codepostal", "postleitzahl", "codigopostal", "postcodigo"}),
    PERSON: frozenset(
        {"surname", "firstname", "lastname", "fullname", "forename", "givenname", "familyname",
         "maiden", "maidenname", "nom", "prenom", "prénom", "nomdefamille", "vorname",
         "nachname", "familienname", "geburtsname", "mädchenname", "nombre", "apellido",
         "apellidos", "cognome", "nome", "voornaam", "achternaam", "naam", "sobrenome"}
    ),
    ADDRESS: frozenset({"address", "street", "addr", "adresse", "direccion", "dirección",
                        "indirizzo", "strasse", "straße", "rue", "calle", "adres", "anschrift",
                        "endereco", "endereço"}),
    USERNAME: frozenset({"username", "login", "userid", "uname", "user", "benutzername",
                         "benutzer", "usuario", "utilisateur", "identifiant", "utente",
                         "gebruikersnaam", "pseudo", "handle", "nickname", "screenname",
                         "loginname", "accountname"}),
    PASSWORD: frozenset({"password", "passwd", "pwd", "passwort", "kennwort",
                         "contrasena", "contraseña", "motdepasse", "mdp", "wachtwoord", "senha",
                         "passphrase", "secret"}),
}  # fmt: skip
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
    #: what the finding rests on: value hit ratio, checksum pass ratio, header hint, formats
    evidence: dict[str, object] = field(default_factory=dict)


def name_hint(column: str) -> str | None:
    """The PII type the column's name suggests, by whole words (None if none)."""
    tokens = name_tokens(column)
    token_set = set(tokens)
    joined = "".join(tokens)
    for pii_type in (PASSWORD, EMAIL, SSN, NATIONAL_ID, CREDIT_CARD, IBAN, IP, DOB, POSTAL,
                     PHONE, ADDRESS, USERNAME):  # fmt: skip
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


def classify_values(
    values: pl.Series, evidence: dict[str, object] | None = None
) -> dict[str, pl.Series]:
    """Exclusive boolean masks per type (PRECEDENCE order) over stripped string values.

    ``evidence``, if given, receives per checked type the values of its shape and those passing
    its check (``{"credit_card": (shape, passed), ...}``) and the national-ID formats seen."""
    s = values.cast(pl.String).str.strip_chars()
    remaining = s.is_not_null()
    masks: dict[str, pl.Series] = {}
    for pii_type in PRECEDENCE:
        if not remaining.any():  # every value already has a type: the rest match nothing
            masks[pii_type] = remaining
            continue
        if pii_type in _FUNCTION_TYPES:
            rest = pl.select(pl.when(pl.lit(remaining)).then(pl.lit(s))).to_series()
            m, formats = pii_ids.classify(rest)
            m = m & remaining
            if evidence is not None and formats:
                evidence["national_id_formats"] = formats
                shaped = sum(a for a, _ in formats.values())
                evidence[NATIONAL_ID] = (shaped, sum(b for _, b in formats.values()))
            masks[pii_type] = m
            remaining = remaining & ~m
            continue
        m = s.str.contains(PATTERNS[pii_type]).fill_null(False) & remaining
        if m.any():
            if pii_type == CREDIT_CARD:
                cand = s.filter(m).str.replace_all(r"[ \-]", "")
                ok = luhn_valid(cand.to_list())
                if evidence is not None:
                    evidence[CREDIT_CARD] = (int(m.sum()), int(ok.sum()))
                m = _scatter(m, ok)
            elif pii_type == IBAN:
                cand = s.filter(m)
                ok = np.array([iban_valid(v) for v in cand.to_list()], dtype=bool)
                if evidence is not None:
                    evidence[IBAN] = (int(m.sum()), int(ok.sum()))
                m = _scatter(m, ok)
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


#: distinct values of a text column checked against the name lists while screening, and the hit
#: share that makes it a candidate (the full column is judged by detect_column)
NAME_SCREEN_VALUES = 300
NAME_SCREEN_RATIO = 0.5


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
        elif dtype.is_integer() or dtype.is_float():
            # numbers: worth a look if they are long enough to be card or ID numbers
            exprs.append((pl.col(c).abs() >= 1e8).any().alias(f"{len(checked)}"))
            checked.append(c)
        elif dtype == pl.String:
            s = pl.col(c).str.strip_chars()
            any_match = pl.any_horizontal(
                [s.str.contains(p) for p in (*PATTERNS.values(), _ID_SCREEN)]
            )
            exprs.append(any_match.any().alias(f"{len(checked)}"))
            checked.append(c)
    if exprs:
        hits = frame.select(exprs).row(0)
        out += [c for c, hit in zip(checked, hits, strict=True) if hit]
    # person names have no pattern: text columns whose values are mostly names
    for c in checked:
        if c not in out and schema[c] == pl.String:
            distinct = frame.get_column(c).drop_nulls().unique().head(NAME_SCREEN_VALUES)
            if pii_names.name_hit_ratio(distinct) >= NAME_SCREEN_RATIO:
                out.append(c)
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


def as_digits(series: pl.Series) -> pl.Series | None:
    """Integers, or floats that are all whole numbers, as digit strings (None otherwise): a card
    or ID number stored as a number is still the same digits."""
    dtype = series.dtype
    if dtype.is_integer():
        return series.cast(pl.String)
    if dtype.is_float():
        nn = series.drop_nulls().drop_nans()
        if nn.len() == 0 or not bool(((nn % 1) == 0).all()) or float(nn.abs().max()) >= 2**53:  # type: ignore[arg-type]
            return None
        return series.fill_nan(None).cast(pl.Int64, strict=False).cast(pl.String)
    return None


def _evidence(
    ratio: float, hint: str | None, checks: dict[str, object], pii_type: str | None, **extra: object
) -> dict[str, object]:
    out: dict[str, object] = {"value_hit_ratio": round(ratio, 4), "header_hint": hint}
    chk = checks.get(pii_type or "")
    if isinstance(chk, tuple) and chk[0]:
        out["checksum_pass_ratio"] = round(chk[1] / chk[0], 4)
        out["checksum_values"] = chk[0]
    if pii_type in (NATIONAL_ID, SSN) and "national_id_formats" in checks:
        out["formats"] = {
            k: {"shape": a, "checksum_passed": b}
            for k, (a, b) in checks["national_id_formats"].items()  # type: ignore[attr-defined]
        }
    out.update(extra)
    return out


#: a checksum-only finding (digits stored as numbers, no header hint) needs this pass ratio
CHECKSUM_RATIO = 0.9
_HANDLE = r"^[A-Za-z0-9][\w.\-@+]{1,63}$"
#: a password has letters ("0.95" under "pass_rate" is a rate), and no spaces
_SECRET = r"^\S*[A-Za-z]\S*$"
_ID_SHAPE = r"^[A-Za-z0-9 .\-/]*[0-9][A-Za-z0-9 .\-/]*$"


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
        det = _date_decision(name, hint, years, n, n, {"date": n}, today)
        det.evidence = _evidence(det.match_ratio, hint, {}, det.pii_type)
        return det
    numeric_text = as_digits(nn) if dtype.is_numeric() else None
    if dtype.is_numeric() and numeric_text is None:
        return Detection(None, 0.0, 0.0, non_null=n, reason="non-integer numbers")
    s = numeric_text if numeric_text is not None else nn.cast(pl.String)
    checks: dict[str, object] = {}
    masks = classify_values(s, checks)
    counts = {t: int(m.sum()) for t, m in masks.items()}
    # US SSNs and other national IDs in one column: one national-ID column
    ids = counts.get(SSN, 0) + counts.get(NATIONAL_ID, 0)
    if counts.get(NATIONAL_ID, 0) and counts.get(SSN, 0):
        counts[NATIONAL_ID], counts[SSN] = ids, 0
        prior = checks.get(NATIONAL_ID)
        shaped, passed = prior if isinstance(prior, tuple) else (0, 0)
        n_ssn = int(masks[SSN].sum())
        checks[NATIONAL_ID] = (int(shaped) + n_ssn, int(passed) + n_ssn)
    # Digit-only values are ambiguous (ids, amounts...): a checksum or a name hint types them.
    stripped = s.str.strip_chars()
    untyped = ~pl.select(pl.any_horizontal(list(masks.values()))).to_series().fill_null(False)
    digit_only = int((stripped.str.contains(_DIGITS) & untyped).sum())
    if digit_only and hint in (POSTAL, PHONE, SSN, DOB, CREDIT_CARD):
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
        extra = extra & untyped
        key = "date" if hint == DOB else hint
        counts[key] = counts.get(key, 0) + int(extra.sum())
    elif digit_only and hint is None:
        # no hint: 13-19 digits passing Luhn (cards stored as numbers) are cards when nearly
        # all of them pass (random digits pass 1 time in 10)
        long = stripped.str.contains(r"^[0-9]{13,19}$") & untyped
        if int(long.sum()) >= CHECKSUM_RATIO * n:
            ok = luhn_valid(stripped.filter(long).to_list())
            checks[CREDIT_CARD] = (int(long.sum()), int(ok.sum()))
            if int(ok.sum()) >= CHECKSUM_RATIO * int(long.sum()):
                counts[CREDIT_CARD] = counts.get(CREDIT_CARD, 0) + int(ok.sum())
    best = max(counts, key=lambda t: counts[t]) if counts else None
    if best is not None and counts[best] > 0 and counts[best] / n >= min_match_ratio:
        ratio = counts[best] / n
        if best == "date":
            years = _years_from_strings(stripped)
            det = _date_decision(name, hint, years, counts[best], n, counts, today)
            det.evidence = _evidence(ratio, hint, checks, det.pii_type)
            return det
        conf = min(1.0, ratio + (0.05 if hint == best else 0.0))
        reason = "value pattern" if best not in checks else "value pattern + checksum"
        return Detection(best, conf, ratio, counts, n, reason, _evidence(ratio, hint, checks, best))
    if dtype == pl.String:
        # No value pattern: words, judged by the header hint and the values.
        found = _by_words(hint, stripped, counts, n, min_match_ratio, checks)
        if found is not None:
            return found
    return Detection(
        None, 0.0, 0.0, counts, n, "no pattern reached the match ratio",
        _evidence(0.0, hint, checks, None),
    )  # fmt: skip


def _by_words(
    hint: str | None,
    stripped: pl.Series,
    counts: dict[str, int],
    n: int,
    min_match_ratio: float,
    checks: dict[str, object],
) -> Detection | None:
    """Person names (name lists, or hint + word values), addresses, usernames, passwords and
    hinted IDs: the types without a value pattern of their own."""
    if hint in (USERNAME, PASSWORD, NATIONAL_ID, ADDRESS):
        shape = {USERNAME: _HANDLE, PASSWORD: _SECRET, NATIONAL_ID: _ID_SHAPE, ADDRESS: _ADDRESS}
        length = stripped.str.len_chars()
        sized = length.is_between(4, 128) if hint == PASSWORD else length.is_between(4, 25)
        if hint in (USERNAME, ADDRESS):
            sized = length > 0
        ratio = _share(stripped.str.contains(shape[hint]) & sized)
        if ratio >= min_match_ratio:
            what = {USERNAME: "handle", PASSWORD: "secret", NATIONAL_ID: "ID", ADDRESS: "address"}
            return Detection(
                hint, 0.8 * ratio, ratio, counts, n, f"name hint + {what[hint]}-shaped values",
                _evidence(ratio, hint, checks, hint),
            )  # fmt: skip
    names = pii_names.name_hit_ratio(stripped)
    if names >= max(min_match_ratio, pii_names.NAME_RATIO) or (
        hint == PERSON and names >= min_match_ratio
    ):
        conf = min(1.0, names + (0.05 if hint == PERSON else 0.0))
        return Detection(
            PERSON, conf, names, counts, n, "values in the offline name lists",
            _evidence(names, hint, checks, PERSON, name_list_hit_ratio=round(names, 4)),
        )  # fmt: skip
    if hint == PERSON:
        ratio = _share(stripped.str.contains(_WORDS))
        if ratio >= min_match_ratio:
            return Detection(
                PERSON, 0.8 * ratio, ratio, counts, n, "name hint + word values",
                _evidence(ratio, hint, checks, PERSON, name_list_hit_ratio=round(names, 4)),
            )  # fmt: skip
    return None


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
