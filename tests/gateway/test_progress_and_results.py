"""Per-agent progress, the SSE stream, the report, outputs with expiring presigned URLs, and the
list with cursor pagination and filters."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.conftest import all_queues_worker_with, wait_for_task
from tests.gateway.conftest import SMALL_CSV, create, csv_bytes, new_tenant, upload


@pytest.fixture(scope="module")
def worker(platform):  # type: ignore[no-untyped-def]
    """score-risk pauses 2 s, so the event stream sees the task running between agents
    however fast the agents are."""
    yield from all_queues_worker_with(platform, "sleep:score-risk:2")


def _read_sse(client: httpx.Client, path: str, timeout: float = 120) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    name, data = "message", []
    with client.stream("GET", path, timeout=timeout) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif line == "" and data:
                events.append((name, json.loads("\n".join(data))))
                name, data = "message", []
    return events


def test_sse_pushes_progress_and_ends_with_a_status_event(tenant, worker):
    task_id = create(tenant)["task_id"]
    assert upload(tenant, task_id, csv_bytes(20_000)).status_code == 200
    assert tenant.client.post(f"/v1/tasks/{task_id}/process").status_code == 202
    events = _read_sse(tenant.client, f"/v1/tasks/{task_id}/events")
    names = [n for n, _ in events]
    assert names[-1] == "status" and names.count("status") == 1
    assert events[-1][1]["status"] == "COMPLETED"
    progress = [d for n, d in events if n == "progress"]
    assert len(progress) >= 3
    values = [p["progress"] for p in progress]
    assert values == sorted(values) and values[-1] == 100
    assert any(p["current_agent"] for p in progress)
    # Each agent was seen finishing.
    last = progress[-1]
    assert [a["status"] for a in last["agents"]].count("success") >= 4


def test_sse_on_a_finished_task_sends_its_state_and_ends(tenant, worker):
    task_id = create(tenant, agents=["unified-profiler"])["task_id"]
    assert upload(tenant, task_id, SMALL_CSV).status_code == 200
    tenant.client.post(f"/v1/tasks/{task_id}/process")
    wait_for_task(tenant.client, task_id)
    events = _read_sse(tenant.client, f"/v1/tasks/{task_id}/events", timeout=10)
    assert [n for n, _ in events] == ["progress", "status"]


def test_get_shows_per_agent_status_credits_and_timestamps(tenant, worker):
    task_id = create(tenant, agents=["unified-profiler", "drift-detector", "score-risk"])["task_id"]
    assert upload(tenant, task_id, SMALL_CSV).status_code == 200
    created = tenant.client.get(f"/v1/tasks/{task_id}").json()
    assert created["status"] == "CREATED" and created["progress"] == 0
    assert [a["status"] for a in created["agents"]] == ["pending"] * 3
    tenant.client.post(f"/v1/tasks/{task_id}/process")
    task = wait_for_task(tenant.client, task_id)
    assert task["status"] == "COMPLETED", task
    by_id = {a["agent_id"]: a for a in task["agents"]}
    assert by_id["unified-profiler"]["status"] == "success"
    assert by_id["unified-profiler"]["credits"] > 0
    assert by_id["unified-profiler"]["duration_ms"] is not None
    # No baseline uploaded: the drift detector is skipped and costs nothing.
    assert by_id["drift-detector"]["status"] == "skipped"
    assert by_id["drift-detector"]["credits"] == 0
    assert task["credits_charged"] == sum(a["credits"] for a in task["agents"])
    assert task["created_at"] <= task["queued_at"] <= task["started_at"] <= task["finished_at"]


def test_report_is_409_before_and_json_after(tenant, worker):
    task_id = create(tenant, agents=["unified-profiler"])["task_id"]
    r = tenant.client.get(f"/v1/tasks/{task_id}/report")
    assert r.status_code == 409
    assert r.json()["error"] == {
        "code": "REPORT_NOT_READY",
        "message": r.json()["error"]["message"],
        "details": {"status": "CREATED"},
    }
    assert tenant.client.get(f"/v1/tasks/{task_id}/outputs").json() == []
    assert upload(tenant, task_id, SMALL_CSV).status_code == 200
    tenant.client.post(f"/v1/tasks/{task_id}/process")
    wait_for_task(tenant.client, task_id)
    r = tenant.client.get(f"/v1/tasks/{task_id}/report")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json()["task_id"] == task_id


def test_outputs_have_working_presigned_urls_that_expire(tenant, worker):
    task_id = create(tenant, agents=["unified-profiler"])["task_id"]
    assert upload(tenant, task_id, SMALL_CSV).status_code == 200
    tenant.client.post(f"/v1/tasks/{task_id}/process")
    wait_for_task(tenant.client, task_id)
    outputs = tenant.client.get(f"/v1/tasks/{task_id}/outputs").json()
    assert outputs and all(o["size"] for o in outputs)
    for o in outputs:
        got = httpx.get(o["url"])
        assert got.status_code == 200, o["name"]
        assert len(got.content) == o["size"]
        assert f'filename="{o["name"]}"' in got.headers.get("content-disposition", "")
        expires = int(parse_qs(urlparse(o["url"]).query)["X-Amz-Expires"][0])
        assert expires == 3600


def _run_small(tenant: Any, **body: Any) -> str:
    task_id: str = create(tenant, agents=["unified-profiler"], **body)["task_id"]
    assert upload(tenant, task_id, SMALL_CSV).status_code == 200
    assert tenant.client.post(f"/v1/tasks/{task_id}/process").status_code == 202
    assert wait_for_task(tenant.client, task_id)["status"] == "COMPLETED"
    return task_id


def test_report_formats_choose_the_renderings_a_task_gets(tenant, worker):
    import openpyxl

    # Default: every rendering, as before the option existed; the workbook opens.
    default = _run_small(tenant)
    outputs = {o["name"]: o for o in tenant.client.get(f"/v1/tasks/{default}/outputs").json()}
    assert {"report.json", "report.html", "report.xlsx", "row_level_issues.csv"} <= set(outputs)
    workbook = openpyxl.load_workbook(io.BytesIO(httpx.get(outputs["report.xlsx"]["url"]).content))
    assert workbook.sheetnames[0] == "Summary" and "unified-profiler" in workbook.sheetnames

    # Without xlsx: no workbook is built or listed; the page and the row-level CSV still are.
    no_xlsx = _run_small(tenant, report_formats=["html", "json"])
    names = {o["name"] for o in tenant.client.get(f"/v1/tasks/{no_xlsx}/outputs").json()}
    assert names == {"report.json", "report.html", "row_level_issues.csv"}
    report = tenant.client.get(f"/v1/tasks/{no_xlsx}/report").json()
    assert {o["name"] for o in report["outputs"]} == names
    assert tenant.client.get(f"/v1/tasks/{no_xlsx}/report.html").status_code == 200

    # JSON only: the report is there, the page answers that there is none.
    json_only = _run_small(tenant, report_formats=[])
    names = {o["name"] for o in tenant.client.get(f"/v1/tasks/{json_only}/outputs").json()}
    assert names == {"report.json", "row_level_issues.csv"}
    assert tenant.client.get(f"/v1/tasks/{json_only}/report").status_code == 200
    r = tenant.client.get(f"/v1/tasks/{json_only}/report.html")
    assert r.status_code == 409 and r.json()["error"]["details"] == {"status": "COMPLETED"}


def test_an_unknown_report_format_is_422_naming_it_and_stores_nothing(tenant):
    before = len(tenant.client.get("/v1/tasks", params={"limit": 100}).json()["items"])
    for body in (
        {"tool_id": "profile-my-data", "report_formats": ["html", "pdf"]},
        {"tool_id": "profile-my-data", "report_formats": ["XLSX"]},
    ):
        r = tenant.client.post("/v1/tasks", json=body)
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "UNKNOWN_REPORT_FORMAT"
        assert error["details"]["formats"] == ["json", "html", "xlsx"]
        assert error["details"]["format"] == body["report_formats"][-1]
    # The one-shot (multipart) create refuses it the same way, before any file is kept.
    r = tenant.client.post(
        "/v1/tasks",
        data={"spec": json.dumps({"tool_id": "profile-my-data", "report_formats": ["pdf"]})},
        files={"primary": ("data.csv", SMALL_CSV, "text/csv")},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "UNKNOWN_REPORT_FORMAT"
    r = tenant.client.post("/v1/tasks", json={"tool_id": "profile-my-data", "report_formats": "x"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION_ERROR"
    assert len(tenant.client.get("/v1/tasks", params={"limit": 100}).json()["items"]) == before


@pytest.fixture
def short_presign():
    from core.settings import reset_settings

    old = os.environ.get("S3_PRESIGN_EXPIRY_SECONDS")
    os.environ["S3_PRESIGN_EXPIRY_SECONDS"] = "5"
    reset_settings()
    yield
    if old is None:
        os.environ.pop("S3_PRESIGN_EXPIRY_SECONDS", None)
    else:
        os.environ["S3_PRESIGN_EXPIRY_SECONDS"] = old
    reset_settings()


def test_output_urls_carry_the_configured_expiry(tenant, worker, short_presign):
    """The S3 side of expiry is proven in test_presigned_scope.py."""
    task_id = create(tenant, agents=["unified-profiler"])["task_id"]
    assert upload(tenant, task_id, SMALL_CSV).status_code == 200
    tenant.client.post(f"/v1/tasks/{task_id}/process")
    wait_for_task(tenant.client, task_id)
    for o in tenant.client.get(f"/v1/tasks/{task_id}/outputs").json():
        assert "X-Amz-Expires=5&" in o["url"]
        at = dt.datetime.fromisoformat(o["expires_at"])
        assert abs((at - dt.datetime.now(dt.UTC)).total_seconds() - 5) < 3


def test_list_walks_pages_newest_first_without_duplicates_and_filters(admin, gateway_url):
    tc = new_tenant(admin, gateway_url, credits=0)
    made = [create(tc)["task_id"] for _ in range(7)]
    made += [create(tc, "clean-my-data")["task_id"] for _ in range(5)]
    tc.client.post(f"/v1/tasks/{made[0]}/cancel")
    seen: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = tc.client.get("/v1/tasks", params=params).json()
        pages += 1
        assert len(page["items"]) <= 5
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 3
    ids = [t["task_id"] for t in seen]
    assert len(ids) == len(set(ids)) == 12
    assert ids == list(reversed(made))  # newest first
    created = [t["created_at"] for t in seen]
    assert created == sorted(created, reverse=True)

    clean = tc.client.get("/v1/tasks", params={"tool_id": "clean-my-data"}).json()["items"]
    assert {t["task_id"] for t in clean} == set(made[7:])
    cancelled = tc.client.get("/v1/tasks", params={"status": "CANCELLED"}).json()["items"]
    assert [t["task_id"] for t in cancelled] == [made[0]]
    both = tc.client.get(
        "/v1/tasks", params={"status": "CREATED", "tool_id": "profile-my-data"}
    ).json()["items"]
    assert {t["task_id"] for t in both} == set(made[1:7])
    r = tc.client.get("/v1/tasks", params={"status": "DONE"})
    assert r.status_code == 422
    r = tc.client.get("/v1/tasks", params={"cursor": "not-a-cursor"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_CURSOR"
    tc.close()
