"""``agensium stack up`` as an operator runs it (a real process, its own embedded Redis,
SeaweedFS and SQLite on free ports): a crashed worker or S3 server is restarted (with backoff,
logged) and keeps serving, and SIGTERM (or SIGINT in a background job, where the shell ignores
it) at any point of start-up leaves no process behind.

Every process the stack starts inherits ``AGENSIUM_STACK_TAG``; "left behind" means a process
with this test's tag is still alive after the stack's own process has exited."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from core.services import free_port, free_port_with_grpc
from tests.platform import wait

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "core" / "samples" / "customers.csv"
PLATFORM_KEYS = {"DATABASE_URL", "REDIS_URL", "S3_ENDPOINT_URL", "S3_BUCKET", "ADMIN_API_KEY"}


def tagged(tag: str) -> list[int]:
    """Live processes (not zombies) carrying ``AGENSIUM_STACK_TAG=<tag>``."""
    needle = f"AGENSIUM_STACK_TAG={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes():
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append(int(entry.name))
    return found


@dataclass
class Stack:
    proc: subprocess.Popen[bytes]
    out: Path
    var: Path
    tag: str
    gateway_port: int

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def state(self) -> dict:  # type: ignore[type-arg]
        return json.loads((self.var / "stack.json").read_text())

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 90) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            for pid in tagged(self.tag):  # never leave anything to other tests
                os.kill(pid, signal.SIGKILL)


def launch(tmp_path: Path, *, ignore_sigint: bool = False) -> Stack:
    tag = uuid.uuid4().hex
    var = tmp_path / "var"
    out = tmp_path / "stack.out"
    env = {k: v for k, v in os.environ.items() if k not in PLATFORM_KEYS}
    env.update({"AGENSIUM_STACK_TAG": tag, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"})
    gateway_port = free_port()
    argv = [
        str(Path(sys.executable).parent / "agensium"),
        "stack",
        "up",
        "--gateway-port",
        str(gateway_port),
        "--redis-port",
        str(free_port()),
        "--s3-port",
        str(free_port_with_grpc()),
        "--embedded-redis",
        "--var",
        str(var),
    ]

    def as_background_job() -> None:  # what a non-interactive shell does for `cmd &`
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    with open(out, "wb") as fh:
        proc = subprocess.Popen(
            argv,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
            preexec_fn=as_background_job if ignore_sigint else None,
        )
    return Stack(proc, out, var, tag, gateway_port)


@pytest.mark.stack
@pytest.mark.parametrize(
    "point",
    ["instantly", "redis     ", "s3        ", "gateway   ", "worker    "],
    ids=["instantly", "redis-up", "s3-up", "gateway-up", "workers-up"],
)
def test_sigterm_at_any_point_of_start_up_leaves_no_process_behind(tmp_path: Path, point: str):
    stack = launch(tmp_path)
    try:
        if point == "instantly":
            time.sleep(0.3)
        else:
            wait(lambda: point in stack.output(), 150, 0.05, f"start-up to reach {point!r}")
        assert stack.proc.poll() is None, stack.output()
    finally:
        stack.proc.send_signal(signal.SIGTERM)
        code = stack.proc.wait(90)
    left = tagged(stack.tag)
    stack.stop()
    assert left == [], f"left behind: {left}\n{stack.output()}"
    assert code != 0 or point == "instantly" or "stopping" in stack.output()


@pytest.mark.stack
def test_sigint_to_a_background_stack_during_start_up_stops_everything(tmp_path: Path):
    stack = launch(tmp_path, ignore_sigint=True)
    try:
        wait(lambda: "s3        " in stack.output(), 150, 0.05, "S3 to be up")
    finally:
        stack.proc.send_signal(signal.SIGINT)
        stack.proc.wait(90)
    left = tagged(stack.tag)
    stack.stop()
    assert left == [], f"left behind: {left}\n{stack.output()}"
    assert "SIGINT received: stopping" in stack.output()


@pytest.mark.stack
def test_the_stack_restarts_a_killed_worker_and_s3_server_and_keeps_serving(tmp_path: Path):
    stack = launch(tmp_path)
    try:
        wait(lambda: "Ready." in stack.output(), 180, 0.2, "the stack to be ready")
        pids = stack.state()["pids"]
        stack_log = stack.var / "logs" / "stack.log"
        for name in ("worker-profile-my-data", "seaweedfs"):
            os.killpg(pids[name], signal.SIGKILL)
            wait(
                lambda name=name: (
                    stack_log.exists() and f"{name} restarted" in stack_log.read_text()
                ),
                90,
                0.2,
                f"{name} to be restarted",
            )
        log = stack_log.read_text()
        assert "worker-profile-my-data exited (code -9); restarting in 1s" in log
        assert "seaweedfs exited (code -9); restarting in 1s" in log
        assert stack.proc.poll() is None, "the stack survived both"
        new = stack.state()["pids"]
        assert new["worker-profile-my-data"] != pids["worker-profile-my-data"]
        assert new["seaweedfs"] != pids["seaweedfs"]

        # The restarted S3 server (same data) and worker serve a task end to end.
        base = f"http://127.0.0.1:{stack.gateway_port}"
        admin_key = stack.state()["admin_api_key"]
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30
        ) as admin:
            tenant = admin.post("/v1/admin/tenants", json={"name": "t", "plan": "pro"}).json()
            tid = tenant["tenant_id"]
            key = admin.post(f"/v1/admin/tenants/{tid}/api-keys", json={}).json()["api_key"]
            admin.post(
                f"/v1/admin/tenants/{tid}/grants", json={"credits": 100, "reason": "t"}
            ).raise_for_status()
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as client:

            def uploaded() -> str | None:
                r = client.post(
                    "/v1/tasks",
                    data={
                        "spec": json.dumps(
                            {"tool_id": "profile-my-data", "agents": ["unified-profiler"]}
                        ),
                        "process": "true",
                    },
                    files={"primary": ("c.csv", SAMPLE.read_bytes())},
                )
                return str(r.json()["task_id"]) if r.status_code == 201 else None

            task_id = wait(uploaded, 60, 1.0, "S3 to take uploads again")
            task = wait(
                lambda: (
                    body
                    if (body := client.get(f"/v1/tasks/{task_id}").json())["status"]
                    not in ("QUEUED", "PROCESSING")
                    else None
                ),
                120,
                0.5,
                "the task",
            )
        assert task["status"] == "COMPLETED", task
    finally:
        code = stack.stop()
    assert code == 0, stack.output()
    assert tagged(stack.tag) == []
