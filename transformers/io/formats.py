"""Locale-aware reading of numbers and dates stored as text, decided over a whole column.

``detect(values, name)`` proposes the one format that reads the most values of a column and
says how many it reads (``hit_ratio``, over the non-blank values); ``parse(values, guess)``
converts with it (null where a value does not fit). Both work on the column's *distinct*
values with polars expressions, so the cost follows the distinct count, not the row count.
unified-profiler reports the guess; type-fixer converts with it, so both always agree.

Numbers (``kind`` number / percent / currency):

* separators: ``1,234.56`` (point decimal), ``1.234,56`` and ``1234,56`` (decimal comma),
  ``1 234 567`` / ``1 234,5`` (space, no-break space or narrow no-break space as thousands),
  ``1'234.50`` (Swiss apostrophe). The decimal mark is decided by the column: a value only one
  reading accepts (``3,5``, ``1.234,56`` -> comma; ``3.5``, ``1,234.5`` -> point) settles it;
  a column of nothing but ``1,234``-shaped values reads the comma as thousands (the commoner
  case), and says so (``ambiguous_decimal``);
* signs: leading ``-``/``+``, or accounting parentheses ``(1,234.00)``;
* percentages ``62%`` / ``12,5 %`` become fractions (0.62, 0.125), as a spreadsheet does;
* currency symbols (``$ € £ ¥ ₹ ₽ ₩ CHF``) and ISO codes (``USD``, ``EUR``...) before or after the
  amount; the currencies seen are listed.

A column of plain numbers (no separator, sign convention, percent or currency) is not a locale
format (the loader types it already) and gets no guess.

Dates (``kind`` date / datetime / iso_week / excel_serial):

* numeric ``d/m/y`` vs ``m/d/y`` (``/ . -``, 2- or 4-digit years, optional ``HH:MM[:SS]``):
  decided from the whole column: a first part above 12 anywhere means day first, a second part
  above 12 means month first; when no value decides, ``.`` means day first (its convention) and
  otherwise month first is used with ``order_undetermined`` set;
* ``yyyy/mm/dd`` and ``yyyy.mm.dd``;
* month names in English, French, German, Spanish, Italian and Dutch, full or abbreviated:
  ``31 Mar 2024``, ``31-Mar-2024``, ``March 31, 2024``, ``31. März 2024``;
* ISO weeks ``2024-W13`` / ``2024W13`` (Monday of the week) and ``2024-W13-5`` (that weekday);
* Excel serial dates in text (``45382`` = 2024-03-31; 1900 date system): only when the header
  names a date (``date``, ``datum``, ``fecha``...), since otherwise they are just integers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import polars as pl

_SPACES = "\u00a0\u202f\u2009"
CURRENCY_SYMBOLS = ("US$", "C$", "A$", "$", "€", "£", "¥", "₹", "₽", "₩", "CHF", "Fr.")
CURRENCY_CODES = ("USD", "EUR", "GBP", "CHF", "JPY", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK",
                  "PLN", "CZK", "HUF", "INR", "CNY", "BRL", "MXN", "ZAR", "RUB", "TRY",
                  "KRW")  # fmt: skip
_CUR = "|".join(re.escape(c) for c in (*CURRENCY_CODES, *CURRENCY_SYMBOLS))
_NUMBER = (
    rf"^(?P<pre>(?:{_CUR}))?\s*(?P<sign>[-+(])?\s*(?P<pre2>(?:{_CUR}))?\s*"
    r"(?P<num>[0-9][0-9 .,']*)\s*(?P<close>\))?\s*(?P<post>%|(?:" + _CUR + r"))?$"
)
_READINGS = {
    # reading: (regex on the numeric part, thousands separator, decimal mark)
    "point": (r"^(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?$", ",", "."),
    "comma": (r"^(?:[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]+)(?:,[0-9]+)?$", ".", ","),
    "space_point": (r"^(?:[0-9]{1,3}(?: [0-9]{3})+|[0-9]+)(?:\.[0-9]+)?$", " ", "."),
    "space_comma": (r"^(?:[0-9]{1,3}(?: [0-9]{3})+|[0-9]+)(?:,[0-9]+)?$", " ", ","),
    "apostrophe": (r"^(?:[0-9]{1,3}(?:'[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?$", "'", "."),
}
_LABEL = {
    "point": "decimal point, ',' thousands",
    "comma": "decimal comma, '.' thousands",
    "space_point": "decimal point, space thousands",
    "space_comma": "decimal comma, space thousands",
    "apostrophe": "decimal point, apostrophe thousands",
}
MONTHS: dict[str, int] = {}
for _i, _names in enumerate(
    [
        "january jan janvier janv janv. januar jän jänner enero ene gennaio gen januari",
        "february feb février fevrier févr févr. fev februar febrero febbraio febr februari",
        "march mar mars märz maerz marzo mrt maart",
        "april apr avril abril aprile",
        "may mai mayo maggio mag mei",
        "june jun juin juni junio giugno giu",
        "july jul juillet juil juil. juli julio luglio lug",
        "august aug août aout augusto agosto ago augustus",
        "september sep sept septembre septiembre settembre set",
        "october oct octobre oktober okt octubre ottobre ott",
        "november nov novembre noviembre",
        "december dec décembre decembre dez dezember diciembre dic dicembre",
    ],
    start=1,
):
    for _n in _names.split():
        MONTHS[_n] = _i
_MONTH_WORD = r"[A-Za-zÀ-ÿ]{3,10}\.?"
_DMY_NAME = rf"^(?P<d>[0-9]{{1,2}})\.?[ \-/](?P<m>{_MONTH_WORD})[ \-/,]+(?P<y>[0-9]{{4}})$"
_MDY_NAME = rf"^(?P<m>{_MONTH_WORD})[ \-/](?P<d>[0-9]{{1,2}})(?:st|nd|rd|th)?,? (?P<y>[0-9]{{4}})$"
_NUMERIC_DATE = (
    r"^(?P<a>[0-9]{1,2})(?P<sep>[./\-])(?P<b>[0-9]{1,2})[./\-](?P<y>[0-9]{4}|[0-9]{2})"
    r"(?:[ T](?P<H>[0-9]{1,2}):(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2}))?)?$"
)
_YMD = r"^(?P<y>[0-9]{4})(?P<sep>[./])(?P<m>[0-9]{1,2})[./](?P<d>[0-9]{1,2})$"
_ISO_WEEK = r"^(?P<y>[0-9]{4})-?W(?P<w>[0-9]{2})(?:-?(?P<d>[1-7]))?$"
_SERIAL = r"^[0-9]{5}(?:\.[0-9]+)?$"
#: Excel serials read as dates: 1954-10-03 .. 2119-01-28 (five digits above 20000)
SERIAL_RANGE = (20_000, 80_000)
#: header words that name a date (not "data", "day", "tag": too common in other senses)
DATE_WORDS = frozenset({"date", "datum", "fecha", "datetime", "born", "dob", "created",
                        "updated", "timestamp", "due", "birthday", "fechas", "dates"})  # fmt: skip
_NAME_SPLIT = re.compile(r"[^0-9A-Za-zÀ-ÿ]+|(?<=[a-z])(?=[A-Z])")


@dataclass
class FormatGuess:
    kind: str  # number | percent | currency | date | datetime | iso_week | excel_serial
    format: str  # human-readable, e.g. "decimal comma, '.' thousands" or "dd.mm.yyyy"
    dtype: str  # integer | float | date | datetime
    hit_ratio: float  # share of the non-blank values this format reads
    hits: int = 0
    values: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "format": self.format,
            "type": self.dtype,
            "hit_ratio": round(self.hit_ratio, 4),
            "values": self.values,
            **{k: v for k, v in self.options.items() if not k.startswith("_")},
        }


def _distinct(values: pl.Series) -> pl.DataFrame:
    """Distinct non-blank values (trimmed, exotic spaces made plain) with their counts."""
    s = values.cast(pl.String).str.replace_all(f"[{_SPACES}]", " ").str.strip_chars()
    s = s.filter(s.is_not_null() & (s != ""))
    return s.rename("v").value_counts(name="n")


def names_a_date(name: str | None) -> bool:
    if not name:
        return False
    return bool({t.lower() for t in _NAME_SPLIT.split(name) if t} & DATE_WORDS)


# ------------------------------------------------------------------------------ numbers


def _number_parts(d: pl.DataFrame) -> pl.DataFrame:
    g = d.with_columns(pl.col("v").str.extract_groups(_NUMBER).alias("g")).unnest("g")
    return g.with_columns(pl.col("num").str.strip_chars())


def _detect_number(d: pl.DataFrame, total: int) -> FormatGuess | None:
    parts = _number_parts(d)
    ok = parts.filter(pl.col("num").is_not_null())
    if ok.is_empty():
        return None
    hits = {
        r: int(ok.filter(pl.col("num").str.contains(rx))["n"].sum())
        for r, (rx, _, _) in _READINGS.items()
    }
    # the decimal mark: values only one family of readings accepts decide it
    family = {r: _READINGS[r][2] for r in _READINGS}

    def fits(mark: str) -> pl.Expr:
        return pl.any_horizontal(
            [pl.col("num").str.contains(rx) for r, (rx, _, _) in _READINGS.items()
             if family[r] == mark]
        )  # fmt: skip

    only_comma = int(ok.filter(fits(",") & ~fits("."))["n"].sum())
    only_point = int(ok.filter(fits(".") & ~fits(","))["n"].sum())
    mark = "," if only_comma > only_point else "."
    ambiguous = only_comma == 0 and only_point == 0
    order = list(_READINGS)
    reading = max(
        (r for r in _READINGS if family[r] == mark), key=lambda r: (hits[r], -order.index(r))
    )
    rx = _READINGS[reading][0]
    mine = ok.filter(pl.col("num").str.contains(rx))
    marks = mine.select(
        (pl.col("post") == "%").fill_null(False).alias("pct"),
        (pl.col("pre").is_not_null() | pl.col("pre2").is_not_null()
         | (pl.col("post").is_not_null() & (pl.col("post") != "%"))).alias("cur"),
        (pl.col("sign") == "(").fill_null(False).alias("paren"),
        pl.col("num").str.contains(r"[.,' ]").alias("sep"),
        pl.coalesce("pre", "pre2", pl.when(pl.col("post") != "%").then(pl.col("post"))).alias("c"),
        pl.col("n"),
    )  # fmt: skip
    n_pct = int(marks.filter("pct")["n"].sum())
    n_cur = int(marks.filter("cur")["n"].sum())
    plain = marks.filter(~pl.col("pct") & ~pl.col("cur") & ~pl.col("paren") & ~pl.col("sep"))
    if int(plain["n"].sum()) == int(mine["n"].sum()):
        return None  # plain numbers: not a locale format
    kind = "percent" if n_pct * 2 >= int(mine["n"].sum()) else "currency" if n_cur else "number"
    options: dict[str, Any] = {
        "thousands_separator": _READINGS[reading][1],
        "decimal_mark": _READINGS[reading][2],
        "_reading": reading,
        "_percent": kind == "percent",
    }
    if ambiguous:
        options["ambiguous_decimal"] = True
    if kind == "currency":
        options["currencies"] = sorted(
            {str(c).strip() for c in marks.filter("cur")["c"].to_list() if c}
        )
    guess = FormatGuess(kind, _LABEL[reading], "float", 0.0, options=options)
    parsed = _parse_number_frame(d, guess)
    n_hit = int(parsed.filter(pl.col("x").is_not_null())["n"].sum())
    integral = (
        parsed.filter(pl.col("x").is_not_null())
        .select(
            ((pl.col("x") % 1) == 0).all() & ~pl.col("v").str.contains(_decimal_rx(reading)).any()
        )
        .item()
    )
    if integral and kind != "percent":
        guess.dtype = "integer"
    if kind == "percent":
        guess.format = f"percent ({_LABEL[reading]})"
    guess.hits, guess.values, guess.hit_ratio = n_hit, total, n_hit / total if total else 0.0
    return guess


def _decimal_rx(reading: str) -> str:
    mark = re.escape(_READINGS[reading][2])
    return rf"[0-9]{mark}[0-9]+\s*(?:%|\)|$|\s)"


def _parse_number_frame(d: pl.DataFrame, guess: FormatGuess) -> pl.DataFrame:
    reading = guess.options["_reading"]
    rx, thousands, decimal = _READINGS[reading]
    parts = _number_parts(d)
    num = pl.col("num").str.strip_chars()
    digits = num.str.replace_all(re.escape(thousands), "", literal=False)
    if decimal == ",":
        digits = digits.str.replace(",", ".", literal=True)
    value = digits.cast(pl.Float64, strict=False)
    neg = (pl.col("sign") == "-") | ((pl.col("sign") == "(") & (pl.col("close") == ")"))
    value = pl.when(neg.fill_null(False)).then(-value).otherwise(value)
    balanced = (pl.col("sign") == "(").fill_null(False) == pl.col("close").is_not_null()
    is_pct = (pl.col("post") == "%").fill_null(False)
    ok = num.str.contains(rx) & balanced & (is_pct == guess.options["_percent"])
    if guess.options["_percent"]:
        value = value / 100.0
    return parts.select("v", "n", pl.when(ok).then(value).alias("x"))


# ------------------------------------------------------------------------------ dates


def _detect_numeric_date(d: pl.DataFrame, total: int) -> FormatGuess | None:
    g = d.with_columns(pl.col("v").str.extract_groups(_NUMERIC_DATE).alias("g")).unnest("g")
    g = g.filter(pl.col("a").is_not_null())
    if g.is_empty():
        return None
    a, b = pl.col("a").cast(pl.Int32), pl.col("b").cast(pl.Int32)
    stats = g.select(
        (a > 12).any().alias("day_first"),
        (b > 12).any().alias("month_first"),
        pl.col("sep").mode().first().alias("sep"),
        pl.col("H").is_not_null().any().alias("time"),
        (pl.col("y").str.len_chars() == 2).any().alias("short"),
    ).row(0, named=True)
    if stats["day_first"] and stats["month_first"]:
        return None  # both orders in one column: not one date format
    undetermined = not stats["day_first"] and not stats["month_first"]
    day_first = bool(stats["day_first"]) or (undetermined and stats["sep"] == ".")
    sep = stats["sep"]
    y = "yy" if stats["short"] else "yyyy"
    label = (f"dd{sep}mm{sep}{y}" if day_first else f"mm{sep}dd{sep}{y}") + (
        " hh:mm" if stats["time"] else ""
    )
    options: dict[str, Any] = {"day_first": day_first, "_shape": "numeric"}
    if undetermined:
        options["order_undetermined"] = True
    kind = "datetime" if stats["time"] else "date"
    guess = FormatGuess(kind, label, kind, 0.0, options=options)
    return _score(d, guess, total)


def _detect_named_date(d: pl.DataFrame, total: int) -> FormatGuess | None:
    best: FormatGuess | None = None
    for shape, label in ((_DMY_NAME, "d month yyyy"), (_MDY_NAME, "month d, yyyy")):
        guess = FormatGuess("date", label, "date", 0.0, options={"_shape": shape})
        scored = _score(d, guess, total)
        if scored is not None and (best is None or scored.hits > best.hits):
            best = scored
    return best


def _detect_simple(d: pl.DataFrame, total: int, name: str | None) -> list[FormatGuess]:
    out = []
    for shape, kind, label in ((_YMD, "date", "yyyy/mm/dd"), (_ISO_WEEK, "iso_week", "ISO week")):
        g = _score(d, FormatGuess(kind, label, "date", 0.0, options={"_shape": shape}), total)
        if g is not None:
            if kind == "date":
                sep = d.filter(pl.col("v").str.contains(_YMD))["v"].str.slice(4, 1).mode()
                g.format = f"yyyy{sep[0]}mm{sep[0]}dd" if sep.len() else label
            out.append(g)
    if names_a_date(name):
        guess = FormatGuess(
            "excel_serial", "Excel serial date (1900 system)", "date", 0.0,
            options={"_shape": _SERIAL},
        )  # fmt: skip
        scored = _score(d, guess, total)
        if scored is not None:
            out.append(scored)
    return out


def _score(d: pl.DataFrame, guess: FormatGuess, total: int) -> FormatGuess | None:
    parsed = _parse_date_frame(d, guess)
    hits = int(parsed.filter(pl.col("x").is_not_null())["n"].sum())
    if hits == 0:
        return None
    guess.hits, guess.values, guess.hit_ratio = hits, total, hits / total if total else 0.0
    return guess


def _year(y: pl.Expr) -> pl.Expr:
    yi = y.cast(pl.Int32, strict=False)
    short = pl.when(yi < 70).then(2000 + yi).otherwise(1900 + yi)
    return pl.when(y.str.len_chars() == 2).then(short).otherwise(yi)


def _parse_date_frame(d: pl.DataFrame, guess: FormatGuess) -> pl.DataFrame:
    shape = guess.options["_shape"]
    if shape == "numeric":
        g = d.with_columns(pl.col("v").str.extract_groups(_NUMERIC_DATE).alias("g")).unnest("g")
        day, month = ("a", "b") if guess.options["day_first"] else ("b", "a")
        date = pl.date(_year(pl.col("y")), pl.col(month).cast(pl.Int32), pl.col(day).cast(pl.Int32))
        if guess.kind == "datetime":
            t = pl.duration(
                hours=pl.col("H").cast(pl.Int64).fill_null(0),
                minutes=pl.col("M").cast(pl.Int64).fill_null(0),
                seconds=pl.col("S").cast(pl.Int64).fill_null(0),
            )
            x = date.cast(pl.Datetime("us")) + t
        else:
            x = date
        return _safe(g, x)
    if shape in (_DMY_NAME, _MDY_NAME):
        g = d.with_columns(pl.col("v").str.extract_groups(shape).alias("g")).unnest("g")
        month_no = (
            pl.col("m").str.to_lowercase().str.strip_chars_end(".")
            .replace_strict(MONTHS, default=None, return_dtype=pl.Int32)
        )  # fmt: skip
        return _safe(g, pl.date(pl.col("y").cast(pl.Int32), month_no, pl.col("d").cast(pl.Int32)))
    if shape == _YMD:
        g = d.with_columns(pl.col("v").str.extract_groups(_YMD).alias("g")).unnest("g")
        x = pl.date(
            pl.col("y").cast(pl.Int32), pl.col("m").cast(pl.Int32), pl.col("d").cast(pl.Int32)
        )
        return _safe(g, x)
    if shape == _ISO_WEEK:
        g = d.with_columns(pl.col("v").str.extract_groups(_ISO_WEEK).alias("g")).unnest("g")
        jan4 = pl.date(pl.col("y").cast(pl.Int32), 1, 4)
        week = pl.col("w").cast(pl.Int32)
        wday = pl.col("d").cast(pl.Int32).fill_null(1)
        monday1 = jan4 - pl.duration(days=jan4.dt.weekday() - 1)
        x = monday1 + pl.duration(days=(week - 1) * 7 + (wday - 1))
        valid = (week >= 1) & (week <= 53) & (x.dt.iso_year() == pl.col("y").cast(pl.Int32))
        return _safe(g, pl.when(valid).then(x))
    # Excel serial
    serial = pl.col("v").cast(pl.Float64, strict=False)
    inrange = serial.is_between(*SERIAL_RANGE) & pl.col("v").str.contains(_SERIAL)
    x = pl.date(1899, 12, 30) + pl.duration(days=serial.floor().cast(pl.Int64))
    return d.select("v", "n", pl.when(inrange).then(x).alias("x"))


def _safe(g: pl.DataFrame, x: pl.Expr) -> pl.DataFrame:
    """Evaluate a date expression; an impossible date (31 February) becomes null."""
    try:
        return g.select("v", "n", x.alias("x"))
    except pl.exceptions.PolarsError:  # pragma: no cover - polars nulls invalid dates
        return g.select("v", "n", pl.lit(None, dtype=pl.Date).alias("x"))


# ------------------------------------------------------------------------------ public API


def detect(
    values: pl.Series, name: str | None = None, min_ratio: float = 0.5
) -> FormatGuess | None:
    """The format that reads the most non-blank values of a text column, if it reads at least
    ``min_ratio`` of them (None otherwise, or for plain numbers / ISO dates)."""
    if values.dtype != pl.String:
        return None
    d = _distinct(values)
    total = int(d["n"].sum())
    if total == 0:
        return None
    guesses: list[FormatGuess] = []
    for fn in (_detect_number, _detect_numeric_date, _detect_named_date):
        g = fn(d, total)
        if g is not None:
            guesses.append(g)
    guesses += _detect_simple(d, total, name)
    if not guesses:
        return None
    best = max(guesses, key=lambda g: g.hits)
    return best if best.hit_ratio >= min_ratio else None


def parse(values: pl.Series, guess: FormatGuess) -> pl.Series:
    """``values`` read with ``guess``: Float64/Int64/Date/Datetime, null where a value does not
    fit (and for nulls and blanks)."""
    d = _distinct(values)
    if guess.kind in ("number", "percent", "currency"):
        table = _parse_number_frame(d, guess)
        dtype: Any = pl.Int64 if guess.dtype == "integer" else pl.Float64
    else:
        table = _parse_date_frame(d, guess)
        dtype = pl.Datetime("us") if guess.dtype == "datetime" else pl.Date
    key = values.cast(pl.String).str.replace_all(f"[{_SPACES}]", " ").str.strip_chars()
    mapping = table.select("v", pl.col("x").cast(dtype, strict=False))
    out = (
        pl.DataFrame({"v": key})
        .join(mapping, on="v", how="left", maintain_order="left")
        .get_column("x")
    )
    return out.alias(values.name)
