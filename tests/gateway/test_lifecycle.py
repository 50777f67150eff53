"""Statuses and transitions: wrong-state calls are 409 with the current status; cancel in every
cancellable state; delete refuses running tasks and removes the files."""

from __future__ import annotations

import time
from typing import Any

import pytest

from core.storage import get_storage, task_prefix
from tasks.lifecycle import TRANSITIONS
from tasks.models import TaskStatus
from tests.conftest import all_queues_worker_with, wait_for_task
from tests.gateway.conftest import (
    SMALL_CSV,
    create,
    csv_bytes,
    ledger,
    new_tenant,
    paused_queue,
    upload,
    wallet,
)


@pytest.fixture(scope="module")
def worker(platform):  # type: ignore[no-untyped-def]
    """type-fixer pauses 3 s, so a cancel sent while PROCESSING lands mid-run."""
    yield from all_queues_worker_with(platform, "sleep:type-fixer:3")


def _conflict(r: Any, status: str) -> None:
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert err["code"] == "INVALID_STATE"
    assert err["details"]["status"] == status


def test_final_statuses_have_no_way_out():
    for s in (
        TaskStatus.COMPLETED,
        TaskStatus.COMPLETED_WITH_ERRORS,
        TaskStatus.FAILED,
        TaskStatus.CANCELLED,
        TaskStatus.EXPIRED,
    ):
        assert TRANSITIONS[s] == frozenset()
    assert TaskStatus.PROCESSING in TRANSITIONS[TaskStatus.QUEUED]
    assert TaskStatus.PROCESSING not in TRANSITIONS[TaskStatus.CREATED]


def test_wrong_state_calls_on_a_queued_task_are_409_with_its_status(tenant, worker):
    task_id = create(tenant)["task_id"]
    assert upload(tenant, task_id, SMALL_CSV).status_code == 200
    with paused_queue("profile-my-data"):
        assert tenant.client.post(f"/v1/tasks/{task_id}/process").status_code == 202
        _conflict(tenant.client.post(f"/v1/tasks/{task_id}/process"), "QUEUED")
        _conflict(upload(tenant, task_id, SMALL_CSV), "QUEUED")
        _conflict(tenant.client.delete(f"/v1/tasks/{task_id}"), "QUEUED")
        r = tenant.client.get(f"/v1/tasks/{task_id}/report")
        assert r.status_code == 409 and r.json()["error"]["code"] == "REPORT_NOT_READY"
        assert r.json()["error"]["details"]["status"] == "QUEUED"
        assert tenant.client.post(f"/v1/tasks/{task_id}/cancel").status_code == 200


def test_calls_on_a_finished_task_are_409(tenant, worker):
    task_id = create(tenant, agents=["unified-profiler"])["task_id"]
    assert upload(tenant, task_id, SMALL_CSV).status_code == 200
    assert tenant.client.post(f"/v1/tasks/{task_id}/process").status_code == 202
    assert wait_for_task(tenant.client, task_id)["status"] == "COMPLETED"
    _conflict(tenant.client.post(f"/v1/tasks/{task_id}/process"), "COMPLETED")
    _conflict(tenant.client.post(f"/v1/tasks/{task_id}/cancel"), "COMPLETED")
    _conflict(upload(tenant, task_id, SMALL_CSV), "COMPLETED")


def test_cancel_a_created_task_ends_it_at_once_with_nothing_held(admin, gateway_url):
    tc = new_tenant(admin, gateway_url, credits=500)
    task_id = create(tc)["task_id"]
    r = tc.client.post(f"/v1/tasks/{task_id}/cancel")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "CANCELLED" and body["credits_held"] == 0
    assert {a["status"] for a in body["agents"]} == {"cancelled"}
    assert wallet(tc) == {"balance": 500, "held": 0, "available": 500}
    assert ledger(tc)[0]["kind"] == "grant"  # no hold was ever posted
    tc.close()


