"""The plan's row and column limits travel with the task and the worker's reader enforces them:
the task ends FAILED with FILE_TOO_LARGE naming the limit, and nothing is charged."""

from __future__ import annotations

from typing import Any

import httpx

from core.services import ManagedProcess
from tests.conftest import wait_for_task
from tests.gateway import test_quotas as quotas
from tests.gateway import test_ratelimit as rl

tenant_on = rl.tenant_on  # the fixture: a tenant (and its API key) on a given plan


def test_a_file_over_the_plans_row_limit_fails_the_task_uncharged(
    tenant_on: Any, admin: httpx.Client, worker: ManagedProcess
) -> None:
    tc = tenant_on(rl.make_plan(max_rows=5))
    quotas.fund(admin, tc, 10_000)
    task_id = quotas.ready_task(tc)  # 30 rows
    r = tc.client.post(f"/v1/tasks/{task_id}/process")
    assert r.status_code == 202, r.text

    task = wait_for_task(tc.client, task_id, timeout=60)
    assert task["status"] == "FAILED"
    assert task["error"]["code"] == "FILE_TOO_LARGE"
    assert "max_rows" in task["error"]["message"] and "5" in task["error"]["message"]
    assert tc.client.get("/v1/billing/wallet").json() == {
        "balance": 10_000,
        "held": 0,
        "available": 10_000,
    }


def test_a_file_over_the_plans_column_limit_fails_the_task(
    tenant_on: Any, admin: httpx.Client, worker: ManagedProcess
) -> None:
    tc = tenant_on(rl.make_plan(max_columns=2))
    quotas.fund(admin, tc)
    task_id = quotas.ready_task(tc)  # 3 columns
    assert tc.client.post(f"/v1/tasks/{task_id}/process").status_code == 202
    task = wait_for_task(tc.client, task_id, timeout=60)
    assert task["status"] == "FAILED"
    assert task["error"]["code"] == "FILE_TOO_LARGE"
    assert "max_columns" in task["error"]["message"]
