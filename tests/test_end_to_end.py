"""One real task through the gateway, Redis, a Celery worker process and S3."""

from __future__ import annotations

import csv
import io
import statistics
from pathlib import Path

import httpx

from tests.conftest import submit, wait_for_task

SAMPLE = Path(__file__).resolve().parent.parent / "core" / "samples" / "customers.csv"


def test_profile_task_completes_and_reports_the_real_profile(make_tenant, worker):
    tc = make_tenant(credits=1_000)
    data = SAMPLE.read_bytes()
    task_id = submit(
        tc, "profile-my-data", {"primary": ("customers.csv", data)}, agents=["unified-profiler"]
    )

    task = wait_for_task(tc.client, task_id)
    assert task["status"] == "COMPLETED", task
    assert task["progress"] == 100
    assert [a["status"] for a in task["agents"]] == ["success"]

    report = tc.client.get(f"/v1/tasks/{task_id}/report").json()
    profiler = next(a for a in report["agents"] if a["agent_id"] == "unified-profiler")
    assert profiler["status"] == "success"

    # The profile's numbers agree with an independent computation on the same file.
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    incomes = [float(r["annual_income"]) for r in rows]
    columns = profiler["data"]["columns"]
    income = (
        columns["annual_income"]
        if isinstance(columns, dict)
        else next(c for c in columns if c["name"] == "annual_income")
    )
    stats = income.get("statistics", income)
    assert abs(stats["mean"] - statistics.fmean(incomes)) < 1e-6 * abs(statistics.fmean(incomes))
    assert stats["min"] == min(incomes) and stats["max"] == max(incomes)

    outputs = {o["name"]: o for o in tc.client.get(f"/v1/tasks/{task_id}/outputs").json()}
    assert {"report.json", "report.xlsx", "row_level_issues.csv"} <= set(outputs)
    downloaded = httpx.get(outputs["report.json"]["url"])
    assert downloaded.status_code == 200 and downloaded.json()["task_id"] == task_id


def test_unknown_tool_is_422(make_tenant):
    tc = make_tenant(credits=0)
    r = tc.client.post("/v1/tasks", json={"tool_id": "bake-my-cake"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "UNKNOWN_TOOL"


def test_process_without_the_required_file_names_the_missing_role(make_tenant):
    tc = make_tenant(credits=1_000)
    task_id = submit(tc, "profile-my-data", {}, process=False)
    r = tc.client.post(f"/v1/tasks/{task_id}/process")
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "MISSING_FILE" and err["details"]["missing_roles"] == ["primary"]
    # Nothing was held.
    assert tc.client.get("/v1/billing/wallet").json() == {
        "balance": 1000,
        "held": 0,
        "available": 1000,
    }


def test_unparseable_file_fails_the_task_with_invalid_file_and_charges_nothing(make_tenant, worker):
    tc = make_tenant(credits=1_000)
    ragged = b"a,b,c\n1,2,3\n4,5\n6,7,8\n"
    task_id = submit(
        tc, "profile-my-data", {"primary": ("ragged.csv", ragged)}, agents=["unified-profiler"]
    )
    task = wait_for_task(tc.client, task_id)
    assert task["status"] == "FAILED"
    assert task["error"]["code"] == "INVALID_FILE"
    assert "line 3" in task["error"]["message"]
    assert tc.client.get("/v1/billing/wallet").json() == {
        "balance": 1000,
        "held": 0,
        "available": 1000,
    }