def test_cancel_a_queued_task_releases_its_hold(admin, gateway_url, worker):
    tc = new_tenant(admin, gateway_url, credits=500)
    task_id = create(tc)["task_id"]
    assert upload(tc, task_id, SMALL_CSV).status_code == 200
    with paused_queue("profile-my-data"):
        r = tc.client.post(f"/v1/tasks/{task_id}/process")
        assert r.status_code == 202, r.text
        held = r.json()["credits_held"]
        assert held > 0 and wallet(tc)["held"] == held
        r = tc.client.post(f"/v1/tasks/{task_id}/cancel")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "CANCELLED"
        assert wallet(tc) == {"balance": 500, "held": 0, "available": 500}
    # The message still on the queue is delivered later and must not revive the task.
    time.sleep(2)
    task = tc.client.get(f"/v1/tasks/{task_id}").json()
    assert task["status"] == "CANCELLED" and task["attempt"] == 0
    assert task["credits_charged"] == 0
    assert wallet(tc) == {"balance": 500, "held": 0, "available": 500}
    tc.close()


def test_cancel_a_processing_task_stops_between_agents_and_keeps_finished_agents_charged(
    admin, gateway_url, worker
):
    tc = new_tenant(admin, gateway_url, credits=5_000)
    data = csv_bytes(150_000)
    task_id = create(tc, "clean-my-data")["task_id"]
    assert upload(tc, task_id, data).status_code == 200
    assert tc.client.post(f"/v1/tasks/{task_id}/process").status_code == 202
    deadline = time.monotonic() + 60
    while True:
        task = tc.client.get(f"/v1/tasks/{task_id}").json()
        if task["status"] == "PROCESSING" and task["current_agent"]:
            break
        assert task["status"] in ("QUEUED", "PROCESSING"), task
        assert time.monotonic() < deadline
        time.sleep(0.05)
    r = tc.client.post(f"/v1/tasks/{task_id}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "PROCESSING"  # stops after the current agent
    task = wait_for_task(tc.client, task_id)
    assert task["status"] == "CANCELLED", task
    statuses = [a["status"] for a in task["agents"]]
    assert "cancelled" in statuses, statuses
    assert "pending" not in statuses and "running" not in statuses
    done = [a for a in task["agents"] if a["status"] == "success"]
    charged = sum(a["credits"] for a in done)
    assert all(a["credits"] == 0 for a in task["agents"] if a["status"] != "success")
    assert task["credits_charged"] == charged and task["credits_held"] == 0
    assert wallet(tc) == {"balance": 5_000 - charged, "held": 0, "available": 5_000 - charged}
    tc.close()


def test_delete_removes_the_task_and_its_s3_objects(tenant, worker):
    task_id = create(tenant, agents=["unified-profiler"])["task_id"]
    assert upload(tenant, task_id, SMALL_CSV).status_code == 200
    assert tenant.client.post(f"/v1/tasks/{task_id}/process").status_code == 202
    assert wait_for_task(tenant.client, task_id)["status"] == "COMPLETED"
    prefix = task_prefix(tenant.tenant_id, task_id)
    keys = {o.key for o in get_storage().list_keys(prefix)}
    assert any("/inputs/" in k for k in keys) and any("/outputs/" in k for k in keys)

    r = tenant.client.delete(f"/v1/tasks/{task_id}")
    assert r.status_code == 204, r.text
    assert get_storage().list_keys(prefix) == []
    assert tenant.client.get(f"/v1/tasks/{task_id}").status_code == 404
    assert tenant.client.delete(f"/v1/tasks/{task_id}").status_code == 404


def test_delete_a_created_task_with_a_file(tenant):
    task_id = create(tenant)["task_id"]
    assert upload(tenant, task_id, SMALL_CSV).status_code == 200
    assert tenant.client.delete(f"/v1/tasks/{task_id}").status_code == 204
    assert get_storage().list_keys(task_prefix(tenant.tenant_id, task_id)) == []
