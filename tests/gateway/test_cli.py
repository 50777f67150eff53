"""The `agensium` console script runs a real task end to end against the live gateway."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.gateway.conftest import csv_bytes, new_tenant

AGENSIUM = Path(sys.executable).parent / "agensium"


def _cli(args: list[str], gateway_url: str, key: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AGENSIUM_API_URL": gateway_url,
        "AGENSIUM_API_KEY": key,
        "COLUMNS": "200",
        "TERM": "dumb",
    }
    return subprocess.run(
        [str(AGENSIUM), *args], env=env, capture_output=True, text=True, timeout=240
    )


def test_agensium_run_creates_uploads_processes_and_prints_the_summary(
    admin, gateway_url, worker, tmp_path
):
    tc = new_tenant(admin, gateway_url, credits=1_000)
    data = tmp_path / "customers.csv"
    data.write_bytes(csv_bytes(2_000))
    done = _cli(["run", str(data), "--tool", "profile-my-data"], gateway_url, tc.api_key)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "uploaded customers.csv" in out
    assert "COMPLETED" in out
    assert "100%" in out  # the progress bar reached the end
    assert "report.json" in out and "X-Amz-Signature" in out  # outputs with presigned links
    task_id = tc.client.get("/v1/tasks").json()["items"][0]["task_id"]
    assert task_id in out

    listed = _cli(["tasks", "list"], gateway_url, tc.api_key)
    assert listed.returncode == 0 and task_id in listed.stdout
    shown = _cli(["tasks", "show", task_id], gateway_url, tc.api_key)
    assert shown.returncode == 0 and "COMPLETED" in shown.stdout
    tc.close()


def test_agensium_tasks_cancel_and_errors(admin, gateway_url, tmp_path):
    tc = new_tenant(admin, gateway_url, credits=0)
    task_id = tc.client.post("/v1/tasks", json={"tool_id": "profile-my-data"}).json()["task_id"]
    done = _cli(["tasks", "cancel", task_id], gateway_url, tc.api_key)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CANCELLED" in done.stdout
    again = _cli(["tasks", "cancel", task_id], gateway_url, tc.api_key)
    assert again.returncode == 1
    assert "409 INVALID_STATE" in again.stdout + again.stderr
    # Not enough credits: a clear error and a non-zero exit, not a traceback.
    data = tmp_path / "d.csv"
    data.write_bytes(csv_bytes(50))
    poor = _cli(["run", str(data)], gateway_url, tc.api_key)
    assert poor.returncode == 1
    assert "402 INSUFFICIENT_CREDITS" in poor.stdout
    assert "Traceback" not in poor.stderr
    tc.close()
