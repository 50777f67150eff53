"""The sweeper's housekeeping: tasks never processed expire (hold-free), and files past their
retention are deleted from S3 (inputs and checkpoints first, outputs later)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from core.db import session_scope, utcnow
from core.storage import get_storage, task_prefix
from tasks.models import Task
from tests.conftest import submit, wait_for_task
from tests.workers.conftest import SAMPLE
from workers.sweeper import apply_retention, sweep


def _age(task_id: str, **fields: dt.timedelta) -> None:
    with session_scope() as s:
        values = {name: utcnow() - delta for name, delta in fields.items()}
        s.execute(update(Task).where(Task.id == task_id).values(**values))


def _keys(tenant_id: str, task_id: str, area: str) -> list[str]:
    prefix = f"{task_prefix(tenant_id, task_id)}{area}/"
    return [o.key for o in get_storage().list_keys(prefix)]


def test_a_task_never_processed_expires_after_the_retention_deadline(make_tenant):
    tc = make_tenant(credits=100)
    fresh = submit(
        tc, "profile-my-data", {"primary": ("a.csv", SAMPLE.read_bytes())}, process=False
    )
    stale = submit(
        tc, "profile-my-data", {"primary": ("b.csv", SAMPLE.read_bytes())}, process=False
    )
    _age(stale, created_at=dt.timedelta(days=8))  # RETENTION_UNPROCESSED_DAYS is 7
    counts = sweep()
    assert counts["expired"] >= 1
    assert tc.client.get(f"/v1/tasks/{stale}").json()["status"] == "EXPIRED"
    assert tc.client.get(f"/v1/tasks/{fresh}").json()["status"] == "CREATED"
    assert tc.client.get("/v1/billing/wallet").json() == {
        "balance": 100,
        "held": 0,
        "available": 100,
    }


def test_inputs_go_after_7_days_and_outputs_after_30(make_tenant, worker):
    tc = make_tenant(credits=1_000)
    task_id = submit(
        tc,
        "profile-my-data",
        {"primary": ("c.csv", SAMPLE.read_bytes())},
        agents=["unified-profiler"],
    )
    assert wait_for_task(tc.client, task_id)["status"] == "COMPLETED"
    assert _keys(tc.tenant_id, task_id, "inputs") and _keys(tc.tenant_id, task_id, "outputs")
    assert _keys(tc.tenant_id, task_id, "work")  # checkpoints

    _age(task_id, finished_at=dt.timedelta(days=8))
    apply_retention()
    assert _keys(tc.tenant_id, task_id, "inputs") == []
    assert _keys(tc.tenant_id, task_id, "work") == []
    assert _keys(tc.tenant_id, task_id, "outputs"), "outputs are kept for 30 days"
    assert tc.client.get(f"/v1/tasks/{task_id}/report").status_code == 200

    _age(task_id, finished_at=dt.timedelta(days=31))
    apply_retention()
    assert _keys(tc.tenant_id, task_id, "outputs") == []
    assert tc.client.get(f"/v1/tasks/{task_id}/outputs").json() == []
