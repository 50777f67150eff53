"""Dependencies a fault test may break: its own embedded Redis and its own SeaweedFS on free
ports (never the shared 127.0.0.1:6379), and a gateway process pointed at them.

The database stays the session's (tenants made through the session's operator API work on
these gateways too)."""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from core.services import (
    ManagedProcess,
    embedded_redis_binary,
    free_port,
    free_port_with_grpc,
    start_redis,
    start_seaweedfs,
)
from tests.platform import ROOT, Platform, wait


@dataclass
class OwnRedis:
    """An embedded redis-server without persistence: a restart comes back empty."""

    workdir: Path
    port: int = field(default_factory=free_port)
    proc: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> OwnRedis:
        self.proc = start_redis(self.port, self.workdir, embedded_redis_binary())
        return self

    def wipe_and_restart(self) -> None:
        """Lose everything: the server dies (SIGKILL) and an empty one takes its port."""
        assert self.proc is not None
        self.proc.kill()
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


@dataclass
class OwnS3:
    """A SeaweedFS server of this test's own, that it may freeze, kill and bring back with the
    same data and ports."""

    workdir: Path
    port: int = field(default_factory=free_port_with_grpc)
    proc: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OwnS3:
        self.proc = start_seaweedfs(self.port, self.workdir)
        return self

    def freeze(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGCONT)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()

    def restart(self) -> None:
        """The same command again: same ports, same data directory, objects kept."""
        from core.services import _s3_answers

        assert self.proc is not None
        self.proc.start()
        self.proc.wait_until(lambda: _s3_answers(self.port), 90)

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.alive():
                self.thaw()
            self.proc.stop()


def gateway_process(
    platform: Platform, name: str, env: dict[str, str], port: int | None = None
) -> tuple[ManagedProcess, str]:
    """``python -m uvicorn gateway.app:app`` with the session's settings overridden by ``env``;
    returns when it answers ``/healthz``."""
    port = port or free_port()
    proc = ManagedProcess(
        name,
        [
            sys.executable,
            "-m",
            "uvicorn",
            "gateway.app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        platform.workdir / "logs" / f"{name}-{int(time.time() * 1000)}.log",
        env={**platform.env, "DATABASE_URL": os.environ["DATABASE_URL"], **env},
        cwd=ROOT,
    ).start()
    url = f"http://127.0.0.1:{port}"
    try:
        proc.wait_until(lambda: _answers(url), 60)
    except BaseException:
        proc.stop()
        raise
    return proc, url


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def client_for(url: str, api_key: str, timeout: float = 30) -> httpx.Client:
    return httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout
    )


def worker_process(
    platform: Platform,
    queues: list[str],
    name: str,
    env: dict[str, str],
    *,
    beat: bool = False,
    concurrency: int = 1,
) -> ManagedProcess:
    """A Celery worker on this test's own broker (``env["REDIS_URL"]``); returns once it
    answers a ping there."""
    from celery import Celery

    from workers.commands import PYTHON_CELERY, worker_argv

    argv = worker_argv(
        queues,
        node=name,
        concurrency=concurrency,
        launcher=PYTHON_CELERY,
        beat_schedule=str(platform.workdir / f"beat-{name}-{time.time()}") if beat else None,
    )
    proc = ManagedProcess(
        f"worker-{name}",
        argv,
        platform.workdir / "logs" / f"worker-{name}-{int(time.time() * 1000)}.log",
        env={**platform.env, "DATABASE_URL": os.environ["DATABASE_URL"], **env},
        cwd=ROOT,
    ).start()
    import socket

    control = Celery(broker=env["REDIS_URL"])
    node = f"{name}@{socket.gethostname()}"
    try:
        proc.wait_until(lambda: bool(control.control.ping(destination=[node], timeout=0.5)), 60)
    except BaseException:
        proc.stop()  # never leave a worker that did not answer behind
        raise
    finally:
        control.close()
    return proc


def task_of(client: httpx.Client, task_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/v1/tasks/{task_id}").json()
    return body


def wait_final(client: httpx.Client, task_id: str, timeout: float = 120) -> dict[str, Any]:
    final = ("COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELLED", "EXPIRED")

    def done() -> dict[str, Any] | None:
        try:
            body = task_of(client, task_id)
        except httpx.HTTPError:
            return None
        return body if body.get("status") in final else None

    result: dict[str, Any] = wait(done, timeout, 0.3, f"task {task_id} to end")
    return result
