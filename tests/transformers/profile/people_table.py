"""A generated people table for PII detection tests: Faker, seven locales, seeded.

Ground truth per column (``TRUTH``): the PII type score-risk should report, or None for the
non-PII look-alikes. Headers are ordinary business headers; the name columns have no name hint
(``contact``, ``beneficiary``, ``referred_by``), the ID column mixes seven national formats with
blanks, card numbers are stored as integers (and once as floats), passwords and usernames sit
beside product codes, order numbers, cities, countries, companies and free-text notes.

German tax IDs are made here (Faker's de_DE has none) with the ISO 7064 MOD 11,10 check digit.
"""

from __future__ import annotations

import random

import polars as pl
from faker import Faker

LOCALES = ["en_US", "fr_FR", "de_DE", "es_ES", "it_IT", "nl_NL", "en_GB"]

TRUTH: dict[str, str | None] = {
    "customer_no": None,
    "contact": "person_name",
    "beneficiary": "person_name",
    "referred_by": "person_name",
    "mothers_maiden": "person_name",
    "e_mail": "email",
    "telefon": "phone",
    "doc_number": "national_id",
    "ssn": "ssn",
    "login": "username",
    "pwd": "password",
    "payment_card": "credit_card",
    "settlement_no": "credit_card",
    "iban": "iban",
    "geburtsdatum": "date_of_birth",
    "adresse": "street_address",
    "last_ip": "ip_address",
    "city": None,
    "country": None,
    "company": None,
    "product_code": None,
    "order_number": None,
    "order_date": None,
    "notes": None,
    "amount": None,
    "quantity": None,
    "status": None,
    "job": None,
}


def steuer_id(rng: random.Random) -> str:
    """A valid German tax ID: 10 digits with exactly one repeated digit, then the check."""
    while True:
        digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(9)]
        counts = [digits.count(d) for d in set(digits)]
        if sorted(counts)[-1] in (2, 3) and sum(c >= 2 for c in counts) == 1:
            break
    product = 10
    for d in digits:
        total = (d + product) % 10 or 10
        product = (total * 2) % 11
    check = 11 - product
    return "".join(map(str, digits)) + str(0 if check == 10 else check)


def national_id(fake: Faker, locale: str, rng: random.Random) -> str:
    if locale == "de_DE":
        return steuer_id(rng)
    if locale == "es_ES":
        return fake.nif() if rng.random() < 0.5 else fake.nie()
    if locale == "fr_FR":  # written with spaces as on the card: 1 84 12 76 451 089 46
        v = fake.ssn()
        return f"{v[0]} {v[1:3]} {v[3:5]} {v[5:7]} {v[7:10]} {v[10:13]} {v[13:]}"
    return str(fake.ssn())


def people_table(rows: int = 1400, seed: int = 19) -> pl.DataFrame:
    rng = random.Random(seed)
    fakers = {loc: Faker(loc) for loc in LOCALES}
    for i, f in enumerate(fakers.values()):
        f.seed_instance(seed + i)
    us = fakers["en_US"]
    out: dict[str, list[object]] = {c: [] for c in TRUTH}
    for i in range(rows):
        loc = LOCALES[i % len(LOCALES)]
        f = fakers[loc]
        out["customer_no"].append(100000 + i)
        out["contact"].append(f.name())
        out["beneficiary"].append(f.name() if rng.random() < 0.8 else None)
        out["referred_by"].append(f.first_name())
        out["mothers_maiden"].append(f.last_name())
        out["e_mail"].append(f.email())
        out["telefon"].append(f.phone_number())
        out["doc_number"].append(national_id(f, loc, rng) if rng.random() < 0.7 else None)
        out["ssn"].append(us.ssn())
        out["login"].append(f.user_name())
        out["pwd"].append(f.password())
        out["payment_card"].append(int(f.credit_card_number()))
        out["settlement_no"].append(float(us.credit_card_number(card_type="visa16")))
        out["iban"].append(f.iban())
        out["geburtsdatum"].append(f.date_of_birth(minimum_age=18, maximum_age=90).isoformat())
        out["adresse"].append(f.street_address())
        out["last_ip"].append(f.ipv4() if rng.random() < 0.9 else None)
        out["city"].append(f.city())
        out["country"].append(us.country())
        out["company"].append(f.company())
        out["product_code"].append(f"SKU-{rng.randint(0, 99999):05d}-{rng.choice('ABCDEFGH')}")
        out["order_number"].append(rng.randint(100_000_000, 999_999_999))
        out["order_date"].append(us.date_between("-2y", "today").isoformat())
        out["notes"].append(f.sentence(nb_words=8) if rng.random() < 0.6 else None)
        out["amount"].append(round(rng.uniform(1, 5000), 2))
        out["quantity"].append(rng.randint(1, 40))
        out["status"].append(rng.choice(["open", "paid", "shipped", "returned"]))
        out["job"].append(us.job())
    schema = {
        "customer_no": pl.Int64,
        "payment_card": pl.Int64,
        "settlement_no": pl.Float64,
        "order_number": pl.Int64,
        "amount": pl.Float64,
        "quantity": pl.Int64,
    }
    return pl.DataFrame(
        {c: pl.Series(c, v, dtype=schema.get(c, pl.String)) for c, v in out.items()}
    )
