"""The gateway's throughput with OpenTelemetry tracing on and off, in the same run.

Two gateway processes on the same SQLite database: one with ``OTEL_ENABLED=false``, one with
the SDK, every instrumentation (FastAPI, SQLAlchemy, Redis, botocore, Celery) and a
``BatchSpanProcessor`` exporting OTLP/HTTP to a local no-op collector. The load is an
authenticated read (``GET /v1/tasks``: API key check, one SQL query, JSON), from a few
keep-alive clients, alternating between the two gateways over several rounds so that noise on
a shared machine falls on both. The ratio is traced / untraced requests per second (goal ≥ 0.7).
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

from bench._util import ROOT, ratio
from core.services import ManagedProcess, free_port, port_open

CLIENTS = 4
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
    argv = [sys.executable, "-m", "uvicorn", "gateway.app:app", "--host", "127.0.0.1"]
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
    tenant = admin.post("/v1/admin/tenants", json={"name": "bench", "plan": "pro"}).json()
    key = admin.post(f"/v1/admin/tenants/{tenant['tenant_id']}/api-keys", json={"name": "b"})
    return str(key.json()["api_key"])


def _load(url: str, api_key: str, seconds: float) -> float:
    """Requests per second from CLIENTS keep-alive clients for ``seconds``."""
    counts = [0] * CLIENTS
    errors: list[str] = []
    stop = time.perf_counter() + seconds

    def client(i: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}) as c:
            while time.perf_counter() < stop:
                r = c.get("/v1/tasks")
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                    return
                counts[i] += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"load failed: {errors[0]}")
    return sum(counts) / (time.perf_counter() - t0)


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
            "RATELIMIT_ENABLED": "false",  # measured on its own elsewhere; not tracing's cost
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
        api_key = _tenant_key(off_url, admin_key)
        for url in (off_url, on_url):  # warm both: principal cache, connections, imports
            _load(url, api_key, 1.0)

        rates: dict[str, list[float]] = {"off": [], "on": []}
        for _ in range(ROUNDS):
            rates["off"].append(_load(off_url, api_key, ROUND_SECONDS))
            rates["on"].append(_load(on_url, api_key, ROUND_SECONDS))
        time.sleep(1.5)  # let the batch processor's last export arrive

        off_rps, on_rps = statistics.median(rates["off"]), statistics.median(rates["on"])
        print(f"\n== gateway throughput, GET /v1/tasks, {CLIENTS} clients, {ROUNDS} rounds")
        for mode, label in (("off", "tracing off"), ("on", "tracing on (SDK + OTLP batch)")):
            per_round = ", ".join(f"{r:.0f}" for r in rates[mode])
            median = statistics.median(rates[mode])
            print(f"  {label:<32} median {median:7.0f} req/s  ({per_round})")
        print(f"  collector received {collector.batches} OTLP batches")
        verdict = "ok" if on_rps / off_rps >= 0.7 else "BELOW GOAL"
        print(f"  ratio traced/untraced: {ratio(on_rps, off_rps)} (goal >= 0.70: {verdict})")
    finally:
        for p in reversed(processes):
            p.stop()
        collector.server.shutdown()


if __name__ == "__main__":
    main()
