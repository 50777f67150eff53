"""Prometheus metrics an operator scales and alerts on: per-tool queue depth that follows the
broker, request counts by route template, and the workers' task, agent and credit metrics."""

from __future__ import annotations

import os
import re

import httpx
import pytest

from core.services import free_port
from tests.conftest import start_worker, submit, wait_for_task
from tests.platform import ROOT, wait


def _operator() -> dict[str, str]:
    return {"Authorization": f"Bearer {os.environ['ADMIN_API_KEY']}"}


SAMPLE = (ROOT / "core" / "samples" / "customers.csv").read_bytes()
QUEUE = "clean-my-data"
AGENT = "type-fixer"


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text format (labels in any order)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.rindex("}") + 1]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def _depth(gateway_url: str) -> float | None:
    text = httpx.get(f"{gateway_url}/metrics", headers=_operator(), timeout=10).text
    return _sample(text, "agensium_queue_depth", queue=QUEUE)


@pytest.fixture
def no_clean_worker(admin: httpx.Client) -> None:
    """Nothing else may consume the queue this test watches (the session worker is per
    module and not requested here)."""
    body = admin.get("/v1/admin/queues").json()
    clean = next(q for q in body["queues"] if q["queue"] == QUEUE)
    if clean["workers"]:
        pytest.fail(f"another worker consumes {QUEUE}: {clean['workers']}")


def test_queue_depth_rises_while_no_worker_consumes_and_falls_when_one_starts(
    platform, gateway_url, admin, make_tenant, no_clean_worker, tmp_path
):
    assert _depth(gateway_url) == 0
    tc = make_tenant(credits=5_000)
    ids = [
        submit(tc, "clean-my-data", {"primary": ("customers.csv", SAMPLE)}, agents=[AGENT])
        for _ in range(2)
    ]
    assert _depth(gateway_url) == 2  # sent after commit, waiting in Redis

    queues = admin.get("/v1/admin/queues").json()["queues"]
    clean = next(q for q in queues if q["queue"] == QUEUE)
    assert (clean["tool_id"], clean["depth"], clean["workers"]) == ("clean-my-data", 2, [])

    metrics_port = free_port()
    worker = start_worker(
        platform,
        [QUEUE],
        "clean-metrics",
        extra_env={
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
            "AGENSIUM_WORKER_METRICS_PORT": str(metrics_port),
            "AGENSIUM_WORKER_METRICS_HOST": "127.0.0.1",
        },
    )
    try:
        tasks = [wait_for_task(tc.client, task_id) for task_id in ids]
        assert [t["status"] for t in tasks] == ["COMPLETED", "COMPLETED"]
        assert wait(lambda: _depth(gateway_url) == 0, 10, what="queue drained")

        queues = admin.get("/v1/admin/queues").json()["queues"]
        clean = next(q for q in queues if q["queue"] == QUEUE)
        assert clean["depth"] == 0 and clean["active"] == 0
        assert [w.split("@")[0] for w in clean["workers"]] == ["clean-metrics"]

        # The worker pool's own metrics, aggregated over its processes.
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
        done = _sample(text, "agensium_tasks_total", tool="clean-my-data", status="COMPLETED")
        assert done == 2
        runs = _sample(
            text, "agensium_agent_duration_seconds_count", tool="clean-my-data", agent=AGENT
        )
        assert runs == 2
        credits = _sample(
            text, "agensium_credits_captured_total", tool="clean-my-data", agent=AGENT
        )
        assert credits == sum(t["credits_charged"] for t in tasks) > 0
    finally:
        worker.stop()


def test_requests_are_counted_by_route_template_and_status(gateway_url, make_tenant):
    tc = make_tenant(credits=0)
    for _ in range(3):
        assert tc.client.get("/v1/tasks/00000000-0000-0000-0000-000000000000").status_code == 404
    assert httpx.get(f"{gateway_url}/v1/tasks").status_code == 401
    text = httpx.get(f"{gateway_url}/metrics", headers=_operator(), timeout=10).text
    route = "/v1/tasks/{task_id}"
    assert (_sample(text, "agensium_http_requests_total", route=route, status="404") or 0) >= 3
    assert _sample(text, "agensium_http_requests_total", route="/v1/tasks", status="401")
    assert "00000000-0000" not in text  # ids never become labels
    assert "# TYPE agensium_rate_limited_total counter" in text


def test_admin_queues_is_for_operators_only(gateway_url, make_tenant):
    tc = make_tenant(credits=0)
    assert tc.client.get("/v1/admin/queues").status_code == 403
    assert httpx.get(f"{gateway_url}/v1/admin/queues").status_code == 401
