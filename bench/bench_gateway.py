"""Gateway throughput: an authenticated, rate-limited read against a bare endpoint.

One uvicorn process (the real app) against a real Redis and a fresh SQLite database. In the
same run and on the same server it measures requests/second of ``GET /v1/me`` (API key →
principal, plan lookup, a Redis moving-window hit and window read: the cost of auth and rate
limiting), of ``GET /v1/billing/wallet`` (the same plus a database read, for reference) and of
``GET /healthz`` (no auth, never limited), interleaved in rounds so that load from other
processes hits all alike, and prints the ratios (goal ≥ 0.5 for auth + limit). Loopback only.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import IO

import httpx

from bench._util import ROOT

THREADS = 4
REQUESTS_PER_ROUND = 1_000
ROUNDS = 3


def _free_port() -> int:
    from core.services import free_port

    return free_port()


def _redis_url(workdir: Path) -> tuple[str, subprocess.Popen[bytes] | None]:
    """The local Redis on :6379 (DB 14, keys unique to this run) or an embedded one."""
    from core.services import embedded_redis_binary, port_open, start_redis

    if port_open(6379):
        return "redis://127.0.0.1:6379/14", None
    port = _free_port()
    proc = start_redis(port, workdir / "redis", embedded_redis_binary())
    return f"redis://127.0.0.1:{port}/0", proc.proc


def _wait(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer")


def _measure(base: str, path: str, headers: dict[str, str], total: int) -> float:
    """requests/second for ``total`` GETs spread over THREADS keep-alive clients."""
    per_thread = total // THREADS
    errors: list[str] = []
    barrier = threading.Barrier(THREADS + 1)

    def run() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            barrier.wait()
            for _ in range(per_thread):
                r = client.get(path)
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                    return

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{path}: {errors[0]}")
    return per_thread * THREADS / elapsed


def _serve(
    env: dict[str, str], workdir: Path, name: str
) -> tuple[subprocess.Popen[bytes], str, IO[bytes]]:
    port = _free_port()
    log = open(workdir / f"gateway-{name}.log", "wb")  # noqa: SIM115 - closed by main()
    proc = subprocess.Popen(
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
            "--no-access-log",
        ],
        env={**env, "RATELIMIT_ENABLED": "true" if name == "limited" else "false"},
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return proc, f"http://127.0.0.1:{port}", log


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    redis_url, redis_proc = _redis_url(workdir)
    admin_key = "admin-" + uuid.uuid4().hex
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
        "REDIS_URL": redis_url,
        "ADMIN_API_KEY": admin_key,
        "API_KEY_PEPPER": "bench-" + uuid.uuid4().hex,
        "OTEL_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run(
        [sys.executable, "-c", "from migrations.apply import upgrade; upgrade()"],
        env=env,
        cwd=ROOT,
        check=True,
    )
    servers = [_serve(env, workdir, "limited"), _serve(env, workdir, "unlimited")]
    base, plain = servers[0][1], servers[1][1]
    try:
        _wait(f"{base}/healthz")
        _wait(f"{plain}/healthz")
        admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin_key}"})
        r = admin.patch("/v1/admin/plans/enterprise", json={"read_per_minute": 10_000_000})
        r.raise_for_status()
        tenant = admin.post("/v1/admin/tenants", json={"name": "bench", "plan": "enterprise"})
        tenant_id = tenant.json()["tenant_id"]
        key = admin.post(f"/v1/admin/tenants/{tenant_id}/api-keys", json={}).json()["api_key"]
        auth = {"Authorization": f"Bearer {key}"}
        check = httpx.get(f"{base}/v1/billing/wallet", headers=auth)
        assert check.status_code == 200 and "X-RateLimit-Limit" in check.headers, check.text

        _measure(base, "/healthz", {}, 200)  # warm-up every path
        _measure(base, "/v1/me", auth, 200)
        _measure(base, "/v1/billing/wallet", auth, 200)
        _measure(plain, "/v1/billing/wallet", auth, 200)
        series: dict[str, list[float]] = {"bare": [], "me": [], "wallet": [], "no limiter": []}
        for _ in range(ROUNDS):
            series["bare"].append(_measure(base, "/healthz", {}, REQUESTS_PER_ROUND))
            series["me"].append(_measure(base, "/v1/me", auth, REQUESTS_PER_ROUND))
            series["wallet"].append(_measure(base, "/v1/billing/wallet", auth, REQUESTS_PER_ROUND))
            series["no limiter"].append(
                _measure(plain, "/v1/billing/wallet", auth, REQUESTS_PER_ROUND)
            )
        b, me, wal, unl = (statistics.median(series[k]) for k in series)
        print(f"\n== gateway throughput ({THREADS} client threads, 1 uvicorn worker, loopback)")
        print(f"  GET /healthz             bare, same server            {b:8.0f} req/s")
        print(f"  GET /v1/me               auth + rate limit            {me:8.0f} req/s")
        print(f"  GET /v1/billing/wallet   auth + rate limit + DB read  {wal:8.0f} req/s")
        print(f"  GET /v1/billing/wallet   auth + DB read, no limiter   {unl:8.0f} req/s")
        print(f"  ratio /v1/me (auth + limit) / bare:    {me / b:.2f}  (goal >= 0.5)")
        print(f"  ratio wallet (+ SQLite read) / bare:   {wal / b:.2f}")
        print(f"  ratio wallet / same, no limiter:       {wal / unl:.2f}  (the limiter's own cost)")
        for name, xs in series.items():
            print(f"  rounds {name:<11} {[round(x) for x in xs]}")
    finally:
        for proc, _, log in servers:
            proc.terminate()
            proc.wait(10)
            log.close()
        if redis_proc is not None:
            redis_proc.terminate()


if __name__ == "__main__":
    main()
