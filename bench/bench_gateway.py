"""Gateway throughput: an authenticated, rate-limited read against a bare endpoint.

One uvicorn process (the real app) pinned to one core against a real Redis and a fresh SQLite
database; the load comes from ``wrk`` (compiled, one thread, pinned to the other core), so the
server's cost decides the figures, not the client's. In the same run and on the same server it
measures requests/second of ``GET /v1/me`` (API key → principal, plan lookup, a Redis
moving-window hit and window read: the cost of auth and rate limiting), of
``GET /v1/billing/wallet`` (the same plus a database read) and of ``GET /healthz`` (no auth,
never limited), interleaved in rounds so that load from other processes hits all alike, and
prints each ratio with its goal and PASS/BELOW. A second server with ``RATELIMIT_ENABLED=false``
gives the limiter's own cost (it says so when the setting does not turn the limiter off).
Loopback only.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import IO

import httpx

from bench._util import ROOT, WrkResult, client_core, goal_line, machine, server_core, wrk

CONNECTIONS = 4
ROUND_SECONDS = float(os.environ.get("BENCH_GATEWAY_ROUND_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_GATEWAY_ROUNDS", "3"))
GOAL_ME, GOAL_WALLET = 0.7, 0.4


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


def _measure(base: str, path: str, headers: dict[str, str], seconds: float) -> WrkResult:
    """requests/second of GET ``path`` from wrk (one thread, CONNECTIONS keep-alive
    connections, pinned to the client core); any non-2xx answer fails the run."""
    result = wrk(base + path, seconds, headers=headers, connections=CONNECTIONS, core=client_core())
    if result.errors:
        raise RuntimeError(f"{path}: {result.errors} errors out of {result.requests} requests")
    return result


def _serve(
    env: dict[str, str], workdir: Path, name: str
) -> tuple[subprocess.Popen[bytes], str, IO[bytes]]:
    port = _free_port()
    log = open(workdir / f"gateway-{name}.log", "wb")  # noqa: SIM115 - closed by main()
    proc = subprocess.Popen(
        [
            "taskset",
            "-c",
            str(server_core()),
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

        limiter_off = (
            "X-RateLimit-Limit" not in httpx.get(f"{plain}/v1/billing/wallet", headers=auth).headers
        )
        for url, path, h in (
            (base, "/healthz", {}),
            (base, "/v1/me", auth),
            (base, "/v1/billing/wallet", auth),
            (plain, "/v1/billing/wallet", auth),
        ):
            _measure(url, path, h, 1)  # warm-up every path
        series: dict[str, list[WrkResult]] = {"bare": [], "me": [], "wallet": [], "no limiter": []}
        for _ in range(ROUNDS):
            series["bare"].append(_measure(base, "/healthz", {}, ROUND_SECONDS))
            series["me"].append(_measure(base, "/v1/me", auth, ROUND_SECONDS))
            series["wallet"].append(_measure(base, "/v1/billing/wallet", auth, ROUND_SECONDS))
            series["no limiter"].append(_measure(plain, "/v1/billing/wallet", auth, ROUND_SECONDS))
        med = {k: statistics.median(r.rps for r in v) for k, v in series.items()}
        n = {k: sum(r.requests for r in v) for k, v in series.items()}
        p99 = {k: statistics.median(r.p99_ms for r in v) for k, v in series.items()}
        print(
            f"\n== gateway throughput (wrk: 1 thread, {CONNECTIONS} connections, core"
            f" {client_core()}; 1 uvicorn worker on core {server_core()}; {ROUNDS} rounds of"
            f" {ROUND_SECONDS:g} s; {machine()})"
        )
        rows = (
            ("bare", "GET /healthz             bare, same server"),
            ("me", "GET /v1/me               auth + rate limit"),
            ("wallet", "GET /v1/billing/wallet   auth + rate limit + DB read"),
            ("no limiter", "GET /v1/billing/wallet   auth + DB read, limiter off"),
        )
        for k, label in rows:
            print(f"  {label:<52} {med[k]:7.0f} req/s  p99 {p99[k]:6.1f} ms  n={n[k]}")
        print(goal_line("ratio /v1/me (auth + limit) / bare", med["me"] / med["bare"], GOAL_ME))
        print(
            goal_line("ratio wallet (+ DB read) / bare", med["wallet"] / med["bare"], GOAL_WALLET)
        )
        if limiter_off:
            print(
                f"  ratio wallet / same, limiter off (the limiter's own cost): "
                f"{med['wallet'] / med['no limiter']:.2f}"
            )
        else:
            print(
                "  RATELIMIT_ENABLED=false did not turn the limiter off (X-RateLimit-Limit"
                " present): the 'limiter off' row measures the limiter too"
            )
        for name, xs in series.items():
            print(f"  rounds {name:<11} {[round(x.rps) for x in xs]}")
    finally:
        for proc, _, log in servers:
            proc.terminate()
            proc.wait(10)
            log.close()
        if redis_proc is not None:
            redis_proc.terminate()


if __name__ == "__main__":
    main()
