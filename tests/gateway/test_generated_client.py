"""A Python SDK generated from the served OpenAPI schema (openapi-python-client) runs a whole
task with short method names: the schema is complete enough for a client nobody hand-wrote."""

from __future__ import annotations

import importlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from tests.gateway.conftest import SMALL_CSV

VENV_BIN = Path(sys.executable).parent


def test_every_route_has_a_listed_operation_id() -> None:
    # Imported here, not at collection: gateway.app builds the app (and the Celery client)
    # from the settings, before the test session has pointed them at its services.
    from gateway.app import create_app
    from gateway.operation_ids import OPERATION_IDS

    routes = {
        (method, ctx.path)
        for ctx in iter_route_contexts(create_app().routes)
        if isinstance(ctx.route, APIRoute) and ctx.route.include_in_schema
        for method in ctx.methods or ()
    }
    assert routes - set(OPERATION_IDS) == set(), "add these to gateway/operation_ids.py"
    assert len(set(OPERATION_IDS.values())) == len(OPERATION_IDS)


@pytest.fixture(scope="module")
def sdk(gateway_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("sdk")
    schema = out / "openapi.json"
    schema.write_bytes(httpx.get(f"{gateway_url}/openapi.json").content)
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [
            str(VENV_BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(schema),
            "--meta",
            "none",
            "--output-path",
            str(out / "agensium_sdk"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout, done.stdout
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("agensium_sdk")
    finally:
        sys.path.remove(str(out))


def test_a_generated_client_runs_a_whole_task(
    sdk: Any, make_tenant: Any, gateway_url: str, worker: Any
) -> None:
    models = importlib.import_module("agensium_sdk.models")
    types = importlib.import_module("agensium_sdk.types")
    tasks_create = importlib.import_module("agensium_sdk.api.tasks.tasks_create")
    tasks_files_upload = importlib.import_module("agensium_sdk.api.tasks.tasks_files_upload")
    tasks_process = importlib.import_module("agensium_sdk.api.tasks.tasks_process")
    tasks_get = importlib.import_module("agensium_sdk.api.tasks.tasks_get")
    tasks_outputs = importlib.import_module("agensium_sdk.api.tasks.tasks_outputs")
    wallet_get = importlib.import_module("agensium_sdk.api.billing.billing_wallet_get")

    tc = make_tenant(credits=5_000)
    client = sdk.AuthenticatedClient(base_url=gateway_url, token=tc.api_key, timeout=60)
    before = wallet_get.sync(client=client)
    assert before.available == 5_000

    body = models.TasksCreateJsonTaskCreate.from_dict(
        {"tool_id": "profile-my-data", "agents": ["unified-profiler"]}
    )
    created = tasks_create.sync(client=client, body=body)
    assert isinstance(created, models.TaskCreated), created
    task_id = created.task_id

    upload = types.File(payload=io.BytesIO(SMALL_CSV), file_name="data.csv")
    stored = tasks_files_upload.sync(
        task_id, "primary", client=client, body=upload, filename="data.csv"
    )
    assert isinstance(stored, models.FileUploaded), stored
    assert stored.size == len(SMALL_CSV)

    queued = tasks_process.sync_detailed(task_id, client=client)
    assert queued.status_code == 202, queued.content

    deadline = time.monotonic() + 120
    status = None
    while time.monotonic() < deadline:
        task = tasks_get.sync(task_id, client=client)
        status = str(task.status)
        if status in {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELLED"}:
            break
        time.sleep(0.3)
    assert status == "COMPLETED", status

    outputs = tasks_outputs.sync(task_id, client=client)
    names = {o.name for o in outputs}
    assert "report.json" in names, names

    after = wallet_get.sync(client=client)
    assert after.held == 0
    assert 0 < before.available - after.available == task.credits_charged
