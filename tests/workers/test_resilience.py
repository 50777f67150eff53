"""At-least-once delivery, exactly-once effect: crashes, lost messages, poison messages,
duplicate deliveries and time limits, with real worker processes and a real broker."""

from __future__ import annotations

import json

from tests.conftest import start_worker, submit, wait_for_task
from tests.platform import wait
from tests.workers.conftest import (
    PROFILE_AGENTS,
    SAMPLE,
    agent_runs,
    captures,
    wallet_matches_ledger,
)

PRICES = {"unified-profiler": 10, "score-risk": 8, "test-coverage-agent": 5, "readiness-rater": 5}


def _submit_profile(tc, agents: list[str]) -> str:  # type: ignore[no-untyped-def]
    return submit(tc, "profile-my-data", {"primary": ("c.csv", SAMPLE.read_bytes())}, agents=agents)


def _sweeper(platform):  # type: ignore[no-untyped-def]
    """The maintenance pool with beat: runs the sweeper every 2 s (SWEEPER_INTERVAL_SECONDS)."""
    return start_worker(platform, ["maintenance"], f"maint-{id(platform) % 1000}", beat=True)


def test_kill_9_mid_task_resumes_after_restart_and_charges_each_agent_once(
    platform, make_tenant, gateway_url
):
    tc = make_tenant(credits=1_000)
    doomed = start_worker(
        platform,
        ["profile-my-data"],
        "crash-a",
        extra_env={"AGENSIUM_FAULTS": "sleep:test-coverage-agent:60"},
    )
    task_id = _submit_profile(tc, PROFILE_AGENTS)

    def stuck_in_third_agent() -> bool:
        body = tc.client.get(f"/v1/tasks/{task_id}").json()
        return bool(body["current_agent"] == "test-coverage-agent")

    wait(stuck_in_third_agent, 60, 0.2, "the third agent to start")
    before = agent_runs(task_id)
    assert before["unified-profiler"]["status"] == "success"
    assert before["score-risk"]["status"] == "success"
    doomed.kill()  # SIGKILL to the whole worker: no ack, no cleanup

    survivor = start_worker(platform, ["profile-my-data"], "crash-b")
    sweeper = _sweeper(platform)
    try:
        task = wait_for_task(tc.client, task_id, timeout=120)
    finally:
        survivor.stop()
        sweeper.stop()
    assert task["status"] == "COMPLETED", task
    assert task["attempt"] == 2
    after = agent_runs(task_id)
    # The agents that finished before the crash were resumed from their checkpoint, not re-run.
    for agent in ("unified-profiler", "score-risk"):
        assert after[agent]["finished_at"] == before[agent]["finished_at"]
    assert captures(task_id) == {a: 1 for a in PROFILE_AGENTS}
    assert task["credits_charged"] == sum(PRICES.values())
    wallet, ledger = wallet_matches_ledger(tc.tenant_id)
    assert wallet == ledger and wallet.held == 0
    assert f"task.resumed task_id={task_id}" in survivor.log_path.read_text()


def test_a_lost_message_is_re_sent_by_the_sweeper_and_the_task_completes(
    platform, make_tenant, gateway_url, broker
):
    tc = make_tenant(credits=1_000)
    task_id = _submit_profile(tc, ["unified-profiler"])
    # No profile pool runs yet: the message waits in Redis. Lose it.
    wait(lambda: broker.llen("profile-my-data") >= 1, 10, 0.1, "the message in the queue")
    broker.delete("profile-my-data")
    pool = start_worker(platform, ["profile-my-data"], "lost")
    sweeper = _sweeper(platform)
    try:
        task = wait_for_task(tc.client, task_id, timeout=90)
    finally:
        pool.stop()
        sweeper.stop()
    assert task["status"] == "COMPLETED"
    assert f"sweeper.resent task_id={task_id}" in sweeper.log_path.read_text()
    assert captures(task_id) == {"unified-profiler": 1}


def test_a_poison_task_fails_after_its_attempt_budget_and_the_pool_keeps_serving(
    platform, make_tenant, gateway_url
):
    tc = make_tenant(credits=1_000)
    pool = start_worker(
        platform,
        ["profile-my-data"],
        "poison",
        extra_env={"AGENSIUM_FAULTS": "crash:unified-profiler"},
    )
    sweeper = _sweeper(platform)
    try:
        poison = _submit_profile(tc, ["unified-profiler"])
        task = wait_for_task(tc.client, poison, timeout=150)
        assert task["status"] == "FAILED"
        assert task["error"]["code"] == "ATTEMPTS_EXHAUSTED"
        assert task["attempt"] == 3
        # The same pool still serves other tasks.
        healthy = _submit_profile(tc, ["score-risk"])
        assert wait_for_task(tc.client, healthy, timeout=60)["status"] == "COMPLETED"
        assert pool.alive()
    finally:
        pool.stop()
        sweeper.stop()
    assert captures(poison) == {}
    wallet, ledger = wallet_matches_ledger(tc.tenant_id)
    assert wallet == ledger
    assert wallet.held == 0 and wallet.balance == 1_000 - PRICES["score-risk"]


def test_the_same_message_delivered_twice_runs_the_task_once(
    platform, make_tenant, gateway_url, broker
):
    tc = make_tenant(credits=1_000)
    task_id = _submit_profile(tc, PROFILE_AGENTS)
    wait(lambda: broker.llen("profile-my-data") >= 1, 10, 0.1, "the message in the queue")
    original = broker.lindex("profile-my-data", 0)
    assert task_id in json.loads(original)["headers"]["argsrepr"]
    broker.lpush("profile-my-data", original)  # a redelivery of the very same message
    pool = start_worker(platform, ["profile-my-data"], "dupes", concurrency=2)
    try:
        task = wait_for_task(tc.client, task_id, timeout=90)
        wait(lambda: broker.llen("profile-my-data") == 0, 30, 0.2, "both messages consumed")
    finally:
        pool.stop()
    assert task["status"] == "COMPLETED"
    assert task["attempt"] == 1
    assert captures(task_id) == {a: 1 for a in PROFILE_AGENTS}
    log = pool.log_path.read_text()
    assert log.count(f"task.claimed task_id={task_id}") == 1


def test_a_task_over_the_soft_time_limit_fails_with_timeout_keeping_finished_agents(
    platform, make_tenant, gateway_url
):
    tc = make_tenant(credits=1_000)
    pool = start_worker(
        platform,
        ["profile-my-data"],
        "slow",
        extra_env={
            "AGENSIUM_FAULTS": "sleep:score-risk:30",
            "CELERY_TASK_SOFT_TIME_LIMIT": "6",
            "CELERY_TASK_TIME_LIMIT": "40",
        },
    )
    try:
        task_id = _submit_profile(tc, PROFILE_AGENTS)
        task = wait_for_task(tc.client, task_id, timeout=90)
    finally:
        pool.stop()
    assert task["status"] == "FAILED"
    assert task["error"]["code"] == "TIMEOUT"
    statuses = {a["agent_id"]: a["status"] for a in task["agents"]}
    assert statuses["unified-profiler"] == "success"
    assert statuses["test-coverage-agent"] == "skipped"
    assert captures(task_id) == {"unified-profiler": 1}
    assert task["credits_charged"] == PRICES["unified-profiler"]
    wallet, ledger = wallet_matches_ledger(tc.tenant_id)
    assert wallet == ledger and wallet.held == 0
    assert wallet.balance == 1_000 - PRICES["unified-profiler"]
