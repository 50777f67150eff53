"""Enqueue → start latency through the gateway vs a bare Celery task on the same broker.

Starts a private local stack (embedded Redis, SeaweedFS, SQLite, gateway, worker pools), then:
- gateway path: POST /v1/tasks/{id}/process → the worker's claim (the task row's started_at);
- bare Celery: ``send_task("agensium.ping")`` on the same queue → the task's own start time.
Prints p50/p99 of each and their ratio. Both are measured in the same run, on the same worker.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

N = int(os.environ.get("BENCH_LATENCY_N", "40"))
SAMPLE = Path(__file__).resolve().parent.parent / "core" / "samples" / "customers.csv"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def main() -> None:
    from celery import Celery

    from core.services import free_port, free_port_with_grpc
    from gateway.cli.stack import LocalStack, StackConfig

    keep = {"PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV"}
    environ = {k: v for k, v in os.environ.items() if k in keep}
    var = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    stack = LocalStack(
        StackConfig(
            gateway_port=free_port(),
            redis_port=free_port(),
            s3_port=free_port_with_grpc(),
            var=var,
            embedded_redis=True,
            own_s3=True,
        ),
        environ={**environ, "LOG_LEVEL": "WARNING"},
    ).start()
    try:
        admin = httpx.Client(
            base_url=stack.gateway_url, headers={"Authorization": f"Bearer {stack.admin_key}"}
        )
        tenant = admin.post(
            "/v1/admin/tenants", json={"name": "bench", "plan": "enterprise"}
        ).json()
        key = admin.post(f"/v1/admin/tenants/{tenant['tenant_id']}/api-keys", json={}).json()
        admin.post(
            f"/v1/admin/tenants/{tenant['tenant_id']}/grants",
            json={"credits": 10 * N * 10, "reason": "bench"},
        ).raise_for_status()
        client = httpx.Client(
            base_url=stack.gateway_url,
            headers={"Authorization": f"Bearer {key['api_key']}"},
            timeout=60,
        )
        data = SAMPLE.read_bytes()
        gateway_ms: list[float] = []
        for _ in range(N):
            task_id = client.post(
                "/v1/tasks", json={"tool_id": "profile-my-data", "agents": ["score-risk"]}
            ).json()["task_id"]
            client.put(
                f"/v1/tasks/{task_id}/files/primary", params={"filename": "s.csv"}, content=data
            ).raise_for_status()
            sent = time.time()
            client.post(f"/v1/tasks/{task_id}/process").raise_for_status()
            while True:
                body = client.get(f"/v1/tasks/{task_id}").json()
                if body["status"] not in ("QUEUED",) and body["started_at"]:
                    break
                time.sleep(0.005)
            started = _epoch(body["started_at"])
            gateway_ms.append((started - sent) * 1000)
            while body["status"] in ("QUEUED", "PROCESSING"):  # one at a time: no queueing delay
                time.sleep(0.02)
                body = client.get(f"/v1/tasks/{task_id}").json()

        app = Celery(broker=stack.env["REDIS_URL"], backend=stack.env["REDIS_URL"])
        bare_ms: list[float] = []
        for _ in range(N):
            sent = time.time()
            result = app.send_task("agensium.ping", args=[sent], queue="profile-my-data")
            out = result.get(timeout=30)
            bare_ms.append((out["started_at"] - sent) * 1000)
        app.close()
    finally:
        stack.stop()

    g50, g99 = _pct(gateway_ms, 0.5), _pct(gateway_ms, 0.99)
    b50, b99 = _pct(bare_ms, 0.5), _pct(bare_ms, 0.99)
    print(f"\n== enqueue -> start latency ({N} tasks each, same broker and worker)")
    print(f"  gateway process -> worker claim   p50 {g50:8.1f} ms   p99 {g99:8.1f} ms")
    print(f"  bare celery send -> task start     p50 {b50:8.1f} ms   p99 {b99:8.1f} ms")
    print(f"  ratio gateway/bare                 p50 {g50 / b50:8.2f}x   p99 {g99 / b99:8.2f}x")
    g_mean, b_mean = statistics.fmean(gateway_ms), statistics.fmean(bare_ms)
    print(f"  (mean gateway {g_mean:.1f} ms, bare {b_mean:.1f} ms)")


def _epoch(iso: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(iso).timestamp()


if __name__ == "__main__":
    main()
