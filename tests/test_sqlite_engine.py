"""The embedded SQLite database: WAL, and commits that do not wait for an fsync unless asked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from core.db import _make_engine, read_connection, session_scope
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


@pytest.fixture
def sqlite_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from core.db import reset_engine

    db = tmp_path / "c.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    reset_settings()
    reset_engine()
    with session_scope() as session:
        session.execute(text("CREATE TABLE t (a INTEGER)"))
        session.execute(text("INSERT INTO t VALUES (1)"))
    yield db
    reset_engine()
    reset_settings()


def test_a_read_only_unit_of_work_reads_while_a_writer_holds_the_lock(sqlite_db: Path) -> None:
    import sqlite3
    import time

    writer = sqlite3.connect(sqlite_db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # holds the write lock until it commits
    writer.execute("INSERT INTO t VALUES (2)")
    try:
        started = time.monotonic()
        with session_scope(read_only=True) as session:
            rows = session.execute(text("SELECT a FROM t")).scalars().all()
        assert rows == [1]  # the last committed state, without waiting for the writer
        assert time.monotonic() - started < 1.0  # busy_timeout is 30 s: it did not queue
    finally:
        writer.execute("COMMIT")
        writer.close()
    with session_scope() as session:  # a normal unit of work on the same pooled connection
        session.execute(text("INSERT INTO t VALUES (3)"))
    with session_scope(read_only=True) as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 3


def test_a_write_in_a_read_only_unit_of_work_fails_and_changes_nothing(sqlite_db: Path) -> None:
    # A bug, not an outage: raised as the database's error, never as a 503.
    with (
        pytest.raises(OperationalError, match="readonly"),
        session_scope(read_only=True) as session,
    ):
        session.execute(text("INSERT INTO t VALUES (9)"))
    with session_scope() as session:
        assert session.execute(text("SELECT a FROM t")).scalars().all() == [1]


def test_a_read_connection_reads_committed_rows_and_refuses_writes(sqlite_db: Path) -> None:
    with read_connection() as conn:
        assert conn.execute(text("SELECT a FROM t")).scalars().all() == [1]
    with pytest.raises(OperationalError, match="readonly"), read_connection() as conn:
        conn.execute(text("INSERT INTO t VALUES (9)"))
    with session_scope() as session:  # the pooled connection is writable again
        session.execute(text("INSERT INTO t VALUES (2)"))
    with read_connection() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
