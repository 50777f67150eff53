"""The embedded SQLite database: WAL, and commits that do not wait for an fsync unless asked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from core.db import _make_engine
from core.settings import reset_settings

# PRAGMA synchronous answers a number: 1 = NORMAL, 2 = FULL.
NORMAL, FULL = 1, 2


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    reset_settings()
    yield
    reset_settings()


def _pragmas(db: Path) -> tuple[str, int]:
    engine = _make_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            mode = conn.execute(text("PRAGMA journal_mode")).scalar_one()
            sync = conn.execute(text("PRAGMA synchronous")).scalar_one()
        return str(mode), int(sync)
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_with_synchronous_normal_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    monkeypatch.delenv("SQLITE_SYNCHRONOUS", raising=False)
    reset_settings()
    assert _pragmas(tmp_path / "a.db") == ("wal", NORMAL)


def test_sqlite_synchronous_full_when_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    monkeypatch.setenv("SQLITE_SYNCHRONOUS", "FULL")
    reset_settings()
    assert _pragmas(tmp_path / "b.db") == ("wal", FULL)
