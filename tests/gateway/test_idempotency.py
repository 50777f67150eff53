"""Idempotency-Key on create and process (Stripe's semantics) and concurrent process calls."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import wait_for_task
from tests.gateway.conftest import SMALL_CSV, create, ledger, new_tenant, upload, wallet


def test_create_with_the_same_key_and_body_replays_the_first_response(tenant):
    key = str(uuid.uuid4())
    body = {"tool_id": "profile-my-data", "agents": ["unified-profiler"]}
    first = tenant.client.post("/v1/tasks", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = tenant.client.post("/v1/tasks", json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    ids = [
        t["task_id"] for t in tenant.client.get("/v1/tasks", params={"limit": 200}).json()["items"]
    ]
    assert ids.count(first.json()["task_id"]) == 1


def test_create_with_the_same_key_and_another_body_is_422(tenant):
    key = str(uuid.uuid4())
    r = tenant.client.post(
        "/v1/tasks", json={"tool_id": "profile-my-data"}, headers={"Idempotency-Key": key}
    )
    assert r.status_code == 201
    r = tenant.client.post(
        "/v1/tasks", json={"tool_id": "clean-my-data"}, headers={"Idempotency-Key": key}
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_a_key_is_scoped_to_its_endpoint(tenant):
    key = str(uuid.uuid4())
    created = tenant.client.post(
        "/v1/tasks", json={"tool_id": "profile-my-data"}, headers={"Idempotency-Key": key}
    )
    task_id = created.json()["task_id"]
    assert upload(tenant, task_id, SMALL_CSV).status_code == 200
    r = tenant.client.post(f"/v1/tasks/{task_id}/process", headers={"Idempotency-Key": key})
    assert r.status_code == 202, r.text
    tenant.client.post(f"/v1/tasks/{task_id}/cancel")


def test_process_replays_with_the_same_key(admin, gateway_url, worker):
    tc = new_tenant(admin, gateway_url, credits=1_000)
    task_id = create(tc, agents=["unified-profiler"])["task_id"]
    assert upload(tc, task_id, SMALL_CSV).status_code == 200
    key = str(uuid.uuid4())
    first = tc.client.post(f"/v1/tasks/{task_id}/process", headers={"Idempotency-Key": key})
    assert first.status_code == 202, first.text
    again = tc.client.post(f"/v1/tasks/{task_id}/process", headers={"Idempotency-Key": key})
    assert again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    task = wait_for_task(tc.client, task_id)
    assert task["status"] == "COMPLETED" and task["attempt"] == 1
    holds = [e for e in ledger(tc) if e["kind"] == "hold"]
    assert len(holds) == 1
    tc.close()


def _twenty_process_calls(
    url: str, key: str, task_id: str, idem: str | None
) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {key}"}
    if idem:
        headers["Idempotency-Key"] = idem

    def call(_: int) -> httpx.Response:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
            return c.post(f"/v1/tasks/{task_id}/process")

    with ThreadPoolExecutor(20) as pool:
        return list(pool.map(call, range(20)))


def _assert_enqueued_once(tc, task_id: str, responses: list[httpx.Response]) -> None:
    assert {r.status_code for r in responses} <= {202, 409}, [r.text for r in responses]
    fresh = [
        r for r in responses if r.status_code == 202 and "Idempotent-Replayed" not in r.headers
    ]
    assert len(fresh) == 1
    task = wait_for_task(tc.client, task_id)
    assert task["status"] == "COMPLETED" and task["attempt"] == 1
    holds = [e for e in ledger(tc) if e["kind"] == "hold" and e["task_id"] == task_id]
    assert len(holds) == 1
    captures = [e for e in ledger(tc) if e["kind"] == "capture" and e["task_id"] == task_id]
    assert len(captures) == len(task["agents"])
    assert wallet(tc)["held"] == 0


def test_twenty_concurrent_process_calls_enqueue_the_task_once(admin, gateway_url, worker):
    tc = new_tenant(admin, gateway_url, credits=1_000)
    task_id = create(tc, agents=["unified-profiler", "score-risk"])["task_id"]
    assert upload(tc, task_id, SMALL_CSV).status_code == 200
    responses = _twenty_process_calls(gateway_url, tc.api_key, task_id, None)
    for r in responses:
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "INVALID_STATE"
    _assert_enqueued_once(tc, task_id, responses)
    tc.close()


def test_twenty_concurrent_process_calls_with_one_key_and_presigned_upload(
    admin, gateway_url, worker
):
    tc = new_tenant(admin, gateway_url, credits=1_000)
    created = create(tc, agents=["unified-profiler"])
    assert httpx.put(created["uploads"]["primary"]["url"], content=SMALL_CSV).status_code == 200
    task_id = created["task_id"]
    responses = _twenty_process_calls(gateway_url, tc.api_key, task_id, str(uuid.uuid4()))
    _assert_enqueued_once(tc, task_id, responses)
    tc.close()
