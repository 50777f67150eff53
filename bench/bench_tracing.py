"""The gateway's throughput with OpenTelemetry tracing on and off, in the same run.

Two gateway processes on the same SQLite database: one with ``OTEL_ENABLED=false``, one with
the SDK, every instrumentation (FastAPI, SQLAlchemy, Redis, botocore, Celery) and a
``BatchSpanProcessor`` exporting OTLP/HTTP to a local no-op collector; each gateway is pinned to
one core. The load is an authenticated read (``GET /v1/tasks``: API key check, rate limit, one
SQL query — a span of its own when traced — and JSON) from ``wrk`` (one thread, pinned to the
other core), alternating between the two gateways over several rounds so that noise on a shared
machine falls on both. The ratio is traced / untraced requests per second (goal ≥ 0.8). The
plan's read limit is raised for the run, so no request is refused with 429.
"""

from __future__ import annotations

import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from bench._util import ROOT, WrkResult, client_core, goal_line, machine, server_core, wrk
from core.services import ManagedProcess, free_port, port_open

CONNECTIONS = 4
GOAL = 0.8
ROUND_SECONDS = float(os.environ.get("BENCH_TRACING_ROUND_SECONDS", "3"))
ROUNDS = int(os.environ.get("BENCH_TRACING_ROUNDS", "5"))
WARMUP = 200


class _NoopCollector:
    """Accepts OTLP/HTTP exports and discards them (what the exporter talks to)."""

    def __init__(self) -> None:
        self.batches = 0
        collector = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                collector.batches += 1
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _redis_url(workdir: Path, processes: list[ManagedProcess]) -> str:
    if port_open(6379):
        return "redis://127.0.0.1:6379/15"
    from core.services import embedded_redis_binary, start_redis

    port = free_port()
    processes.append(start_redis(port, workdir / "redis", embedded_redis_binary()))
    return f"redis://127.0.0.1:{port}/0"


def _gateway(name: str, env: dict[str, str], workdir: Path) -> tuple[ManagedProcess, str]:
    port = free_port()
    argv = ["taskset", "-c", str(server_core()), sys.executable, "-m", "uvicorn"]
    argv += ["gateway.app:app", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    proc = ManagedProcess(name, argv, workdir / f"{name}.log", env=env, cwd=ROOT).start()
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    proc.wait_until(healthy, 60)
    return proc, url


def _tenant_key(url: str, admin_key: str) -> str:
    admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"})
    admin.patch("/v1/admin/plans/pro", json={"read_per_minute": 10_000_000}).raise_for_status()
    tenant = admin.post("/v1/admin/tenants", json={"name": "bench", "plan": "pro"})
    tenant.raise_for_status()
    key = admin.post(f"/v1/admin/tenants/{tenant.json()['tenant_id']}/api-keys", json={"name": "b"})
    key.raise_for_status()
    return str(key.json()["api_key"])


def _load(url: str, api_key: str, seconds: float) -> WrkResult:
    """GET /v1/tasks from wrk for ``seconds``; any non-2xx answer fails the run."""
    result = wrk(
        f"{url}/v1/tasks",
        seconds,
        headers={"Authorization": f"Bearer {api_key}"},
        connections=CONNECTIONS,
        core=client_core(),
    )
    if result.errors:
        raise RuntimeError(f"load failed: {result.errors} errors of {result.requests} requests")
    return result


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="agensium-bench-tracing-"))
    processes: list[ManagedProcess] = []
    collector = _NoopCollector()
    try:
        admin_key = "admin-" + secrets.token_urlsafe(24)
        base = {
            "APP_ENV": "test",
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
            "REDIS_URL": _redis_url(workdir, processes),
            "S3_ENDPOINT_URL": "http://127.0.0.1:1",  # not used by the measured request
            "ADMIN_API_KEY": admin_key,
            "API_KEY_PEPPER": "bench-" + secrets.token_urlsafe(24),
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        subprocess.run(
            [sys.executable, "-c", "from migrations.apply import upgrade; upgrade()"],
            env={**os.environ, **base},
            cwd=ROOT,
            check=True,
        )
        off, off_url = _gateway("gateway-untraced", {**base, "OTEL_ENABLED": "false"}, workdir)
        processes.append(off)
        on_env = {
            **base,
            "OTEL_ENABLED": "true",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.port}",
        }
        on, on_url = _gateway("gateway-traced", on_env, workdir)
        processes.append(on)
        # Neither gateway has read the plan yet (the operator key is never limited), so
        # both see the raised read limit.
        api_key = _tenant_key(off_url, admin_key)
        for url in (off_url, on_url):  # warm both: principal cache, connections, imports
            _load(url, api_key, 1.0)

        runs: dict[str, list[WrkResult]] = {"off": [], "on": []}
        for _ in range(ROUNDS):
            runs["off"].append(_load(off_url, api_key, ROUND_SECONDS))
            runs["on"].append(_load(on_url, api_key, ROUND_SECONDS))
        time.sleep(1.5)  # let the batch processor's last export arrive

        rps = {k: statistics.median(r.rps for r in v) for k, v in runs.items()}
        print(
            f"\n== gateway throughput, GET /v1/tasks, wrk 1 thread {CONNECTIONS} connections,"
            f" {ROUNDS} rounds of {ROUND_SECONDS:g} s ({machine()})"
        )
        for mode, label in (("off", "tracing off"), ("on", "tracing on (SDK + OTLP batch)")):
            per_round = ", ".join(f"{r.rps:.0f}" for r in runs[mode])
            n = sum(r.requests for r in runs[mode])
            p99 = statistics.median(r.p99_ms for r in runs[mode])
            print(
                f"  {label:<32} median {rps[mode]:7.0f} req/s  p99 {p99:6.1f} ms  n={n}"
                f"  ({per_round})"
            )
        print(f"  collector received {collector.batches} OTLP batches")
        print(goal_line("ratio traced / untraced", rps["on"] / rps["off"], GOAL))
    finally:
        for p in reversed(processes):
            p.stop()
        collector.server.shutdown()


if __name__ == "__main__":
    main()
