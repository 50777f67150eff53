"""Only agents that succeeded are charged: a failed agent, a cancelled task, a redelivered run.
Real gateway, real Celery worker process, real database; the wallet equals the ledger after each."""

from __future__ import annotations

import io
import random
import time
from pathlib import Path

import pytest

from tests.billing.conftest import assert_wallet_matches_ledger
from tests.conftest import all_queues_worker_with, submit, wait_for_task


@pytest.fixture(scope="module")
def worker(platform):  # type: ignore[no-untyped-def]
    """score-risk pauses 3 s, so a cancel sent after the first agent lands mid-run."""
    yield from all_queues_worker_with(platform, "sleep:score-risk:3")


SAMPLE = (Path(__file__).resolve().parents[2] / "core" / "samples" / "customers.csv").read_bytes()


def _prices(tc, tool_id: str, agents: list[str]) -> dict[str, int]:
    r = tc.client.post("/v1/billing/estimate", json={"tool_id": tool_id, "agents": agents})
    assert r.status_code == 200, r.text
    per_agent: dict[str, int] = r.json()["per_agent"]
    return per_agent


def _ledger(tc, task_id: str) -> list[dict]:
    items = tc.client.get("/v1/billing/ledger", params={"limit": 500}).json()["items"]
    return [e for e in items if e["task_id"] == task_id]


def test_a_task_whose_third_agent_fails_is_charged_for_the_other_agents_only(make_tenant, worker):
    agents = ["cleanse-previewer", "type-fixer", "null-handler", "cleanse-writeback"]
    tc = make_tenant(credits=1_000)
    prices = _prices(tc, "clean-my-data", agents)
    held = sum(prices.values())
    # A column that is not in the file passes the request schema (columns are only known once
    # the file is read) and the null handler rejects it when it runs: a real agent failure.
    task_id = submit(
        tc,
        "clean-my-data",
        {"primary": ("customers.csv", SAMPLE)},
        agents=agents,
        parameters={"null-handler": {"strategies": {"no_such_column": "mean"}}},
    )
    task = wait_for_task(tc.client, task_id)

    statuses = {a["agent_id"]: a["status"] for a in task["agents"]}
    assert statuses == {
        "cleanse-previewer": "success",
        "type-fixer": "success",
        "null-handler": "failed",
        "cleanse-writeback": "success",
    }, task
    assert task["status"] == "COMPLETED_WITH_ERRORS"
    expected = held - prices["null-handler"]
    assert task["credits_charged"] == expected
    entries = _ledger(tc, task_id)
    captures = {e["agent_id"]: -e["amount"] for e in entries if e["kind"] == "capture"}
    assert captures == {a: p for a, p in prices.items() if a != "null-handler"}
    released = sum(-e["held_delta"] for e in entries if e["kind"] == "release")
    assert released == prices["null-handler"]
    assert assert_wallet_matches_ledger(tc.tenant_id) == {
        "balance": 1_000 - expected,
        "held": 0,
        "available": 1_000 - expected,
    }


def _slow_csv(rows: int = 150_000) -> bytes:
    rnd = random.Random(7)
    out = io.StringIO()
    out.write("id,name,email,amount,score,city\n")
    for i in range(rows):
        out.write(
            f"{i},name{rnd.randint(0, 9999)},u{i}@ex{rnd.randint(0, 50)}.com,"
            f"{rnd.random() * 1000:.2f},{rnd.randint(0, 100)},city{rnd.randint(0, 300)}\n"
        )
    return out.getvalue().encode()


def test_a_task_cancelled_while_running_is_charged_only_for_agents_that_finished(
    make_tenant, worker
):
    agents = [
        "unified-profiler",
        "score-risk",
        "test-coverage-agent",
        "readiness-rater",
        "governance-checker",
    ]
    tc = make_tenant(credits=1_000)
    prices = _prices(tc, "profile-my-data", agents)
    task_id = submit(tc, "profile-my-data", {"primary": ("big.csv", _slow_csv())}, agents=agents)

    # Cancel as soon as the first agent has finished (the rest are still to run).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = tc.client.get(f"/v1/tasks/{task_id}").json()
        if any(a["status"] == "success" for a in body["agents"]):
            break
        time.sleep(0.05)
    r = tc.client.post(f"/v1/tasks/{task_id}/cancel")
    assert r.status_code in (200, 202), r.text
    task = wait_for_task(tc.client, task_id)

    assert task["status"] == "CANCELLED", task
    finished = [a["agent_id"] for a in task["agents"] if a["status"] == "success"]
    not_run = [a["agent_id"] for a in task["agents"] if a["status"] != "success"]
    assert finished and not_run, f"the cancel did not land mid-run: {task['agents']}"
    charged = sum(prices[a] for a in finished)
    assert task["credits_charged"] == charged
    captures = {e["agent_id"] for e in _ledger(tc, task_id) if e["kind"] == "capture"}
    assert captures == set(finished)
    assert assert_wallet_matches_ledger(tc.tenant_id) == {
        "balance": 1_000 - charged,
        "held": 0,
        "available": 1_000 - charged,
    }


def test_a_redelivered_run_never_charges_a_finished_agent_twice(make_tenant, worker):
    """A worker that crashed after an agent's checkpoint commits it again on redelivery: the
    same checkpoint-and-capture transaction (``DbHooks.agent_finished``) charges nothing more,
    and a redelivered message for the finished task is ignored."""
    from transformers.contract import AgentResult, AgentStatus
    from transformers.pipeline import AgentCheckpoint
    from workers.runner import Claim, DbHooks, run_task

    tc = make_tenant(credits=1_000)
    agents = ["unified-profiler"]
    price = _prices(tc, "profile-my-data", agents)["unified-profiler"]
    task_id = submit(tc, "profile-my-data", {"primary": ("c.csv", SAMPLE)}, agents=agents)
    task = wait_for_task(tc.client, task_id)
    assert task["status"] == "COMPLETED" and task["credits_charged"] == price
    before = assert_wallet_matches_ledger(tc.tenant_id)

    hooks = DbHooks(Claim(task_id, tc.tenant_id, attempt=2))
    result = AgentResult(agent_id="unified-profiler", status=AgentStatus.SUCCESS)
    hooks.agent_finished(
        result, AgentCheckpoint(result_key="replayed", frame_key=None, column_aliases={})
    )
    assert run_task(task_id, tc.tenant_id, "redelivered@test") == "IGNORED"

    assert assert_wallet_matches_ledger(tc.tenant_id) == before
    captures = [e for e in _ledger(tc, task_id) if e["kind"] == "capture"]
    assert len(captures) == 1 and captures[0]["amount"] == -price
