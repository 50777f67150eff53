"""Per-tenant rate limits, against the real gateway and the session's real Redis."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import TenantClient
from tests.platform import wait


def _operator() -> dict[str, str]:
    return {"Authorization": f"Bearer {os.environ['ADMIN_API_KEY']}"}


def make_plan(**limits: int) -> str:
    """A plan row of its own, so a test's limits never leak into other tests."""
    from core.db import session_scope
    from tenants.models import Plan

    plan_id = f"rl-{uuid.uuid4().hex[:10]}"
    values: dict[str, Any] = {
        "submit_per_minute": 1_000,
        "read_per_minute": 1_000,
        "max_concurrent_tasks": 20,
        "max_concurrent_tasks_per_tool": 20,
        **limits,
    }
    with session_scope() as session:
        session.add(Plan(id=plan_id, name="rate-limit test", **values))
    return plan_id


@pytest.fixture
def tenant_on(admin: httpx.Client, gateway_url: str) -> Any:
    made: list[TenantClient] = []

    def _make(plan_id: str) -> TenantClient:
        r = admin.post("/v1/admin/tenants", json={"name": "rl", "plan": plan_id})
        assert r.status_code == 201, r.text
        tenant_id = r.json()["tenant_id"]
        r = admin.post(f"/v1/admin/tenants/{tenant_id}/api-keys", json={})
        assert r.status_code == 201, r.text
        key = r.json()["api_key"]
        client = httpx.Client(
            base_url=gateway_url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )
        tc = TenantClient(tenant_id, key, client)
        made.append(tc)
        return tc

    yield _make
    for tc in made:
        tc.close()


