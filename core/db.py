"""Database engine, sessions and the declarative base.

The boundary owns the transaction: ``session_scope()`` (workers, CLI) and the gateway's
``SessionDep`` commit on success and roll back on failure. Services only ``flush()``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy
import sqlalchemy.exc
from sqlalchemy import JSON, Connection, DateTime, Engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from core.errors import DependencyUnavailableError
from core.settings import get_settings

#: JSON everywhere, JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware timestamps on both backends (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use core.db.utcnow()")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSONType}


def _make_engine(url: str) -> Engine:
    settings = get_settings()
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Through the module: OpenTelemetry's instrumentation wraps sqlalchemy.create_engine.
        engine = sqlalchemy.create_engine(
            url,
            echo=settings.database_echo,
            connect_args={"check_same_thread": False, "timeout": 30},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
            # WAL lets the gateway read while a worker writes; BEGIN IMMEDIATE (below) makes
            # each write transaction take the write lock up front, which is how SQLite
            # serialises concurrent credit holds without lost updates. synchronous=NORMAL
            # (the default of SQLITE_SYNCHRONOUS): no fsync per commit, see core/settings.py.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={settings.sqlite_synchronous}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # A read-only unit of work (``session_scope(read_only=True)``) begins deferred: it
            # takes no write lock, so reads run beside each other and beside a writer (WAL)
            # instead of queueing for the lock. ``query_only`` makes a write in one fail at
            # once rather than take the lock mid-transaction.
            read_only = bool(conn.get_execution_options().get(READ_ONLY))
            info = conn.connection.info
            if info.get("query_only", False) != read_only:
                conn.exec_driver_sql(f"PRAGMA query_only={'ON' if read_only else 'OFF'}")
                info["query_only"] = read_only
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sqlalchemy.create_engine(
        url,
        echo=settings.database_echo,
        pool_pre_ping=True,
        pool_size=10,
        pool_timeout=settings.database_pool_timeout_seconds,
        connect_args={
            "connect_timeout": settings.database_connect_timeout_seconds,
            "options": f"-c statement_timeout={settings.database_statement_timeout_ms}",
        },
    )


@lru_cache
def get_engine() -> Engine:
    return _make_engine(get_settings().database_url)


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


def reset_engine() -> None:
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


#: Execution option of a read-only unit of work (see ``session_scope``).
READ_ONLY = "agensium_read_only"


@contextmanager
def session_scope(*, read_only: bool = False) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any exception.

    ``read_only``: it only reads. On SQLite it then begins without taking the write lock
    (``BEGIN`` rather than ``BEGIN IMMEDIATE``) and refuses writes (``PRAGMA query_only``).

    A database that refused, dropped or did not answer a connection or a statement in time
    (connect, statement and pool timeouts above) is raised as ``DependencyUnavailableError``:
    the gateway answers 503 with ``Retry-After`` and the worker retries, never a 500."""
    maker = get_sessionmaker()
    session = maker(execution_options={READ_ONLY: True}) if read_only else maker()
    try:
        yield session
        session.commit()
    except DATABASE_OUTAGES as exc:
        with contextlib.suppress(Exception):  # the connection may be gone already
            session.rollback()
        if read_only and "readonly database" in str(exc):
            raise  # a write in a read-only unit of work is a bug, not an outage
        raise database_unavailable(exc) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        with contextlib.suppress(Exception):
            session.close()


@contextmanager
def read_connection() -> Iterator[Connection]:
    """A read-only transaction on a Core connection, without an ORM session: for the hot
    one-statement reads (the wallet), where the session's own setup costs more than the
    query. Same outage mapping and read-only rules as ``session_scope(read_only=True)``."""
    try:
        conn = get_engine().connect().execution_options(**{READ_ONLY: True})
        with conn, conn.begin():
            yield conn
    except DATABASE_OUTAGES as exc:
        if "readonly database" in str(exc):
            raise
        raise database_unavailable(exc) from exc


#: What the driver raises when the database refused, dropped or did not answer in time.
DATABASE_OUTAGES: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection within the pool timeout
)


def database_unavailable(exc: BaseException) -> DependencyUnavailableError:
    return DependencyUnavailableError(
        "The database is unavailable; retry later",
        details={"dependency": "database", "reason": type(exc).__name__},
        headers={"Retry-After": str(get_settings().dependency_retry_after_seconds)},
    )


def is_postgres(session_or_engine: Session | Engine) -> bool:
    bind = (
        session_or_engine.get_bind()
        if isinstance(session_or_engine, Session)
        else session_or_engine
    )
    return bind.dialect.name == "postgresql"
