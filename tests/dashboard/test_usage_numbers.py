"""GET /v1/usage and GET /v1/admin/usage agree with an independent computation from the
ledger and the task rows, for several tenants, tools and days, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from billing.models import LedgerEntry
from core.db import session_scope
from tasks.models import AgentRun, Task, TaskStatus
from tests.dashboard.factory import ran_task

S = TaskStatus
FINAL = ["CANCELLED", "COMPLETED", "COMPLETED_WITH_ERRORS", "EXPIRED", "FAILED"]

TODAY = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
WINDOW_FROM = (TODAY - dt.timedelta(days=6)).date().isoformat()
WINDOW_TO = (TODAY - dt.timedelta(days=1)).date().isoformat()  # a date: that day included
START = TODAY - dt.timedelta(days=6)
END = TODAY


def day(n: int, hour: int = 12, minute: int = 0, second: int = 0) -> dt.datetime:
    return TODAY - dt.timedelta(days=n) + dt.timedelta(hours=hour, minutes=minute, seconds=second)


def seed(tenants: list[str]) -> None:
    """Tasks of three tools over several days per tenant, each tenant a different mix."""
    a, b, c = tenants
    with session_scope() as s:
        ok2 = {"unified-profiler": ("success", 900), "score-risk": ("success", 450)}
        # Tenant A: profile on days 5, 3, 2; clean on day 3 with a failed agent; master failed.
        ran_task(
            s,
            a,
            "profile-my-data",
            ok2,
            S.COMPLETED,
            started=day(5),
            seconds=4.2,
            rows=1000,
            nbytes=36_000,
        )
        ran_task(
            s,
            a,
            "profile-my-data",
            ok2,
            S.COMPLETED,
            started=day(3, 9),
            seconds=12.5,
            rows=50_000,
            nbytes=2_000_000,
        )
        ran_task(
            s,
            a,
            "profile-my-data",
            {"unified-profiler": ("success", 300)},
            S.COMPLETED,
            started=day(2, 8),
            seconds=1.75,
            rows=10,
            nbytes=400,
        )
        ran_task(
            s,
            a,
            "clean-my-data",
            {
                "type-fixer": ("success", 2000),
                "null-handler": ("failed", 100),
                "cleanse-writeback": ("success", 700),
            },
            S.COMPLETED_WITH_ERRORS,
            started=day(3, 15),
            seconds=30,
            rows=20_000,
            nbytes=900_000,
        )
        ran_task(
            s,
            a,
            "master-my-data",
            {"key-identifier": ("failed", 50)},
            S.FAILED,
            started=day(2, 10),
            seconds=0.4,
            rows=None,
            nbytes=1234,
        )
        # Captured before midnight, ended after it: credits on day 4, the task on day 3.
        ran_task(
            s,
            a,
            "master-my-data",
            {"key-identifier": ("success", 600), "golden-record-builder": ("success", 8000)},
            S.COMPLETED,
            started=day(4, 23, 59, 50),
            seconds=20,
            rows=300,
            nbytes=9000,
            captured_at=day(4, 23, 59, 55),
        )
        # Outside the window: must not count.
        ran_task(
            s, a, "profile-my-data", ok2, S.COMPLETED, started=day(10), seconds=3, rows=5, nbytes=50
        )
        ran_task(
            s,
            a,
            "profile-my-data",
            ok2,
            S.COMPLETED,
            started=day(0, 1),
            seconds=3,
            rows=5,
            nbytes=50,
        )
        # Tenant B: clean-heavy, with a cancelled task.
        for n in (5, 4, 4, 1):
            ran_task(
                s,
                b,
                "clean-my-data",
                {"type-fixer": ("success", 1000 + n), "duplicate-resolver": ("success", 3000)},
                S.COMPLETED,
                started=day(n, 7),
                seconds=5 + n,
                rows=100 * n,
                nbytes=1000 * n,
            )
        ran_task(
            s,
            b,
            "clean-my-data",
            {"type-fixer": ("cancelled", 0)},
            S.CANCELLED,
            started=day(1, 20),
            seconds=2,
            rows=None,
            nbytes=None,
        )
        # Tenant C: one master task.
        ran_task(
            s,
            c,
            "master-my-data",
            {"key-identifier": ("success", 500), "semantic-mapper": ("success", 700)},
            S.COMPLETED,
            started=day(1, 6),
            seconds=9,
            rows=777,
            nbytes=7777,
        )


def expected(tenant_id: str | None, group_by: str) -> dict[str, Any]:
    """Computed straight from the rows, without tasks.usage."""
    with session_scope() as s:
        entries = list(s.scalars(select(LedgerEntry)))
        tasks = list(s.scalars(select(Task)))
        runs = list(s.scalars(select(AgentRun)))

    def mine(row: Any) -> bool:
        return tenant_id is None or row.tenant_id == tenant_id

    def inside(ts: dt.datetime | None) -> bool:
        return ts is not None and START <= ts < END

    groups: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"credits": 0, "tasks": defaultdict(int), "rows": 0, "bytes": 0, "durations": []}
    )
    totals: dict[str, Any] = {
        "credits": 0,
        "tasks": defaultdict(int),
        "rows": 0,
        "bytes": 0,
        "durations": [],
    }
    per_tenant: dict[str, int] = defaultdict(int)
    for e in entries:
        if e.kind == "capture" and mine(e) and inside(e.created_at):
            key = {"day": e.created_at.date().isoformat(), "tool": e.tool_id, "agent": e.agent_id}[
                group_by
            ]
            groups[key]["credits"] -= e.amount
            totals["credits"] -= e.amount
            per_tenant[e.tenant_id] -= e.amount
    ended = {t.id: t for t in tasks if mine(t) and inside(t.finished_at)}
    for t in ended.values():
        ms = (t.finished_at - t.started_at).total_seconds() * 1000 if t.started_at else None
        targets = [totals]
        if group_by == "day":
            targets.append(groups[t.finished_at.date().isoformat()])
        elif group_by == "tool":
            targets.append(groups[t.tool_id])
        for g in targets:
            g["tasks"][t.status] += 1
            g["rows"] += t.rows_processed or 0
            g["bytes"] += t.bytes_processed or 0
            if ms is not None:
                g["durations"].append(ms)
    if group_by == "agent":
        for r in runs:
            t = ended.get(r.task_id)
            if t is None:
                continue
            g = groups[r.agent_id]
            g["tasks"][t.status] += 1
            g["rows"] += t.rows_processed or 0
            g["bytes"] += t.bytes_processed or 0
            if r.duration_ms is not None:
                g["durations"].append(float(r.duration_ms))
    return {"groups": dict(groups), "totals": totals, "per_tenant": dict(per_tenant)}


def assert_group(got: dict[str, Any], want: dict[str, Any] | None, label: str) -> None:
    want = want or {"credits": 0, "tasks": {}, "rows": 0, "bytes": 0, "durations": []}
    assert got["credits"] == want["credits"], label
    assert got["tasks"] == {s: want["tasks"].get(s, 0) for s in FINAL}, label
    assert got["tasks_total"] == sum(want["tasks"].values()), label
    assert got["rows_processed"] == want["rows"], label
    assert got["bytes_processed"] == want["bytes"], label
    for q, field in ((50, "duration_ms_p50"), (95, "duration_ms_p95")):
        if want["durations"]:
            assert got[field] == pytest.approx(np.percentile(want["durations"], q), abs=0.01), label
        else:
            assert got[field] is None, label


def check(body: dict[str, Any], want: dict[str, Any], label: str) -> None:
    got = {g["key"]: g for g in body["groups"]}
    assert set(want["groups"]) <= set(got), label
    for key, g in got.items():
        assert_group(g, want["groups"].get(key), f"{label} {key}")
    assert_group(body["totals"], want["totals"], f"{label} totals")


@pytest.mark.parametrize("group_by", ["day", "tool", "agent"])
def test_usage_matches_the_ledger_and_tasks_for_each_tenant(dual_db, make_tenant, admin, group_by):
    tenants = [make_tenant(credits=5_000, name=f"usage-{n}") for n in "abc"]
    seed([t.tenant_id for t in tenants])
    params = {"from": WINDOW_FROM, "to": WINDOW_TO, "group_by": group_by}

    for tc in tenants:
        r = tc.client.get("/v1/usage", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        want = expected(tc.tenant_id, group_by)
        check(body, want, f"{dual_db} {tc.tenant_id} {group_by}")
        if group_by == "day":  # every day of the window is listed, oldest first
            assert [g["key"] for g in body["groups"]] == [
                (START + dt.timedelta(days=n)).date().isoformat() for n in range(6)
            ]

    # Tenant A's numbers, spelled out once, so the test does not only compare two computations.
    a = tenants[0].client.get("/v1/usage", params={**params, "group_by": "tool"}).json()
    tools = {g["key"]: g for g in a["groups"]}
    assert tools["profile-my-data"]["tasks"]["COMPLETED"] == 3
    assert tools["master-my-data"]["tasks"]["FAILED"] == 1
    assert tools["master-my-data"]["credits"] == 5 + 20  # key-identifier + golden-record-builder
    assert a["totals"]["tasks_total"] == 6
    assert a["totals"]["rows_processed"] == 1000 + 50_000 + 10 + 20_000 + 300

    # Operators: the same across every tenant of the database, and the top tenants.
    r = admin.get("/v1/admin/usage", params={**params, "top": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    want = expected(None, group_by)
    check(body, want, f"{dual_db} admin {group_by}")
    top = sorted(want["per_tenant"].items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert [(t["tenant_id"], t["credits"]) for t in body["top_tenants"]] == top
    names = {t.tenant_id: f"usage-{n}" for t, n in zip(tenants, "abc", strict=True)}
    for t in body["top_tenants"]:
        if t["tenant_id"] in names:
            assert t["name"] == names[t["tenant_id"]]


def test_usage_defaults_to_the_last_30_days_and_rejects_bad_windows(make_tenant):
    tc = make_tenant(credits=0)
    body = tc.client.get("/v1/usage").json()
    start = dt.datetime.fromisoformat(body["from"])
    end = dt.datetime.fromisoformat(body["to"])
    assert end - start == dt.timedelta(days=30)
    assert len(body["groups"]) in (30, 31) and body["totals"]["credits"] == 0
    for params in (
        {"from": "2026-02-01", "to": "2026-01-01"},
        {"from": "yesterday"},
        {"from": "2020-01-01", "to": "2026-01-01"},
        {"group_by": "week"},
    ):
        r = tc.client.get("/v1/usage", params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["code"] in ("INVALID_WINDOW", "VALIDATION_ERROR")


def test_usage_needs_a_tenant_key_and_admin_usage_the_admin_scope(make_tenant, admin, gateway_url):
    import httpx

    tc = make_tenant(credits=0)
    assert httpx.get(f"{gateway_url}/v1/usage").status_code == 401
    assert tc.client.get("/v1/admin/usage").status_code == 403
    assert admin.get("/v1/usage").status_code == 403
