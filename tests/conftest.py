"""Session fixtures: real PostgreSQL/SQLite, Redis, SeaweedFS S3, a live gateway and a real
Celery worker process. Tests that need none of them (pure engine tests) start nothing."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.services import ManagedProcess, free_port
from tests.platform import ROOT, Platform, apply_env, migrate, start_platform, wait
from workers.commands import PYTHON_CELERY, worker_argv


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    p = start_platform(tmp_path_factory.mktemp("platform"))
    try:
        apply_env(p)
        migrate(p.sqlite_url)
        if p.postgres_url:
            migrate(p.postgres_url)
        from core.storage import get_storage

        get_storage().ensure_bucket()
        yield p
    finally:
        p.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def dual_db(request: pytest.FixtureRequest, platform: Platform) -> Iterator[str]:
    """Run a database test on both backends (PostgreSQL is what production uses, SQLite what
    the embedded stack uses)."""
    backend = request.param
    url = platform.sqlite_url if backend == "sqlite" else platform.postgres_url
    if url is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required in CI but does not answer on 127.0.0.1:5432")
        pytest.skip("PostgreSQL is not running here")
    apply_env(platform, database_url=url)
    try:
        yield backend
    finally:
        apply_env(platform)


@pytest.fixture
def session(platform: Platform) -> Iterator[Any]:
    from core.db import get_sessionmaker

    s = get_sessionmaker()()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


class _ServerThread:
    def __init__(self, port: int) -> None:
        import uvicorn

        from gateway.app import create_app

        self.port = port
        config = uvicorn.Config(
            create_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="gateway")

    def start(self) -> None:
        self.thread.start()
        wait(lambda: _port_open(self.port), 20, what="gateway")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def gateway_url(platform: Platform) -> Iterator[str]:
    """The real FastAPI app served by uvicorn on a free port (in a thread of this process)."""
    server = _ServerThread(free_port())
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def start_worker(
    platform: Platform,
    queues: list[str],
    name: str,
    *,
    concurrency: int = 1,
    extra_env: dict[str, str] | None = None,
    beat: bool = False,
) -> ManagedProcess:
    """A real Celery worker process consuming the given queues."""
    argv = worker_argv(
        queues,
        node=name,
        concurrency=concurrency,
        launcher=PYTHON_CELERY,
        beat_schedule=str(platform.workdir / f"beat-{name}") if beat else None,
    )
    proc = ManagedProcess(
        f"worker-{name}",
        argv,
        platform.workdir / "logs" / f"worker-{name}-{int(time.time() * 1000)}.log",
        env={**platform.env, "DATABASE_URL": os.environ["DATABASE_URL"], **(extra_env or {})},
        cwd=ROOT,
    ).start()
    from workers.app import app

    host = socket.gethostname()
    try:
        proc.wait_until(
            lambda: bool(app.control.ping(destination=[f"{name}@{host}"], timeout=0.5)), 60
        )
    except BaseException:
        proc.stop()  # a worker that never answered must not outlive its fixture
        raise
    return proc


def all_queues_worker_with(platform: Platform, faults: str) -> Iterator[ManagedProcess]:
    """For a module's own ``worker`` fixture: every queue, with faults injected
    (``workers/faults.py``), e.g. ``sleep:score-risk:3`` so a task is reliably mid-run for a
    few seconds however fast the agents are. Named ``all@host`` like the default worker, so
    remote-control helpers (``paused_queue``) reach it."""
    from workers.queues import all_queues

    proc = start_worker(
        platform, all_queues(), "all", concurrency=2, extra_env={"AGENSIUM_FAULTS": faults}
    )
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def worker(platform: Platform) -> Iterator[ManagedProcess]:
    """One worker process serving every tool queue and the maintenance queue, per test module
    (worker tests that need the queues to themselves simply don't request it)."""
    from workers.queues import all_queues

    proc = start_worker(platform, all_queues(), "all", concurrency=2)
    try:
        yield proc
    finally:
        proc.stop()


@dataclass
class TenantClient:
    tenant_id: str
    api_key: str
    client: httpx.Client

    def close(self) -> None:
        self.client.close()


@pytest.fixture(scope="session")
def admin(platform: Platform, gateway_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=gateway_url, headers={"Authorization": f"Bearer {platform.admin_key}"}, timeout=60
    ) as client:
        yield client


def new_tenant(
    admin: httpx.Client,
    gateway_url: str,
    *,
    credits: int = 10_000,
    plan: str = "pro",
    name: str = "tenant",
) -> TenantClient:
    """A tenant made through the operator API, with an API key and granted credits."""
    r = admin.post("/v1/admin/tenants", json={"name": name, "plan": plan})
    assert r.status_code == 201, r.text
    tenant_id = r.json()["tenant_id"]
    r = admin.post(f"/v1/admin/tenants/{tenant_id}/api-keys", json={"name": "test"})
    assert r.status_code == 201, r.text
    key = r.json()["api_key"]
    if credits:
        r = admin.post(
            f"/v1/admin/tenants/{tenant_id}/grants", json={"credits": credits, "reason": "test"}
        )
        assert r.status_code == 201, r.text
    client = httpx.Client(
        base_url=gateway_url, headers={"Authorization": f"Bearer {key}"}, timeout=60
    )
    return TenantClient(tenant_id, key, client)


@pytest.fixture
def make_tenant(admin: httpx.Client, gateway_url: str) -> Iterator[Any]:
    made: list[TenantClient] = []

    def _make(credits: int = 10_000, plan: str = "pro", name: str = "tenant") -> TenantClient:
        tc = new_tenant(admin, gateway_url, credits=credits, plan=plan, name=name)
        made.append(tc)
        return tc

    yield _make
    for tc in made:
        tc.close()


def wait_for_task(
    client: httpx.Client,
    task_id: str,
    timeout: float = 120,
    statuses: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    final = statuses or ("COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELLED", "EXPIRED")

    def done() -> dict[str, Any] | None:
        body = client.get(f"/v1/tasks/{task_id}").json()
        return body if body.get("status") in final else None

    result: dict[str, Any] = wait(done, timeout, 0.3, f"task {task_id} to reach {final}")
    return result


def submit(
    tc: TenantClient,
    tool_id: str,
    files: dict[str, tuple[str, bytes]],
    *,
    agents: list[str] | None = None,
    parameters: dict[str, Any] | None = None,
    process: bool = True,
    extra: dict[str, Any] | None = None,
) -> str:
    body: dict[str, Any] = {"tool_id": tool_id, **(extra or {})}
    if agents is not None:
        body["agents"] = agents
    if parameters is not None:
        body["parameters"] = parameters
    r = tc.client.post("/v1/tasks", json=body)
    assert r.status_code == 201, r.text
    task_id: str = r.json()["task_id"]
    for role, (filename, data) in files.items():
        r = tc.client.put(
            f"/v1/tasks/{task_id}/files/{role}", params={"filename": filename}, content=data
        )
        assert r.status_code == 200, r.text
    if process:
        r = tc.client.post(f"/v1/tasks/{task_id}/process")
        assert r.status_code == 202, r.text
    return task_id


FIXTURES = Path(__file__).parent / "fixtures"

logging.getLogger("httpx").setLevel(logging.WARNING)
