"""The available balance never goes below zero under concurrent ``process`` calls of one tenant,
through the real gateway, on PostgreSQL (row lock) and SQLite (BEGIN IMMEDIATE)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.billing.conftest import assert_wallet_matches_ledger
from tests.conftest import submit

SAMPLE = (Path(__file__).resolve().parents[2] / "core" / "samples" / "customers.csv").read_bytes()
AGENTS = ["unified-profiler"]


def test_forty_concurrent_process_calls_with_credits_for_ten_queue_exactly_ten(
    dual_db, make_tenant, gateway_url
):
    probe = make_tenant(credits=0, plan="enterprise")
    price = probe.client.post(
        "/v1/billing/estimate", json={"tool_id": "profile-my-data", "agents": AGENTS}
    ).json()["credits"]
    assert price > 0
    # enterprise allows 100 concurrent tasks (50 per tool): only credits can limit this run.
    tc = make_tenant(credits=10 * price, plan="enterprise")
    task_ids = [
        submit(tc, "profile-my-data", {"primary": ("c.csv", SAMPLE)}, agents=AGENTS, process=False)
        for _ in range(40)
    ]

    def process(task_id: str) -> httpx.Response:
        with httpx.Client(
            base_url=gateway_url, headers={"Authorization": f"Bearer {tc.api_key}"}, timeout=120
        ) as c:
            return c.post(f"/v1/tasks/{task_id}/process")

    with ThreadPoolExecutor(max_workers=40) as pool:
        responses = list(pool.map(process, task_ids))

    codes = sorted(r.status_code for r in responses)
    assert codes.count(202) == 10, [(r.status_code, r.text[:200]) for r in responses]
    assert codes.count(402) == 30, codes
    for r in responses:
        if r.status_code == 402:
            err = r.json()["error"]
            assert err["code"] == "INSUFFICIENT_CREDITS"
            d = err["details"]
            assert d["required"] == price and d["available"] < price
            assert d["shortfall"] == d["required"] - d["available"]
    accepted = {t for t, r in zip(task_ids, responses, strict=True) if r.status_code == 202}
    for task_id in task_ids:
        status = tc.client.get(f"/v1/tasks/{task_id}").json()["status"]
        if task_id in accepted:
            # A worker may already have picked it up; what matters is that it left CREATED.
            assert status != "CREATED"
        else:
            assert status == "CREATED"

    totals = assert_wallet_matches_ledger(tc.tenant_id)
    assert totals["available"] == 0
    assert tc.client.get("/v1/billing/wallet").json()["available"] == 0
    ledger = tc.client.get("/v1/billing/ledger", params={"limit": 500}).json()["items"]
    holds = [e for e in ledger if e["kind"] == "hold"]
    assert len(holds) == 10 and {e["task_id"] for e in holds} == accepted
