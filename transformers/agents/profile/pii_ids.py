"""National identifiers by format and checksum, vectorised over a column's values.

Each format is a shape (anchored regex on the value with spaces, dots and dashes removed) and,
where the identifier has one, a check digit:

=============  ======================================  ==========================================
format         shape                                   check
=============  ======================================  ==========================================
fr_nir         15 digits (Corsica ``2A``/``2B``)        key = 97 - (first 13 mod 97)
es_dni         8 digits + letter                       letter = TRWAGMYFPDXBNJZSQVHLCKE[n mod 23]
es_nie         X/Y/Z + 7 digits + letter               as DNI with X=0, Y=1, Z=2
de_steuer_id   11 digits, first not 0                  ISO 7064 MOD 11,10
nl_bsn         9 digits                                "11-proef": sum d_i*(9..2) - d_9 = 0 mod 11
uk_nino        2 letters + 6 digits + letter           shape only (no check digit exists; issued
                                                       numbers end in A-D, test data in others)
it_cf          codice fiscale, 16 characters           odd/even position table, mod 26
=============  ======================================  ==========================================

A checksum passes for a random digit string about 1 time in 10 (BSN, Steuer-ID), 1 in 23
(DNI/NIE), 1 in 26 (codice fiscale) or 1 in 97 (NIR); a column is called a national-ID
column only when a large share of its values pass (see ``pii_patterns``), so chance passes in an
order-number column do not make it one. US SSNs keep their own pattern in ``pii_patterns``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

SHAPES: dict[str, str] = {
    "fr_nir": r"^[12][0-9]{2}(?:0[1-9]|1[0-2]|[2-9][0-9])(?:[0-9]{2}|2A|2B)[0-9]{8}$",
    "es_dni": r"^[0-9]{8}[A-Z]$",
    "es_nie": r"^[XYZ][0-9]{7}[A-Z]$",
    "de_steuer_id": r"^[1-9][0-9]{10}$",
    "nl_bsn": r"^[0-9]{9}$",
    "uk_nino": r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-Z]$",
    "it_cf": r"^[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-EHLMPRST][0-9LMNPQRSTUV]{2}[A-Z]"
    r"[0-9LMNPQRSTUV]{3}[A-Z]$",
}
#: formats with a check digit (the others are recognised by shape alone)
CHECKED = frozenset({"fr_nir", "es_dni", "es_nie", "de_steuer_id", "nl_bsn", "it_cf"})
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_CF_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25,
           24, 23]  # fmt: skip


def compact(values: pl.Series) -> pl.Series:
    """Upper-case, spaces, dots and dashes removed (how IDs are written varies)."""
    return (
        values.cast(pl.String).str.strip_chars().str.to_uppercase().str.replace_all(r"[ .\-]", "")
    )


def _digits(values: list[str], width: int) -> np.ndarray:
    buf = "".join(values).encode("ascii")
    return (np.frombuffer(buf, dtype=np.uint8).reshape(len(values), width) - 48).astype(np.int64)


def _nir(values: list[str]) -> np.ndarray:
    fixed = [v.replace("2A", "19").replace("2B", "18") for v in values]
    d = _digits(fixed, 15)
    body = np.zeros(len(values), dtype=np.int64)
    for k in range(13):
        body = (body * 10 + d[:, k]) % 97
    key = d[:, 13] * 10 + d[:, 14]
    return np.asarray(key == 97 - body, dtype=bool)


def _dni(values: list[str], nie: bool) -> np.ndarray:
    if nie:
        values = [str("XYZ".index(v[0])) + v[1:] for v in values]
    nums = np.array([int(v[:8]) for v in values], dtype=np.int64)
    letters = np.array([v[8] for v in values])
    expect = np.array(list(_DNI_LETTERS))[nums % 23]
    return np.asarray(letters == expect, dtype=bool)


def _steuer(values: list[str]) -> np.ndarray:
    d = _digits(values, 11)
    product = np.full(len(values), 10, dtype=np.int64)
    for k in range(10):
        s = (d[:, k] + product) % 10
        s = np.where(s == 0, 10, s)
        product = (s * 2) % 11
    check = 11 - product
    check = np.where(check == 10, 0, check)
    # the first ten digits: exactly one digit repeated (twice or three times)
    counts = np.stack([(d[:, :10] == k).sum(axis=1) for k in range(10)], axis=1)
    repeated = (counts >= 2).sum(axis=1) == 1
    return np.asarray((check == d[:, 10]) & repeated & (counts.max(axis=1) <= 3), dtype=bool)


def _bsn(values: list[str]) -> np.ndarray:
    d = _digits(values, 9)
    total = (d[:, :8] * np.arange(9, 1, -1)).sum(axis=1) - d[:, 8]
    return np.asarray((total % 11 == 0) & (d.sum(axis=1) > 0), dtype=bool)


def _cf_char(ch: str) -> int:
    return int(ch) if ch.isdigit() else ord(ch) - 65


def _cf(values: list[str]) -> np.ndarray:
    out = np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values):
        total = 0
        for pos, ch in enumerate(v[:15]):
            total += _CF_ODD[_cf_char(ch)] if pos % 2 == 0 else _cf_char(ch)
        out[i] = chr(65 + total % 26) == v[15]
    return out


CHECKS = {
    "fr_nir": _nir,
    "es_dni": lambda v: _dni(v, nie=False),
    "es_nie": lambda v: _dni(v, nie=True),
    "de_steuer_id": _steuer,
    "nl_bsn": _bsn,
    "it_cf": _cf,
}


def classify(values: pl.Series) -> tuple[pl.Series, dict[str, tuple[int, int]]]:
    """Which values are national identifiers (a boolean mask over ``values``), and per format
    ``(values of its shape, values passing its check)`` as evidence.

    A value of a checked format counts only if its check passes; formats are tried in the
    table's order and a value belongs to the first it passes."""
    s = compact(values)
    n = s.len()
    hit = np.zeros(n, dtype=bool)
    evidence: dict[str, tuple[int, int]] = {}
    present = s.is_not_null().to_numpy()
    for fmt, shape in SHAPES.items():
        m = s.str.contains(shape).fill_null(False).to_numpy() & present & ~hit
        idx = np.flatnonzero(m)
        if idx.size == 0:
            continue
        if fmt in CHECKED:
            cand = s.gather(idx).to_list()
            ok = CHECKS[fmt](cand)
            idx_ok = idx[ok]
        else:
            idx_ok = idx
        evidence[fmt] = (int(idx.size), int(idx_ok.size))
        hit[idx_ok] = True
    return pl.Series(values.name, hit), evidence
