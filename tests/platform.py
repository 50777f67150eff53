"""The real services a test session runs against, started once per session.

- PostgreSQL when it answers on 127.0.0.1:5432 (a fresh database per session), else SQLite;
  ``AGENSIUM_TEST_DB=sqlite|postgresql`` forces one. Dual-backend tests use both.
- Redis on 127.0.0.1:6379 when it answers (a session-private database index), else the
  embedded binary; ``AGENSIUM_TEST_EMBEDDED_REDIS=1`` forces the embedded one.
- A SeaweedFS S3 server per session.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from core.services import (
    ManagedProcess,
    embedded_redis_binary,
    free_port,
    port_open,
    start_redis,
    start_seaweedfs,
)

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "AGENSIUM_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def pg_available() -> bool:
    return os.environ.get("AGENSIUM_TEST_DB") != "sqlite" and port_open(5432)


def create_pg_database() -> str:
    import psycopg

    name = f"agensium_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def claim_redis_db() -> int:
    """A database index on the shared Redis that no other live test session uses.

    Claimed atomically (``SET NX`` with an expiry, refreshed by nothing: a session lasts far
    less than the hour) in database 0, then emptied; two concurrent sessions never share one.
    """
    import redis

    control = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    for db in range(1, 16):
        if control.set(f"agensium:test-db:{db}", str(os.getpid()), nx=True, ex=3600):
            redis.Redis.from_url(f"redis://127.0.0.1:6379/{db}").flushdb()
            return db
    raise RuntimeError("all 15 Redis test databases are claimed by other sessions")


def release_redis_db(redis_url: str) -> None:
    import redis

    db = redis_url.rsplit("/", 1)[1]
    redis.Redis.from_url("redis://127.0.0.1:6379/0").delete(f"agensium:test-db:{db}")


def _start_s3(workdir: Path) -> tuple[ManagedProcess, int]:
    """SeaweedFS on free ports; a port taken between choosing and binding gets a retry."""
    from core.services import free_port_with_grpc

    last: Exception | None = None
    for attempt in range(3):
        port = free_port_with_grpc()
        try:
            return start_seaweedfs(port, workdir / f"s3-{attempt}"), port
        except (RuntimeError, TimeoutError) as exc:
            last = exc
    raise RuntimeError(f"SeaweedFS did not start: {last}")


@dataclass
class Platform:
    workdir: Path
    database_url: str
    sqlite_url: str
    postgres_url: str | None
    redis_url: str
    s3_endpoint: str
    bucket: str
    admin_key: str
    #: Ports reserved for callback receivers: the only private targets callbacks may reach.
    callback_ports: list[int] = field(default_factory=list)
    processes: list[ManagedProcess] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def backend(self) -> str:
        return "postgresql" if self.database_url.startswith("postgresql") else "sqlite"

    def stop(self) -> None:
        for p in reversed(self.processes):
            p.stop()
        if self.redis_url.startswith("redis://127.0.0.1:6379/"):
            release_redis_db(self.redis_url)
        if self.postgres_url:
            try:
                drop_pg_database(self.postgres_url)
            except Exception as exc:  # leave no failure behind for a cleanup problem
                print(f"warning: could not drop {self.postgres_url}: {exc}", file=sys.stderr)


def start_platform(workdir: Path) -> Platform:
    processes: list[ManagedProcess] = []
    if os.environ.get("AGENSIUM_TEST_EMBEDDED_REDIS") or not port_open(6379):
        port = free_port()
        processes.append(start_redis(port, workdir / "redis", embedded_redis_binary()))
        redis_url = f"redis://127.0.0.1:{port}/0"
    else:
        db = claim_redis_db()
        redis_url = f"redis://127.0.0.1:6379/{db}"
    s3, s3_port = _start_s3(workdir)
    processes.append(s3)
    postgres_url = create_pg_database() if pg_available() else None
    sqlite_url = f"sqlite:///{workdir / 'agensium.db'}"
    database_url = postgres_url or sqlite_url
    if os.environ.get("AGENSIUM_TEST_DB") == "sqlite":
        database_url = sqlite_url
    admin_key = "admin-" + secrets.token_urlsafe(24)
    callback_ports = [free_port(), free_port()]
    platform = Platform(
        workdir=workdir,
        database_url=database_url,
        sqlite_url=sqlite_url,
        postgres_url=postgres_url,
        redis_url=redis_url,
        s3_endpoint=f"http://127.0.0.1:{s3_port}",
        bucket=f"agensium-test-{uuid.uuid4().hex[:8]}",
        admin_key=admin_key,
        callback_ports=callback_ports,
        processes=processes,
    )
    platform.env = {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "S3_ENDPOINT_URL": platform.s3_endpoint,
        "S3_BUCKET": platform.bucket,
        "ADMIN_API_KEY": admin_key,
        "API_KEY_PEPPER": "test-pepper-" + uuid.uuid4().hex,
        "CALLBACK_ALLOW_HOSTS": ",".join(f"127.0.0.1:{p}" for p in callback_ports),
        "LOG_JSON": "true",
        "LOG_LEVEL": "INFO",
        "TASK_LEASE_SECONDS": "6",
        "SWEEPER_INTERVAL_SECONDS": "2",
        "SWEEPER_LOST_MESSAGE_AFTER_SECONDS": "3",
        "PRINCIPAL_CACHE_SECONDS": "1",
        "CELERY_WORKER_CONCURRENCY": "2",
        "OTEL_ENABLED": "false",
        "PYTHONPATH": str(ROOT),
    }
    return platform


def apply_env(platform: Platform, database_url: str | None = None) -> None:
    """Point this process's settings and cached clients at the platform (or another DB)."""
    os.environ.update(platform.env)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    from core.db import reset_engine
    from core.redis import reset_redis
    from core.settings import reset_settings
    from core.storage import reset_storage

    reset_settings()
    reset_engine()
    reset_storage()
    reset_redis()
    from tenants.service import invalidate_principals

    invalidate_principals()
    from core.settings import get_settings
    from workers.app import app
    from workers.config import celery_config

    app.conf.update(celery_config(get_settings()))


def migrate(database_url: str) -> None:
    import subprocess

    subprocess.run(
        [sys.executable, "-c", "from migrations.apply import upgrade; upgrade()"],
        env={**os.environ, "DATABASE_URL": database_url},
        check=True,
        cwd=ROOT,
    )


def wait(predicate, timeout: float = 60, interval: float = 0.2, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what} (last: {last!r})")
