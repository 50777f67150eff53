"""S3 frozen (SIGSTOP) or killed: the calls that touch it answer 503 SERVICE_UNAVAILABLE with
Retry-After within 5 s, nothing is left half-created, the replica stays ready (degraded), and a
task in flight during the outage completes after it.

Everything here runs on this module's own SeaweedFS and its own embedded Redis, never the
session's: a gateway and the workers are started against them. The outage is a few seconds
(the mechanism is the same for a minute: retries back off from TASK_RETRY_BACKOFF_SECONDS,
30 s by default, 5 s here)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from core.services import ManagedProcess
from tests.platform import Platform, wait
from tests.workers.conftest import SAMPLE, agent_runs, captures, wallet_matches_ledger
from tests.workers.isolated import (
    OwnRedis,
    OwnS3,
    client_for,
    gateway_process,
    task_of,
    wait_final,
    worker_process,
)

DEADLINE = 5.0
#: How long S3 stays frozen after the first failed attempt: it spans the first retry, and the
#: backoff (5 s, then 10 s, plus jitter) brings the task back after it.
OUTAGE_SECONDS = 10.0


@dataclass
class Outage:
    s3: OwnS3
    redis: OwnRedis
    url: str
    env: dict[str, str]
    pool: ManagedProcess
    workdir: Path


@pytest.fixture(scope="module")
def outage(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    import boto3

    workdir = tmp_path_factory.mktemp("outage")
    s3 = OwnS3(workdir / "s3").start()
    redis = OwnRedis(workdir / "redis").start()
    bucket = f"outage-{uuid.uuid4().hex[:8]}"
    boto3.client(
        "s3",
        endpoint_url=s3.url,
        aws_access_key_id="local",
        aws_secret_access_key="local-secret",
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    env = {
        "REDIS_URL": redis.url,
        "S3_ENDPOINT_URL": s3.url,
        "S3_BUCKET": bucket,
        "TASK_RETRY_BACKOFF_SECONDS": "5",
        "AGENSIUM_FAULTS_DIR": str(workdir),
    }
    procs: list[ManagedProcess] = []
    try:
        gateway, url = gateway_process(platform, "gateway-s3-outage", env)
        procs.append(gateway)
        pool = worker_process(
            platform,
            ["profile-my-data"],
            "s3-outage",
            {**env, "AGENSIUM_FAULTS": "sleep_once:score-risk:4"},
        )
        procs.append(pool)
        yield Outage(s3, redis, url, env, pool, workdir)
    finally:
        for proc in reversed(procs):
            proc.stop()
        s3.stop()
        redis.stop()


def _timed(call) -> tuple[httpx.Response, float]:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    r = call()
    return r, time.monotonic() - t0


def _assert_503(r: httpx.Response, took: float) -> None:
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert int(r.headers["Retry-After"]) > 0
    assert took < DEADLINE, f"answered after {took:.1f}s"


def _uploaded_task(client: httpx.Client) -> str:
    task_id: str = client.post("/v1/tasks", json={"tool_id": "profile-my-data"}).json()["task_id"]
    r = client.put(
        f"/v1/tasks/{task_id}/files/primary",
        params={"filename": "c.csv"},
        content=SAMPLE.read_bytes(),
    )
    assert r.status_code == 200, r.text
    return task_id


@pytest.mark.parametrize("fault", ["frozen", "killed"])
def test_with_s3_down_upload_one_shot_and_process_answer_503_within_5s(
    outage: Outage, make_tenant, admin: httpx.Client, fault: str
):
    tc = make_tenant(credits=1_000)
    client = client_for(outage.url, tc.api_key, timeout=30)
    operator = client_for(outage.url, admin.headers["Authorization"].split()[-1])
    ready = _uploaded_task(client)  # uploaded while S3 answered
    empty = client.post("/v1/tasks", json={"tool_id": "profile-my-data"}).json()["task_id"]
    before = {t["task_id"] for t in client.get("/v1/tasks").json()["items"]}
    if fault == "frozen":
        outage.s3.freeze()
    else:
        outage.s3.kill()
    try:
        r, took = _timed(
            lambda: client.put(
                f"/v1/tasks/{empty}/files/primary",
                params={"filename": "c.csv"},
                content=SAMPLE.read_bytes(),
            )
        )
        _assert_503(r, took)
        r, took = _timed(
            lambda: client.post(
                "/v1/tasks",
                data={"spec": json.dumps({"tool_id": "profile-my-data"}), "process": "true"},
                files={"primary": ("c.csv", SAMPLE.read_bytes())},
            )
        )
        _assert_503(r, took)
        r, took = _timed(lambda: client.post(f"/v1/tasks/{ready}/process"))
        _assert_503(r, took)
        # No task half-created: the one-shot's task is gone; the others did not move.
        after = client.get("/v1/tasks").json()["items"]
        assert {t["task_id"] for t in after} == before
        assert {t["status"] for t in after} == {"CREATED"}
        assert client.get("/v1/billing/wallet").json()["held"] == 0
        # The replica still serves what needs no S3, and says it is degraded, not unready.
        r, took = _timed(lambda: httpx.get(f"{outage.url}/readyz", timeout=30))
        assert r.status_code == 200 and r.json() == {"status": "degraded"}, r.text
        assert took < DEADLINE
        details = operator.get("/v1/admin/readiness").json()
        assert details["checks"]["s3"].startswith("error")
        assert details["checks"]["database"] == "ok" and details["checks"]["redis"] == "ok"
    finally:
        if fault == "frozen":
            outage.s3.thaw()
        else:
            outage.s3.restart()
    # Back to normal: the same calls succeed.
    assert client.post(f"/v1/tasks/{ready}/process").status_code == 202
    client.close()
    operator.close()


def test_a_task_in_flight_during_an_s3_outage_completes_after_it(outage: Outage, make_tenant):
    tc = make_tenant(credits=1_000)
    client = client_for(outage.url, tc.api_key, timeout=30)
    agents = ["unified-profiler", "score-risk", "readiness-rater"]
    r = client.post("/v1/tasks", json={"tool_id": "profile-my-data", "agents": agents})
    task_id = r.json()["task_id"]

    def uploaded() -> bool:
        # S3 was killed and restarted by the test before: a client retries a 503 after
        # Retry-After until the store takes writes again.
        r = client.put(
            f"/v1/tasks/{task_id}/files/primary",
            params={"filename": "c.csv"},
            content=SAMPLE.read_bytes(),
        )
        assert r.status_code in (200, 503), r.text
        return r.status_code == 200

    wait(uploaded, 90, 1.0, "S3 to take the upload again")
    assert client.post(f"/v1/tasks/{task_id}/process").status_code == 202
    wait(
        lambda: task_of(client, task_id)["current_agent"] == "score-risk",
        60,
        0.1,
        "the second agent (paused 4 s) to start",
    )
    outage.s3.freeze()  # score-risk finishes into an S3 that does not answer: checkpoint fails
    try:
        wait(
            lambda: (
                (task_of(client, task_id).get("error") or {}).get("code") == "SERVICE_UNAVAILABLE"
            ),
            30,
            0.2,
            "the attempt to fail on S3 and be put back",
        )
        thaw_at = time.monotonic() + OUTAGE_SECONDS
        wait(lambda: time.monotonic() >= thaw_at, OUTAGE_SECONDS + 5, 0.5, "the outage to last")
    finally:
        outage.s3.thaw()
    task = wait_final(client, task_id, 120)
    client.close()
    assert task["status"] == "COMPLETED", task
    assert task["attempt"] >= 2
    assert agent_runs(task_id)["unified-profiler"]["status"] == "success"
    assert captures(task_id) == {a: 1 for a in agents}
    wallet, ledger = wallet_matches_ledger(tc.tenant_id)
    assert wallet == ledger and wallet.held == 0
    log = outage.pool.log_path.read_text()
    assert f"task.retry task_id={task_id} code=SERVICE_UNAVAILABLE" in log