def burst(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run every call at the same moment (one thread each, released by a barrier)."""
    barrier = threading.Barrier(len(calls))
    results: list[httpx.Response | BaseException] = [RuntimeError("not run")] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # surfaced below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results  # type: ignore[return-value]


def limit_headers(r: httpx.Response) -> tuple[int, int, int]:
    return (
        int(r.headers["X-RateLimit-Limit"]),
        int(r.headers["X-RateLimit-Remaining"]),
        int(r.headers["X-RateLimit-Reset"]),
    )


def test_n_plus_20_concurrent_submissions_give_exactly_n_and_spare_another_tenant(
    tenant_on: Any,
) -> None:
    n = 10
    plan = make_plan(submit_per_minute=n)
    flooder, neighbour = tenant_on(plan), tenant_on(plan)

    def create(tc: TenantClient) -> Callable[[], httpx.Response]:
        return lambda: tc.client.post("/v1/tasks", json={"tool_id": "profile-my-data"})

    responses = burst([create(flooder)] * (n + 20) + [create(neighbour)] * n)
    mine, theirs = responses[: n + 20], responses[n + 20 :]

    assert Counter(r.status_code for r in mine) == {201: n, 429: 20}
    assert Counter(r.status_code for r in theirs) == {201: n}
    now = time.time()
    for r in mine:
        limit, remaining, reset = limit_headers(r)
        assert limit == n
        assert 0 <= remaining < n
        assert now - 2 <= reset <= now + 62
        if r.status_code == 429:
            assert remaining == 0
            assert 1 <= int(r.headers["Retry-After"]) <= 60
            error = r.json()["error"]
            assert error["code"] == "RATE_LIMITED"
            assert error["details"]["limit"] == n
            assert error["details"]["scope"] == "submit"
    tasks = flooder.client.get("/v1/tasks").json()["items"]
    assert len(tasks) == n, "a refused submission must not create a task"


def test_headers_count_down_and_the_429_says_when_to_retry(tenant_on: Any) -> None:
    tc = tenant_on(make_plan(read_per_minute=3))
    before = time.time()
    seen = []
    for _ in range(3):
        r = tc.client.get("/v1/billing/wallet")
        assert r.status_code == 200, r.text
        seen.append(limit_headers(r))
        assert "Retry-After" not in r.headers
    assert [(lim, rem) for lim, rem, _ in seen] == [(3, 2), (3, 1), (3, 0)]
    assert all(before <= reset <= time.time() + 61 for _, _, reset in seen)

    r = tc.client.get("/v1/billing/wallet")
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "RATE_LIMITED"
    limit, remaining, reset = limit_headers(r)
    retry_after = int(r.headers["Retry-After"])
    assert (limit, remaining) == (3, 0)
    assert 55 <= retry_after <= 60, "the oldest of the 3 calls leaves the window in ~60 s"
    assert abs((reset - time.time()) - retry_after) <= 2


def test_task_ids_share_one_bucket_and_reads_do_not_spend_submissions(tenant_on: Any) -> None:
    tc = tenant_on(make_plan(read_per_minute=3, submit_per_minute=5))
    for _ in range(3):
        r = tc.client.get(f"/v1/tasks/{uuid.uuid4()}")
        assert r.status_code == 404
        assert "X-RateLimit-Remaining" in r.headers
    r = tc.client.get(f"/v1/tasks/{uuid.uuid4()}")
    assert r.status_code == 429, "another task id is the same endpoint, the same bucket"
    r = tc.client.post("/v1/tasks", json={"tool_id": "profile-my-data"})
    assert r.status_code == 201
    assert limit_headers(r)[:2] == (5, 4)


def _succeeds_with_limit(tc: TenantClient, expected: int) -> Callable[[], bool]:
    def check() -> bool:
        r = tc.client.get("/v1/billing/wallet")
        return r.status_code == 200 and r.headers["X-RateLimit-Limit"] == str(expected)

    return check


def test_moving_a_tenant_to_another_plan_applies_its_limits_within_seconds(
    tenant_on: Any, admin: httpx.Client
) -> None:
    small, large = make_plan(read_per_minute=2), make_plan(read_per_minute=50)
    tc = tenant_on(small)
    assert [tc.client.get("/v1/billing/wallet").status_code for _ in range(3)] == [200, 200, 429]

    t0 = time.monotonic()
    r = admin.patch(f"/v1/admin/tenants/{tc.tenant_id}", json={"plan": large})
    assert r.status_code == 200, r.text
    wait(_succeeds_with_limit(tc, 50), timeout=5, interval=0.2, what="the new plan's limit")
    assert time.monotonic() - t0 < 5


def test_editing_a_plan_applies_to_its_tenants_within_seconds(
    tenant_on: Any, admin: httpx.Client
) -> None:
    plan = make_plan(read_per_minute=2)
    tc = tenant_on(plan)
    assert [tc.client.get("/v1/billing/wallet").status_code for _ in range(3)] == [200, 200, 429]

    r = admin.patch(f"/v1/admin/plans/{plan}", json={"read_per_minute": 40})
    assert r.status_code == 200, r.text
    assert r.json()["read_per_minute"] == 40
    assert r.json()["submit_per_minute"] == 1_000, "fields not sent stay as they were"
    wait(_succeeds_with_limit(tc, 40), timeout=5, interval=0.2, what="the edited limit")


def test_only_operators_edit_plans(tenant_on: Any, admin: httpx.Client) -> None:
    plan = make_plan()
    tc = tenant_on(plan)
    r = tc.client.patch(f"/v1/admin/plans/{plan}", json={"read_per_minute": 1})
    assert r.status_code == 403
    r = admin.patch("/v1/admin/plans/no-such-plan", json={"read_per_minute": 1})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "PLAN_NOT_FOUND"
    r = admin.patch(f"/v1/admin/plans/{plan}", json={"read_per_minute": -1})
    assert r.status_code == 422


def test_calls_without_a_key_are_limited_by_address_and_operators_not_at_all(
    gateway_url: str, admin: httpx.Client
) -> None:
    from core.settings import get_settings

    r = httpx.get(f"{gateway_url}/v1/billing/wallet")
    assert r.status_code == 401
    assert r.headers["X-RateLimit-Limit"] == str(get_settings().ratelimit_anonymous_per_minute)
    r = httpx.get(f"{gateway_url}/v1/billing/wallet", headers={"X-API-Key": "agk_not_a_key"})
    assert r.status_code == 401
    assert r.headers["X-RateLimit-Limit"] == str(get_settings().ratelimit_anonymous_per_minute)

    r = admin.post("/v1/admin/tenants", json={"name": "op"})
    assert r.status_code == 201
    assert "X-RateLimit-Limit" not in r.headers
    r = httpx.get(f"{gateway_url}/healthz")
    assert r.status_code == 200
    assert "X-RateLimit-Limit" not in r.headers


def test_a_streamed_response_carries_the_headers_and_streams_whole(tenant_on: Any) -> None:
    tc = tenant_on(make_plan())
    task_id = tc.client.post("/v1/tasks", json={"tool_id": "profile-my-data"}).json()["task_id"]
    assert tc.client.post(f"/v1/tasks/{task_id}/cancel").status_code == 200
    with tc.client.stream("GET", f"/v1/tasks/{task_id}/events") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["X-RateLimit-Limit"] == "1000"
        body = "".join(r.iter_text())
    assert "event: progress" in body
    assert "event: status" in body and "CANCELLED" in body


def test_readyz_reports_the_policy_in_force(gateway_url: str, admin: httpx.Client) -> None:
    checks = admin.get("/v1/admin/readiness").json()["checks"]
    assert checks["rate_limit_policy"] == "fail-closed"
    assert checks["rate_limit_storage"] == "ok"


def _rejections(gateway_url: str) -> float:
    text = httpx.get(f"{gateway_url}/metrics", headers=_operator()).text
    for line in text.splitlines():
        if line.startswith('agensium_rate_limited_total{limit="rate"}'):
            return float(line.split()[-1])
    return 0.0


def test_each_rejection_is_counted_in_the_metrics(tenant_on: Any, gateway_url: str) -> None:
    tc = tenant_on(make_plan(read_per_minute=2))
    before = _rejections(gateway_url)
    codes = [tc.client.get("/v1/billing/wallet").status_code for _ in range(5)]
    assert codes == [200, 200, 429, 429, 429]
    assert _rejections(gateway_url) - before == 3
