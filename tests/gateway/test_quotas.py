"""Plan quotas beyond rate: concurrent tasks (per tenant and per tool) and file size.

This module never starts a worker, so accepted tasks stay QUEUED and hold their slot.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx

from tests.conftest import TenantClient
from tests.gateway import test_ratelimit as rl

burst, make_plan = rl.burst, rl.make_plan
tenant_on = rl.tenant_on  # the fixture: a tenant (and its API key) on a given plan

CSV = b"id,name,amount\n" + b"".join(b"%d,name %d,%d\n" % (i, i, i * 7) for i in range(30))


def fund(admin: httpx.Client, tc: TenantClient, credits: int = 100_000) -> None:
    r = admin.post(
        f"/v1/admin/tenants/{tc.tenant_id}/grants", json={"credits": credits, "reason": "test"}
    )
    assert r.status_code == 201, r.text


def ready_task(tc: TenantClient, tool_id: str = "profile-my-data") -> str:
    """A task with its file uploaded, ready to process."""
    r = tc.client.post("/v1/tasks", json={"tool_id": tool_id})
    assert r.status_code == 201, r.text
    task_id: str = r.json()["task_id"]
    r = tc.client.put(
        f"/v1/tasks/{task_id}/files/primary", params={"filename": "d.csv"}, content=CSV
    )
    assert r.status_code == 200, r.text
    return task_id


def test_20_simultaneous_process_calls_admit_exactly_the_quota_of_3(
    tenant_on: Any, admin: httpx.Client
) -> None:
    tc = tenant_on(make_plan(max_concurrent_tasks=3, max_concurrent_tasks_per_tool=20))
    fund(admin, tc)
    task_ids = [ready_task(tc) for _ in range(20)]

    responses = burst(
        [lambda t=t: tc.client.post(f"/v1/tasks/{t}/process") for t in task_ids]  # type: ignore[misc]
    )

    assert Counter(r.status_code for r in responses) == {202: 3, 429: 17}
    for r in responses:
        if r.status_code == 429:
            error = r.json()["error"]
            assert error["code"] == "QUOTA_EXCEEDED"
            assert error["details"]["quota"] == "max_concurrent_tasks"
            assert error["details"]["limit"] == 3
            assert int(r.headers["Retry-After"]) > 0
    statuses = Counter(tc.client.get(f"/v1/tasks/{t}").json()["status"] for t in task_ids)
    assert statuses["CREATED"] == 17, "refused tasks stay CREATED, with nothing held"
    wallet = tc.client.get("/v1/billing/wallet").json()
    held = sum(r.json()["credits_held"] for r in responses if r.status_code == 202)
    assert wallet["held"] == held > 0


def test_the_per_tool_quota_leaves_room_for_other_tools(
    tenant_on: Any, admin: httpx.Client
) -> None:
    tc = tenant_on(make_plan(max_concurrent_tasks=10, max_concurrent_tasks_per_tool=2))
    fund(admin, tc)
    profile = [ready_task(tc) for _ in range(3)]
    codes = [tc.client.post(f"/v1/tasks/{t}/process").status_code for t in profile]
    assert codes == [202, 202, 429]
    r = tc.client.post(f"/v1/tasks/{profile[2]}/process")
    error = r.json()["error"]
    assert error["code"] == "QUOTA_EXCEEDED"
    assert error["details"] == {
        "quota": "max_concurrent_tasks_per_tool",
        "tool_id": "profile-my-data",
        "limit": 2,
        "current": 2,
    }
    other = ready_task(tc, "clean-my-data")
    assert tc.client.post(f"/v1/tasks/{other}/process").status_code == 202


def test_a_file_over_the_plans_size_limit_is_refused_with_413(tenant_on: Any) -> None:
    tc = tenant_on(make_plan(max_file_bytes=len(CSV)))
    task_id = tc.client.post("/v1/tasks", json={"tool_id": "profile-my-data"}).json()["task_id"]
    r = tc.client.put(
        f"/v1/tasks/{task_id}/files/primary", params={"filename": "d.csv"}, content=CSV + b"1,x,2\n"
    )
    assert r.status_code == 413
    error = r.json()["error"]
    assert error["code"] == "FILE_TOO_LARGE"
    assert error["details"]["limit_bytes"] == len(CSV)
    r = tc.client.put(
        f"/v1/tasks/{task_id}/files/primary", params={"filename": "d.csv"}, content=CSV
    )
    assert r.status_code == 200, "exactly at the limit is allowed"
