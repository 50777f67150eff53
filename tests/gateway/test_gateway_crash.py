"""A gateway killed mid-request loses nothing for good: the Idempotency-Key its one-shot create
had claimed is taken over by a retry after the request timeout (the half-created task removed,
exactly one task left), and no upload spool file survives a restart.

Each gateway is a process of its own (killed for real); the request timeout is 3 s here
(``GATEWAY_REQUEST_TIMEOUT_SECONDS``, 300 s by default)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.platform import Platform, wait
from tests.workers.conftest import SAMPLE
from tests.workers.isolated import client_for, gateway_process


def _spooled(folder: Path) -> list[Path]:
    return sorted(folder.glob("gateway-*/agensium-upload-*"))


def test_a_killed_gateway_leaves_no_locked_key_no_extra_task_and_no_spool_file(
    platform: Platform, make_tenant, tmp_path: Path
):
    tc = make_tenant(credits=1_000)
    spool = tmp_path / "spool"
    env = {
        "UPLOAD_SPOOL_DIR": str(spool),
        "GATEWAY_REQUEST_TIMEOUT_SECONDS": "3",
        "AGENSIUM_FAULTS": "crash:one_shot_created",
    }
    doomed, url = gateway_process(platform, "gateway-doomed", env)
    client = client_for(url, tc.api_key)
    task_id = client.post("/v1/tasks", json={"tool_id": "profile-my-data"}).json()["task_id"]

    # An upload in progress: its first bytes are spooled, the rest never comes.
    release = threading.Event()

    def slow_body() -> Iterator[bytes]:
        yield SAMPLE.read_bytes()[: 32 * 1024]
        release.wait(60)
        yield b""

    def upload() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the gateway dies under it
            client.put(
                f"/v1/tasks/{task_id}/files/primary",
                params={"filename": "c.csv"},
                content=slow_body(),
            )

    uploader = threading.Thread(target=upload, daemon=True)
    uploader.start()
    wait(lambda: _spooled(spool), 30, 0.1, "the upload's spool file")

    # The one-shot create claims its key, creates its task, and the gateway dies right there.
    key = "crash-" + str(time.time())
    spec = {"spec": json.dumps({"tool_id": "profile-my-data"}), "process": "true"}
    files = {"primary": ("c.csv", SAMPLE.read_bytes())}
    try:
        client.post("/v1/tasks", data=spec, files=files, headers={"Idempotency-Key": key})
        raise AssertionError("the gateway should have died")
    except httpx.HTTPError:
        pass
    doomed.proc.wait(30)  # type: ignore[union-attr]
    release.set()
    uploader.join(10)
    client.close()
    assert _spooled(spool), "the killed gateway left its spool file behind"
    half_created = tc.client.get("/v1/tasks", params={"status": "CREATED"}).json()["items"]
    assert len(half_created) == 2  # the slow upload's task and the one-shot's

    restarted, url = gateway_process(
        platform,
        "gateway-restarted",
        {**env, "AGENSIUM_FAULTS": "", "UPLOAD_SPOOL_MAX_BYTES": str(64 * 1024)},
    )
    client = client_for(url, tc.api_key)
    try:
        assert _spooled(spool) == [], "a restart clears the dead gateway's spool files"
        # Past the request timeout, the retry takes the key over.
        claimed = doomed_claim_age(tc.tenant_id, key)
        assert claimed >= 0
        wait(lambda: doomed_claim_age(tc.tenant_id, key) > 3, 10, 0.2, "the request timeout")
        r = client.post("/v1/tasks", data=spec, files=files, headers={"Idempotency-Key": key})
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["status"] == "QUEUED"
        tasks = tc.client.get("/v1/tasks").json()["items"]
        one_shots = [t for t in tasks if t["task_id"] != task_id]
        assert [t["task_id"] for t in one_shots] == [created["task_id"]], "exactly one task"
        again = client.post("/v1/tasks", data=spec, files=files, headers={"Idempotency-Key": key})
        assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["task_id"] == created["task_id"]
        # The spool is capped: a body larger than the cap is refused, not spooled.
        big = SAMPLE.read_bytes() * 2
        assert len(big) > 64 * 1024
        r = client.put(
            f"/v1/tasks/{task_id}/files/primary", params={"filename": "c.csv"}, content=big
        )
        assert r.status_code == 503, r.text
        assert r.json()["error"]["details"] == {"dependency": "upload-spool"}
        assert r.headers["Retry-After"]
        assert _spooled(spool) == []
    finally:
        client.close()
        restarted.stop()


def doomed_claim_age(tenant_id: str, key: str) -> float:
    """Seconds since the dead request claimed ``key`` (-1 if it is not claimed)."""
    from sqlalchemy import select

    from core.db import session_scope, utcnow
    from tasks.models import IdempotencyRecord

    with session_scope() as s:
        created = s.scalar(
            select(IdempotencyRecord.created_at).where(
                IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.key == key
            )
        )
    return (utcnow() - created).total_seconds() if created else -1.0
