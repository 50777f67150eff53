"""Per-tool scaling on this machine: the same batch through 1 and then 2 worker processes on
the profile queue, while the clean queue keeps its own pool and latency. Each profile task is
compute-bound for more than a second (``BENCH_SCALING_ROWS`` rows through unified-profiler),
so two processes can use two cores; the ratio is printed with its goal (≥ 1.6×) and the load
average beside it, since on a shared machine other processes decide how many cores are free.

Real services, started here: the embedded Redis, SeaweedFS, a fresh SQLite database, the
gateway (``python -m gateway``) and Celery worker processes started with exactly the argv the
Kubernetes and compose manifests use (``gateway.cli.infra.worker_command``). Prints the
throughput of each phase and their ratio, the clean-my-data latency alone and during each
phase, and finally shows a warm shutdown: SIGTERM to a worker's main process while it runs a
task, and the task still completes.
"""

from __future__ import annotations

import io
import os
import secrets
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench._util import BENCH_DIR, ROOT, goal_line, machine, ratio
from core.services import (
    ManagedProcess,
    embedded_redis_binary,
    free_port,
    port_open,
    start_redis,
    start_seaweedfs,
)
from gateway.cli.infra import worker_command

PROFILE = "profile-my-data"
CLEAN = "clean-my-data"
BATCH = int(os.environ.get("BENCH_SCALING_TASKS", "12"))
#: Rows per profile task: enough that each task is compute-bound for well over a second, so
#: two worker processes have work for two cores and the gateway is never the bottleneck.
ROWS = int(os.environ.get("BENCH_SCALING_ROWS", "300000"))
GOAL_RATIO, MIN_TASK_SECONDS = 1.6, 1.0
SAMPLE = ROOT / "core" / "samples" / "customers.csv"
FINAL = ("COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELLED", "EXPIRED")


