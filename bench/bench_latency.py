"""The platform path of one task, against raw Celery on the same broker, queue and worker.

Starts a private local stack (embedded Redis, SeaweedFS, SQLite, gateway, one worker per
tool), then measures, in this order:

1. enqueue → start, ``BENCH_LATENCY_N`` samples each (default 1,000: enough for a p99):
   - gateway path: ``POST /v1/tasks/{id}/process`` sent → the worker's claim (the row's
     ``started_at``), one task at a time so that no task waits behind another;
   - raw Celery: ``send_task("agensium.ping")`` on the same queue → the task's own start.
   Both clocks are this machine's. Prints p50/p99 of each, the ratios and their goals.
2. worker time per small task (20k rows, one agent, ``BENCH_SMALL_N`` samples): the row's
   ``finished_at - started_at`` minus the agent's own ``duration_ms``; goal ≤ 60 ms.
3. the stage breakdown of the p50 task: a second stack with tracing on, exporting OTLP to a
   receiver in this process, runs ``BENCH_TRACE_N`` tasks; the task whose process → claim is
   the median is printed span by span (gateway: auth, limiter, lock, lifecycle, storage (the
   LIST, beside the lock), verify, hold, commit, publish; worker: receive, claim, download,
   parse, agent, capture, report, upload, final commit), with SQL and S3 calls folded into
   their stage. The traced run is separate so that the exporter's cost stays out of the
   figures of 1 and 2.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench._util import goal_line, machine, pct

N = int(os.environ.get("BENCH_LATENCY_N", "1000"))
SMALL_N = int(os.environ.get("BENCH_SMALL_N", "30"))
TRACE_N = int(os.environ.get("BENCH_TRACE_N", "41"))
SAMPLE = Path(__file__).resolve().parent.parent / "core" / "samples" / "customers.csv"
AGENT = "score-risk"
GOAL_P50, GOAL_P99, GOAL_FIXED_MS = 2.0, 2.0, 60.0


@contextmanager
def _stack(extra_env: dict[str, str] | None = None) -> Iterator[Any]:
    from core.services import free_port, free_port_with_grpc
    from gateway.cli.stack import LocalStack, StackConfig

    keep = {"PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV"}
    environ = {k: v for k, v in os.environ.items() if k in keep}
    for attempt in range(3):  # a free port can be taken by another process before we bind it
        var = Path(tempfile.mkdtemp(prefix="bench-latency-"))
        try:
            stack = LocalStack(
                StackConfig(
                    gateway_port=free_port(),
                    redis_port=free_port(),
                    s3_port=free_port_with_grpc(),
                    var=var,
                    embedded_redis=True,
                    own_s3=True,
                    extra_env=dict(extra_env or {}),
                ),
                environ={**environ, "LOG_LEVEL": "WARNING"},
            ).start()
            break
        except RuntimeError:
            if attempt == 2:
                raise
    try:
        yield stack
    finally:
        stack.stop()


def _client(stack: Any, credits: int) -> httpx.Client:
    admin = httpx.Client(
        base_url=stack.gateway_url, headers={"Authorization": f"Bearer {stack.admin_key}"}
    )
    # The limiter stays on (it is part of the path) with room for the whole run.
    admin.patch(
        "/v1/admin/plans/enterprise",
        json={"submit_per_minute": 1_000_000, "read_per_minute": 10_000_000},
    ).raise_for_status()
    tenant = admin.post("/v1/admin/tenants", json={"name": "bench", "plan": "enterprise"}).json()
    key = admin.post(f"/v1/admin/tenants/{tenant['tenant_id']}/api-keys", json={}).json()
    admin.post(
        f"/v1/admin/tenants/{tenant['tenant_id']}/grants",
        json={"credits": credits, "reason": "bench"},
    ).raise_for_status()
    return httpx.Client(
        base_url=stack.gateway_url,
        headers={"Authorization": f"Bearer {key['api_key']}"},
        timeout=60,
    )


def _epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def _one_task(client: httpx.Client, data: bytes) -> tuple[str, float, dict[str, Any]]:
    """Create, upload, process; answers (task id, process → claim in ms, the final task)."""
    task_id = client.post("/v1/tasks", json={"tool_id": "profile-my-data", "agents": [AGENT]})
    task_id = task_id.json()["task_id"]
    client.put(
        f"/v1/tasks/{task_id}/files/primary", params={"filename": "s.csv"}, content=data
    ).raise_for_status()
    sent = time.time()
    client.post(f"/v1/tasks/{task_id}/process").raise_for_status()
    body = client.get(f"/v1/tasks/{task_id}").json()
    while body["status"] in ("QUEUED", "PROCESSING"):  # one at a time: no queueing delay
        time.sleep(0.02)
        body = client.get(f"/v1/tasks/{task_id}").json()
    if not body["started_at"]:
        raise RuntimeError(f"task {task_id} never started: {body}")
    return task_id, (_epoch(body["started_at"]) - sent) * 1000, body


def _small_csv(rows: int) -> bytes:
    lines = SAMPLE.read_bytes().decode().splitlines()
    header, body = lines[0], lines[1:]
    out = io.StringIO()
    out.write(header + "\n")
    for i in range(rows):
        cells = body[i % len(body)].split(",")
        cells[0] = str(i + 1)
        out.write(",".join(cells) + "\n")
    return out.getvalue().encode()


def _raw_celery(stack: Any, n: int) -> list[float]:
    from celery import Celery

    app = Celery(broker=stack.env["REDIS_URL"], backend=stack.env["REDIS_URL"])
    out: list[float] = []
    app.send_task("agensium.ping", args=[time.time()], queue="profile-my-data").get(timeout=30)
    for _ in range(n):
        sent = time.time()
        result = app.send_task("agensium.ping", args=[sent], queue="profile-my-data")
        started = result.get(timeout=30)["started_at"]
        out.append((started - sent) * 1000)
    app.close()
    return out


def _latency_and_fixed_cost() -> None:
    with _stack() as stack:
        client = _client(stack, credits=100 * (N + SMALL_N + 10))
        data = SAMPLE.read_bytes()
        for _ in range(3):  # warm-up: imports, connections, caches
            _one_task(client, data)
        gateway_ms = [_one_task(client, data)[1] for _ in range(N)]
        raw_ms = _raw_celery(stack, N)

        small = _small_csv(20_000)
        fixed_ms: list[float] = []
        worker_ms: list[float] = []
        for _ in range(SMALL_N):
            _, _, body = _one_task(client, small)
            worker = (_epoch(body["finished_at"]) - _epoch(body["started_at"])) * 1000
            agent = sum(a.get("duration_ms") or 0 for a in body["agents"])
            worker_ms.append(worker)
            fixed_ms.append(worker - agent)

    g50, g99, r50, r99 = (
        pct(gateway_ms, 0.5),
        pct(gateway_ms, 0.99),
        pct(raw_ms, 0.5),
        pct(raw_ms, 0.99),
    )
    print(f"\n== enqueue -> start latency (same broker, queue and worker; {machine()})")
    for label, xs, p50, p99 in (
        ("gateway process -> worker claim", gateway_ms, g50, g99),
        ("raw celery send_task -> start", raw_ms, r50, r99),
    ):
        print(f"  {label:<33} n={len(xs):<5} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")
    if len(gateway_ms) < 1000:
        print(f"  (p99 from {len(gateway_ms)} samples: fewer than 1,000, so it is not a true p99)")
    print(goal_line("ratio gateway / raw celery, p50", g50 / r50, GOAL_P50, at_most=True))
    print(goal_line("ratio gateway / raw celery, p99", g99 / r99, GOAL_P99, at_most=True))
    f50 = pct(fixed_ms, 0.5)
    print(f"\n== worker time per small task (20,000 rows, {AGENT}), n={len(fixed_ms)}")
    print(f"  worker claim -> finished         p50 {pct(worker_ms, 0.5):7.1f} ms")
    print(f"  of which outside the agent       p50 {f50:7.1f} ms   max {max(fixed_ms):7.1f} ms")
    print(
        goal_line(
            "worker time outside the agent, p50", f50, GOAL_FIXED_MS, at_most=True, unit=" ms"
        )
    )


# --------------------------------------------------------------------------- stage breakdown

#: Stage spans in path order; SQL/S3/Redis spans are shown under the stage that made them.
STAGES = (
    "gateway.limiter",
    "gateway.auth",
    "gateway.lock",
    "gateway.lifecycle",
    "gateway.storage",
    "gateway.verify",
    "gateway.hold",
    "db.commit",
    "enqueue.publish",
    "worker.receive",
    "worker.claim",
    "worker.job",
    "pipeline.download",
    "pipeline.parse",
    "pipeline.billing_check",
    f"agent {AGENT}",
    "pipeline.checkpoint",
    "worker.capture",
    "pipeline.report",
    "pipeline.upload",
    "worker.final_commit",
)


def _breakdown() -> None:
    from tests.observability.otlp import OtlpReceiver

    receiver = OtlpReceiver().start()
    env = {
        "OTEL_ENABLED": "true",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    try:
        with _stack(env) as stack:
            client = _client(stack, credits=100 * (TRACE_N + 10))
            data = SAMPLE.read_bytes()
            for _ in range(3):
                _one_task(client, data)
            runs = [_one_task(client, data)[:2] for _ in range(TRACE_N)]
            runs.sort(key=lambda r: r[1])
            task_id, claim_ms = runs[len(runs) // 2]

            def trace_of(spans: list[Any]) -> list[Any] | None:
                run = next((s for s in spans if s.attributes.get("task_id") == task_id
                            and s.name.startswith("run/")), None)  # fmt: skip
                if run is None:
                    return None
                mine = [s for s in spans if s.trace_id == run.trace_id]
                return mine if any(s.name == "worker.final_commit" for s in mine) else None

            trace = receiver.wait_for(trace_of, timeout=60)
    finally:
        receiver.stop()
    if not trace:
        print("\n== stage breakdown: the p50 task's trace did not arrive")
        return
    _print_breakdown(trace, task_id, claim_ms)


def _print_breakdown(trace: list[Any], task_id: str, claim_ms: float) -> None:
    by_id = {s.span_id: s for s in trace}
    t0 = min(s.start_ns for s in trace)

    def stage_of(span: Any) -> str | None:
        service = span.service
        while span is not None and span.service == service:
            if span.name in STAGES:
                return str(span.name)
            span = by_id.get(span.parent_id or "")
        return None

    server = next((s for s in trace if s.kind == 2), None)
    run = next(s for s in trace if s.name.startswith("run/"))
    print(f"\n== stage breakdown of the p50 task ({TRACE_N} traced tasks; {task_id})")
    print(f"  process -> claim of this task: {claim_ms:.1f} ms")
    if server is not None:
        print(
            f"  {'POST /v1/tasks/{task_id}/process (HTTP span)':<44} {server.duration_ms:8.2f} ms"
        )
    for name in STAGES:
        spans = [s for s in trace if s.name == name]
        if not spans:
            continue
        start = min(s.start_ns for s in spans)
        total = sum(s.duration_ms for s in spans)
        children = [s for s in trace if s.kind == 3 and stage_of(s) == name]
        sql = [s for s in children if "db.system" in s.attributes]
        s3 = [s for s in children if s.name.startswith("S3.")]
        extra = []
        if sql:
            extra.append(f"{len(sql)} SQL {sum(s.duration_ms for s in sql):.1f} ms")
        if s3:
            extra.append(f"{len(s3)} S3 {sum(s.duration_ms for s in s3):.1f} ms")
        note = f"   ({', '.join(extra)})" if extra else ""
        print(f"  +{(start - t0) / 1e6:8.1f} ms  {name:<32} {total:8.2f} ms{note}")
    print(f"  {'worker run span (' + run.name + ')':<44} {run.duration_ms:8.2f} ms")
    if os.environ.get("BENCH_TRACE_TREE"):
        _print_tree(trace, t0)


def _print_tree(trace: list[Any], t0: int) -> None:
    """Every span of the trace, indented under its parent, in start order."""
    children: dict[str | None, list[Any]] = {}
    for s in trace:
        children.setdefault(s.parent_id, []).append(s)
    print("\n  the whole trace (start offset, duration, service, span):")

    def walk(parent: str | None, depth: int) -> None:
        for s in sorted(children.get(parent, []), key=lambda x: x.start_ns):
            side = s.service.removeprefix("agensium-")
            offset = (s.start_ns - t0) / 1e6
            print(f"  +{offset:8.1f} {s.duration_ms:8.2f} ms  {side:<7} {'  ' * depth}{s.name}")
            walk(s.span_id, depth + 1)

    walk(None, 0)


def main() -> None:
    _latency_and_fixed_cost()
    _breakdown()


if __name__ == "__main__":
    main()
