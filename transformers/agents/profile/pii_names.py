"""Person names by value: the given names and surnames of Faker's locale providers.

Faker (MIT licence, a dependency of the worker extra) ships, for some 80 locales, lists of
given names and surnames used to generate people; together they are about 56,000 distinct names,
loaded once per process (in well under a second) and kept as a set. No download at run time.

A value is a *name hit* when it has one to four words, every word (hyphenated parts checked
separately, titles such as "Dr." or "Mme" ignored) is in the lists, and at least one word is.
A column's hit ratio is the share of its non-null values that are hits, computed over the
distinct values (weighted by their counts) with polars, so a million rows cost what their
distinct values cost. Place names that are also names ("Paris", "Jordan") hit now and then;
a city or country column stays far below the ratio a name column reaches (names: 0.97-1.0 on
Faker's own locales; cities, countries, company names: 0.03-0.4 in mixed locales), which is
why a column needs ``NAME_RATIO`` of hits.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

import polars as pl

_LIST_ATTRS = (
    "first_names",
    "first_names_male",
    "first_names_female",
    "first_names_nonbinary",
    "last_names",
    "last_names_male",
    "last_names_female",
)
_TITLE_ATTRS = ("prefixes", "prefixes_male", "prefixes_female", "suffixes", "suffixes_male",
                "suffixes_female")  # fmt: skip
MAX_WORDS = 4
#: share of name hits a column needs to be called a person-name column by its values alone
NAME_RATIO = 0.8


def _class_attr(cls: type, attr: str) -> object:
    for klass in cls.__mro__:
        if attr in klass.__dict__:
            return klass.__dict__[attr]
    return None


def _words(values: object) -> set[str]:
    if isinstance(values, dict):
        values = list(values)
    if not isinstance(values, list | tuple | set | frozenset):
        return set()
    out: set[str] = set()
    for v in values:
        text = str(v).lower().strip()
        if text:
            out.update(text.replace(".", " ").split())
    return out


@lru_cache(maxsize=1)
def name_lists() -> tuple[frozenset[str], frozenset[str]]:
    """(names, titles), lower-case, from every locale of ``faker.providers.person``."""
    try:
        import faker.providers.person as person
    except ImportError:  # pragma: no cover - faker is a worker dependency
        return frozenset(), frozenset()
    names: set[str] = set()
    titles: set[str] = set()
    for mod in pkgutil.iter_modules(person.__path__):
        provider = importlib.import_module(f"{person.__name__}.{mod.name}").Provider
        for attr in _LIST_ATTRS:
            names |= _words(_class_attr(provider, attr))
        for attr in _TITLE_ATTRS:
            titles |= _words(_class_attr(provider, attr))
    return frozenset(names), frozenset(titles - names)


@lru_cache(maxsize=1)
def _lookup() -> tuple[pl.DataFrame, pl.DataFrame]:
    names, titles = name_lists()
    return (
        pl.DataFrame({"part": sorted(names), "name": True}),
        pl.DataFrame({"w": sorted(titles), "title": True}),
    )


def name_hit_ratio(values: pl.Series) -> float:
    """Share of the non-null values that are person names (see the module doc)."""
    s = values.drop_nulls().cast(pl.String)
    if s.len() == 0:
        return 0.0
    names, titles = _lookup()
    if names.is_empty():
        return 0.0
    counts = s.rename("value").value_counts(name="n").with_row_index("i")
    words = (
        counts.select(
            "i",
            pl.col("value")
            .str.to_lowercase()
            .str.replace_all(r"[.,]", " ")
            .str.strip_chars()
            .str.split(" ")
            .alias("w"),
        )
        .explode("w")
        .filter(pl.col("w").is_not_null() & (pl.col("w") != ""))
        .with_row_index("k")
    )
    if words.is_empty():
        return 0.0
    parts = (
        words.select("k", pl.col("w").str.split("-").alias("part"))
        .explode("part")
        .join(names, on="part", how="left")
        .group_by("k")
        .agg(pl.col("name").fill_null(False).all())
    )
    per_word = words.join(parts, on="k", how="left").join(titles, on="w", how="left")
    per_word = per_word.with_columns(
        pl.col("name").fill_null(False), pl.col("title").fill_null(False)
    )
    per_value = per_word.group_by("i").agg(
        (pl.col("name") | pl.col("title")).all().alias("all_ok"),
        pl.col("name").any().alias("any_name"),
        (~pl.col("title")).sum().alias("words"),
    )
    hit_ids = per_value.filter(
        pl.col("all_ok") & pl.col("any_name") & (pl.col("words") <= MAX_WORDS)
    ).select("i")
    hit = counts.join(hit_ids, on="i", how="inner")["n"].sum()
    return float(hit) / float(s.len())
