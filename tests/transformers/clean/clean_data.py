"""A generated dirty data set with known injected defects (and the truth about each row)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import polars as pl
from clean_chain import with_row_id

FIRST = ["Alice", "Bruno", "Chloe", "Daniel", "Emma", "Farid", "Gina", "Hugo", "Ines", "Jonas"]
LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand"]
CITIES = ["Paris", "Lyon", "Marseille", "Toulouse", "Nantes"]
COMMENTS = ["Great service", "Would buy again", "Delivery was late", "Friendly staff"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

PARAMS: dict[str, dict[str, Any]] = {
    "quarantine-agent": {
        "required_fields": ["customer_id", "email"],
        "expected_schema": {"age": "integer"},
        "range_constraints": {"age": {"min": 0, "max": 120}},
        "format_constraints": {"zip": r"\d{5}"},
    },
    "type-fixer": {"day_first": True},
    "field-standardization": {"day_first": True},
}


@dataclass
class Truth:
    frame: pl.DataFrame
    clean_rows: set[int] = field(default_factory=set)
    quarantine: dict[int, str] = field(default_factory=dict)  # row id -> rule word in reason
    duplicates: dict[int, int] = field(default_factory=dict)  # removed row id -> kept row id
    placeholders: dict[tuple[int, str], str] = field(default_factory=dict)
    thousands: dict[int, float] = field(default_factory=dict)  # row id -> amount
    dates: dict[int, date] = field(default_factory=dict)  # row id -> true date
    outliers: set[int] = field(default_factory=set)
    spaced: dict[int, str] = field(default_factory=dict)  # row id -> trimmed city
    ordinary: set[int] = field(default_factory=set)
    unparseable: tuple[int, str] = (0, "")


def dirty_dataset(n_clean: int = 120, seed: int = 7) -> Truth:
    rnd = random.Random(seed)
    rows: list[dict[str, Any]] = []
    truth = Truth(pl.DataFrame())
    base = date(2023, 1, 1)

    def clean_row(i: int) -> dict[str, Any]:
        first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
        d = base + timedelta(days=rnd.randrange(0, 700))
        cents = rnd.randrange(10_000, 100_000) * 10 + rnd.randrange(1, 10)
        return {
            "customer_id": f"C{i:05d}",
            "name": f"{first} {last} {i}",
            "email": f"{first}.{last}{i}@Example.COM",
            "city": CITIES[i % len(CITIES)],
            "amount": str(cents / 100),
            "signup_date": d.isoformat(),
            "age": str(rnd.randrange(18, 80)),
            "zip": f"{rnd.randrange(1, 99999):05d}",
            "quantity": str(rnd.randrange(1, 50)),
            "comment": COMMENTS[i % len(COMMENTS)],
            "_date": d,
        }

    for i in range(n_clean):
        rows.append(clean_row(i))
    ids = list(range(n_clean))
    rnd.shuffle(ids)
    pick = iter(ids)

    def mark(rid: int) -> dict[str, Any]:
        return rows[rid]

    # placeholder nulls
    for token in ("N/A", "-", "N/A", "-"):
        r = next(pick)
        mark(r)["amount"] = token
        truth.placeholders[(r, "amount")] = token
    for token in ("N/A", "-"):
        r = next(pick)
        mark(r)["city"] = token
        truth.placeholders[(r, "city")] = token
    # numbers with thousands separators (and one with a currency sign)
    for k in range(4):
        r = next(pick)
        value = 1000 + k * 111.5 + 0.25
        mark(r)["amount"] = f"{'$' if k == 0 else ''}{value:,.2f}"
        truth.thousands[r] = value
    # dates: ISO (clean), day-first numeric and month-name forms
    for k in range(6):
        r = next(pick)
        d = rows[r]["_date"]
        numeric = f"{d.day:02d}/{d.month:02d}/{d.year}"
        named = f"{d.day} {MONTHS[d.month - 1]} {d.year}"
        mark(r)["signup_date"] = numeric if k % 2 else named
        truth.dates[r] = d
    r = next(pick)  # a day-first date that decides the order (day > 12)
    d = date(2024, 1, 31)
    rows[r]["_date"] = d
    mark(r)["signup_date"] = "31/01/2024"
    truth.dates[r] = d
    # outliers
    for value in ("99999.91", "87654.31"):
        r = next(pick)
        mark(r)["amount"] = value
        truth.outliers.add(r)
    # extra spaces
    for _ in range(2):
        r = next(pick)
        city = rows[r]["city"]
        mark(r)["city"] = f"  {city}  "
        truth.spaced[r] = city
    # ordinary text with "update" / "drop"
    for text in ("please update my address", "I'd like to drop by", "Update: call me - thanks"):
        r = next(pick)
        mark(r)["comment"] = text
        truth.ordinary.add(r)
    # a value that does not parse, kept
    r = next(pick)
    mark(r)["quantity"] = "twelve"
    truth.unparseable = (r, "twelve")
    touched = (
        {k[0] for k in truth.placeholders}
        | set(truth.thousands)
        | set(truth.dates)
        | truth.outliers
        | set(truth.spaced)
        | truth.ordinary
        | {truth.unparseable[0]}
    )

    # rows breaking constraints (appended)
    def bad(change: dict[str, Any], rule: str) -> None:
        src = rows[rnd.randrange(n_clean)]
        row = {**src, **change, "customer_id": f"Q{len(rows):05d}"}
        row["email"] = change.get("email", f"q{len(rows)}@example.com")
        rows.append(row)
        truth.quarantine[len(rows) - 1] = rule

    bad({"age": "150"}, "above")
    bad({"age": "-3"}, "below")
    bad({"age": "abc"}, "integer")
    bad({"zip": "ABCDE"}, "does not match")
    bad({"email": ""}, "required")
    bad({"comment": "x'; DROP TABLE users; --"}, "injection")
    bad({"comment": '=HYPERLINK("http://evil.example","click")'}, "injection")
    rows.append({k: ("" if k != "_date" else None) for k in rows[0]})
    truth.quarantine[len(rows) - 1] = "empty"

    # duplicates of clean rows (appended): exact, case/space variant, one typo
    clean_pool = [i for i in range(n_clean) if i not in touched]
    for kind in ("exact", "exact", "variant", "variant", "fuzzy", "fuzzy"):
        src_id = clean_pool.pop()
        row = dict(rows[src_id])
        if kind == "variant":
            row["name"] = "  " + row["name"].upper().replace(" ", "   ")
            row["city"] = row["city"].lower()
        elif kind == "fuzzy":
            name = row["name"]
            row["name"] = name[:3] + name[4:]  # one character dropped
        rows.append(row)
        truth.duplicates[len(rows) - 1] = src_id
    truth.clean_rows = set(range(n_clean)) - touched
    frame = pl.DataFrame(
        [{k: v for k, v in r.items() if k != "_date"} for r in rows],
        schema={k: pl.String for k in rows[0] if k != "_date"},
    )
    truth.frame = with_row_id(frame)
    return truth