class Stack:
    def __init__(self, workdir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.extra_env = dict(extra_env or {})
        self.procs: list[ManagedProcess] = []
        self.env: dict[str, str] = {}
        self.gateway_url = ""
        self.admin_key = "admin-" + secrets.token_urlsafe(24)

    def start(self) -> None:
        redis_port, s3_port, gw_port = free_port(), free_port(), free_port()
        self.procs.append(start_redis(redis_port, self.workdir / "redis", embedded_redis_binary()))
        self.procs.append(start_seaweedfs(s3_port, self.workdir / "s3"))
        self.env = {
            "APP_ENV": "test",
            "DATABASE_URL": f"sqlite:///{self.workdir / 'agensium.db'}",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
            "S3_BUCKET": "agensium-bench",
            "ADMIN_API_KEY": self.admin_key,
            "API_KEY_PEPPER": "bench-" + secrets.token_urlsafe(16),
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(gw_port),
            "OTEL_ENABLED": "false",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
            **self.extra_env,
        }
        import subprocess

        subprocess.run(
            [
                sys.executable,
                "-c",
                "from migrations.apply import upgrade; upgrade();"
                "from core.storage import get_storage; get_storage().ensure_bucket()",
            ],
            env={**os.environ, **self.env},
            cwd=ROOT,
            check=True,
        )
        gateway = ManagedProcess(
            "gateway",
            [sys.executable, "-m", "gateway"],
            self.workdir / "logs" / "gateway.log",
            env=self.env,
            cwd=ROOT,
        ).start()
        self.procs.append(gateway)
        self.gateway_url = f"http://127.0.0.1:{gw_port}"
        gateway.wait_until(lambda: port_open(gw_port), 60)

    def worker(self, queue: str, name: str) -> ManagedProcess:
        argv = worker_command(queue, 1)
        argv = [sys.executable, "-m", *argv]  # `celery ...` as the image runs it
        argv[argv.index("-n") + 1] = f"{name}@%h"
        proc = ManagedProcess(
            name, argv, self.workdir / "logs" / f"{name}.log", env=self.env, cwd=ROOT
        ).start()
        self.procs.append(proc)
        from celery import Celery

        app = Celery(broker=self.env["REDIS_URL"])
        node = f"{name}@{socket.gethostname()}"
        try:
            proc.wait_until(lambda: bool(app.control.ping(destination=[node], timeout=1)), 120)
        finally:
            app.close()
        return proc

    def worker_conf(self, name: str) -> dict[str, Any]:
        from celery import Celery

        app = Celery(broker=self.env["REDIS_URL"])
        try:
            node = f"{name}@{socket.gethostname()}"
            replies = app.control.inspect(destination=[node], timeout=5).conf() or {}
            return dict(replies.get(node, {}))
        finally:
            app.close()

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.stop()


def _tenant(stack: Stack) -> httpx.Client:
    admin = httpx.Client(
        base_url=stack.gateway_url,
        headers={"Authorization": f"Bearer {stack.admin_key}"},
        timeout=60,
    )
    tenant = admin.post("/v1/admin/tenants", json={"name": "bench", "plan": "enterprise"})
    tenant.raise_for_status()
    tid = tenant.json()["tenant_id"]
    key = admin.post(f"/v1/admin/tenants/{tid}/api-keys", json={"name": "bench"}).json()
    admin.post(
        f"/v1/admin/tenants/{tid}/grants", json={"credits": 1_000_000, "reason": "bench"}
    ).raise_for_status()
    admin.close()
    return httpx.Client(
        base_url=stack.gateway_url,
        headers={"Authorization": f"Bearer {key['api_key']}"},
        timeout=60,
    )


def _create(client: httpx.Client, tool: str, agents: list[str], data: bytes) -> str:
    r = client.post("/v1/tasks", json={"tool_id": tool, "agents": agents})
    r.raise_for_status()
    task_id: str = r.json()["task_id"]
    r = client.put(
        f"/v1/tasks/{task_id}/files/primary", params={"filename": "data.csv"}, content=data
    )
    r.raise_for_status()
    return task_id


def _process(client: httpx.Client, task_id: str) -> None:
    client.post(f"/v1/tasks/{task_id}/process").raise_for_status()


def _status(client: httpx.Client, task_id: str) -> str:
    status: str = client.get(f"/v1/tasks/{task_id}").json()["status"]
    return status


def _wait(client: httpx.Client, ids: list[str], timeout: float = 900) -> dict[str, str]:
    pending = set(ids)
    done: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for tid in list(pending):
            status = _status(client, tid)
            if status in FINAL:
                done[tid] = status
                pending.discard(tid)
        time.sleep(0.5)
    if pending:
        raise TimeoutError(f"{len(pending)} tasks not final after {timeout:.0f}s")
    return done


def _clean_latency(client: httpx.Client, data: bytes) -> float:
    task_id = _create(client, CLEAN, ["cleanse-previewer", "type-fixer"], data)
    t0 = time.perf_counter()
    _process(client, task_id)
    status = _wait(client, [task_id])[task_id]
    assert status in ("COMPLETED", "COMPLETED_WITH_ERRORS"), status
    return time.perf_counter() - t0


def _run_seconds(client: httpx.Client, ids: list[str]) -> float:
    """Mean time a worker spent on one task (started_at → finished_at)."""
    import datetime as dt

    spans = []
    for tid in ids:
        body = client.get(f"/v1/tasks/{tid}").json()
        if body.get("started_at") and body.get("finished_at"):
            start = dt.datetime.fromisoformat(body["started_at"])
            end = dt.datetime.fromisoformat(body["finished_at"])
            spans.append((end - start).total_seconds())
    return sum(spans) / len(spans) if spans else float("nan")


def _phase(client: httpx.Client, data: bytes, clean_data: bytes) -> tuple[float, float, float]:
    """Submit the batch (uploads first, not timed), process all at once; meanwhile one
    clean-my-data task. Returns (profile tasks per second, clean latency in seconds, the
    seconds a worker spent per task)."""
    ids = [_create(client, PROFILE, ["unified-profiler"], data) for _ in range(BATCH)]
    t0 = time.perf_counter()
    for tid in ids:
        _process(client, tid)
    time.sleep(0.5)  # the batch is queued ahead; now the other tool's task arrives
    clean = _clean_latency(client, clean_data)
    statuses = _wait(client, ids)
    wall = time.perf_counter() - t0
    bad = [s for s in statuses.values() if s not in ("COMPLETED", "COMPLETED_WITH_ERRORS")]
    assert not bad, bad
    load = os.getloadavg()[0]
    per_task = _run_seconds(client, ids)
    print(
        f"     (wall {wall:5.1f} s; a worker spent {per_task:.2f} s per task;"
        f" 1-min load average {load:.1f} on {os.cpu_count()} CPUs)"
    )
    return BATCH / wall, clean, per_task


def _big_csv(rows: int) -> bytes:
    out = io.StringIO()
    out.write("id,name,email,amount,city,joined\n")
    for i in range(rows):
        out.write(f"{i},Name {i % 977},user{i}@example.com,{(i * 37) % 10007 / 7:.2f},")
        out.write(f"City {i % 113},2024-{1 + i % 12:02d}-{1 + i % 28:02d}\n")
    return out.getvalue().encode()


def _warm_shutdown(stack: Stack, client: httpx.Client) -> None:
    """SIGTERM to a worker's main process (what Kubernetes sends on scale-in) while it runs
    a task: the task completes and then the worker exits."""
    proc = stack.worker(PROFILE, "drain")
    task_id = _create(client, PROFILE, ["unified-profiler", "score-risk"], _big_csv(300_000))
    _process(client, task_id)
    deadline = time.monotonic() + 120
    while _status(client, task_id) != "PROCESSING" and time.monotonic() < deadline:
        time.sleep(0.05)
    t0 = time.perf_counter()
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.proc is not None
    proc.proc.wait(300)
    exited = time.perf_counter() - t0
    status = _wait(client, [task_id])[task_id]
    print(
        f"\n  warm shutdown: SIGTERM while the task was PROCESSING; worker exited after "
        f"{exited:.1f} s with exit code {proc.proc.returncode}; task {status}"
    )


def main() -> None:
    workdir = BENCH_DIR / f"scaling-{int(time.time())}"
    workdir.mkdir(parents=True, exist_ok=True)
    stack = Stack(workdir)
    data = _big_csv(ROWS)
    clean_data = SAMPLE.read_bytes()
    print(f"\n== scaling one tool's pool: {BATCH} x {PROFILE} (unified-profiler, {ROWS} rows)")
    print(f"   machine: {machine()}; workdir {workdir}")
    try:
        stack.start()
        client = _tenant(stack)
        stack.worker(CLEAN, "clean-1")
        stack.worker(PROFILE, "profile-1")
        conf = stack.worker_conf("profile-1")
        print(
            "   worker conf (from the running worker): "
            f"worker_soft_shutdown_timeout={conf.get('worker_soft_shutdown_timeout')}, "
            f"task_time_limit={conf.get('task_time_limit')}, "
            f"worker_prefetch_multiplier={conf.get('worker_prefetch_multiplier')}"
        )
        _clean_latency(client, clean_data)  # warm-up (imports, first S3 writes)
        alone = min(_clean_latency(client, clean_data) for _ in range(3))
        print(f"   {CLEAN} latency, queues idle:            {alone:6.2f} s")

        tput1, clean1, secs1 = _phase(client, data, clean_data)
        print(f"   1 profile worker:  {tput1:6.2f} tasks/s;  {CLEAN} meanwhile {clean1:6.2f} s")
        stack.worker(PROFILE, "profile-2")
        tput2, clean2, secs2 = _phase(client, data, clean_data)
        print(f"   2 profile workers: {tput2:6.2f} tasks/s;  {CLEAN} meanwhile {clean2:6.2f} s")
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(
            goal_line(
                "seconds per task (compute-bound)", min(secs1, secs2), MIN_TASK_SECONDS, unit=" s"
            )
        )
        print(goal_line("throughput ratio 2 workers / 1 worker", tput2 / tput1, GOAL_RATIO))
        print(
            f"   load average now {load} on {os.cpu_count()} CPUs: above ~{os.cpu_count()}, other"
            " processes hold the cores and no pool size can reach the goal"
        )
        print(
            f"   {CLEAN} latency during the batch vs idle: {ratio(clean1, alone)} (1 worker), "
            f"{ratio(clean2, alone)} (2 workers)"
        )
        _warm_shutdown(stack, client)
        client.close()
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
