"""Worker interruption never fails a task for good: Redis restarted with its data wiped while
tasks are QUEUED and PROCESSING, and a cold shutdown (SIGQUIT) mid-task, both end COMPLETED,
each agent charged once, the running task resumed after its last finished agent.

The Redis test runs on an embedded redis-server of its own (never the shared one), with its own
gateway and workers; the sweeper runs every 2 s and counts a message lost after 3 s
(``SWEEPER_INTERVAL_SECONDS``, ``SWEEPER_LOST_MESSAGE_AFTER_SECONDS``), leases last 6 s."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import start_worker, submit, wait_for_task
from tests.platform import Platform, wait
from tests.workers.conftest import (
    PROFILE_AGENTS,
    SAMPLE,
    agent_runs,
    captures,
    wallet_matches_ledger,
)
from tests.workers.isolated import (
    OwnRedis,
    client_for,
    gateway_process,
    task_of,
    wait_final,
    worker_process,
)

PRICES = {"unified-profiler": 10, "score-risk": 8, "test-coverage-agent": 5, "readiness-rater": 5}
#: The documented bound for a lost message to be re-sent: lost-after + one sweep interval, plus
#: the time to run the tasks on a loaded machine.
RECOVERY_SECONDS = 90


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    redis = OwnRedis(tmp_path / "redis").start()
    try:
        yield redis
    finally:
        redis.stop()


def _upload(client, tool: str, agents: list[str]) -> str:  # type: ignore[no-untyped-def]
    r = client.post("/v1/tasks", json={"tool_id": tool, "agents": agents})
    assert r.status_code == 201, r.text
    task_id: str = r.json()["task_id"]
    r = client.put(
        f"/v1/tasks/{task_id}/files/primary",
        params={"filename": "c.csv"},
        content=SAMPLE.read_bytes(),
    )
    assert r.status_code == 200, r.text
    assert client.post(f"/v1/tasks/{task_id}/process").status_code == 202
    return task_id


def test_redis_wiped_while_tasks_are_queued_and_processing_every_task_completes(
    platform: Platform, make_tenant, own_redis: OwnRedis, tmp_path: Path
):
    import redis

    tc = make_tenant(credits=1_000)
    env = {"REDIS_URL": own_redis.url}
    gateway, url = gateway_process(platform, "gateway-redis-loss", env)
    pool = worker_process(
        platform,
        ["profile-my-data"],
        "redis-loss",
        {
            **env,
            # The running task is seen mid-run in its third agent, once.
            "AGENSIUM_FAULTS": "sleep_once:test-coverage-agent:40",
            "AGENSIUM_FAULTS_DIR": str(tmp_path),
        },
    )
    sweeper = worker_process(platform, ["maintenance"], "redis-loss-maint", env, beat=True)
    client = client_for(url, tc.api_key)
    try:
        running = _upload(client, "profile-my-data", PROFILE_AGENTS)
        wait(
            lambda: task_of(client, running)["current_agent"] == "test-coverage-agent",
            60,
            0.2,
            "the running task in its third agent",
        )
        queued = _upload(client, "profile-my-data", ["unified-profiler", "score-risk"])
        broker = redis.Redis.from_url(own_redis.url)
        wait(lambda: broker.llen("profile-my-data") >= 1, 20, 0.1, "the queued message")
        broker.close()
        assert task_of(client, queued)["status"] == "QUEUED"
        before = agent_runs(running)
        assert before["score-risk"]["status"] == "success"

        own_redis.wipe_and_restart()  # every queue, unacked message and result is gone

        done = [wait_final(client, t, RECOVERY_SECONDS) for t in (running, queued)]
    finally:
        client.close()
        for proc in (pool, sweeper, gateway):
            proc.stop()
    assert [t["status"] for t in done] == ["COMPLETED", "COMPLETED"], done
    after = agent_runs(running)
    for agent in ("unified-profiler", "score-risk"):  # resumed from the checkpoint
        assert after[agent]["finished_at"] == before[agent]["finished_at"]
    assert done[0]["attempt"] == 2
    assert captures(running) == {a: 1 for a in PROFILE_AGENTS}
    assert captures(queued) == {"unified-profiler": 1, "score-risk": 1}
    wallet, ledger = wallet_matches_ledger(tc.tenant_id)
    assert wallet == ledger and wallet.held == 0
    assert wallet.balance == 1_000 - sum(PRICES.values()) - 18
    log = pool.log_path.read_text()
    assert f"task.interrupted task_id={running} requeued" in log
    # Only this test's tasks: the sweeper reads the session's database, so it may also re-send
    # tasks other tests left QUEUED to this pool.
    mine = [line for line in log.splitlines() if running in line or queued in line]
    assert not [line for line in mine if "INTERNAL_ERROR" in line]
    assert f"sweeper.resent task_id={queued}" in sweeper.log_path.read_text()


def test_a_cold_shutdown_mid_task_completes_on_a_later_attempt_charged_once(
    platform: Platform, make_tenant, gateway_url: str, tmp_path: Path
):
    tc = make_tenant(credits=1_000)
    doomed = start_worker(
        platform,
        ["profile-my-data"],
        "cold",
        extra_env={
            "AGENSIUM_FAULTS": "sleep_once:test-coverage-agent:40",
            "AGENSIUM_FAULTS_DIR": str(tmp_path),
        },
    )
    task_id = submit(
        tc, "profile-my-data", {"primary": ("c.csv", SAMPLE.read_bytes())}, agents=PROFILE_AGENTS
    )
    wait(
        lambda: (
            tc.client.get(f"/v1/tasks/{task_id}").json()["current_agent"] == "test-coverage-agent"
        ),
        60,
        0.2,
        "the third agent to start",
    )
    before = agent_runs(task_id)
    assert doomed.proc is not None
    os.kill(doomed.pid, signal.SIGQUIT)  # cold shutdown of the worker's main process
    doomed.proc.wait(60)
    survivor = start_worker(platform, ["profile-my-data"], "cold-b")
    sweeper = start_worker(platform, ["maintenance"], "cold-maint", beat=True)
    try:
        task = wait_for_task(tc.client, task_id, timeout=RECOVERY_SECONDS)
    finally:
        survivor.stop()
        sweeper.stop()
    assert task["status"] == "COMPLETED", task
    assert task["attempt"] == 2
    after = agent_runs(task_id)
    for agent in ("unified-profiler", "score-risk"):
        assert after[agent]["finished_at"] == before[agent]["finished_at"]
    assert captures(task_id) == {a: 1 for a in PROFILE_AGENTS}
    wallet, ledger = wallet_matches_ledger(tc.tenant_id)
    assert wallet == ledger and wallet.held == 0
    assert f"task.resumed task_id={task_id}" in survivor.log_path.read_text()
    assert "INTERNAL_ERROR" not in doomed.log_path.read_text()
