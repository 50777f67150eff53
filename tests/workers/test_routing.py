"""Each tool's tasks are consumed only by that tool's pool; a stopped pool holds its queue."""

from __future__ import annotations

from tests.conftest import start_worker, submit, wait_for_task
from tests.workers.conftest import SAMPLE


def test_clean_tasks_wait_for_the_clean_pool_while_profile_tasks_complete(
    platform, make_tenant, gateway_url
):
    tc = make_tenant(credits=5_000)
    data = SAMPLE.read_bytes()
    profile_pool = start_worker(platform, ["profile-my-data"], "route-profile")
    try:
        clean_id = submit(
            tc, "clean-my-data", {"primary": ("c.csv", data)}, agents=["cleanse-previewer"]
        )
        profile_id = submit(
            tc, "profile-my-data", {"primary": ("p.csv", data)}, agents=["unified-profiler"]
        )
        assert wait_for_task(tc.client, profile_id)["status"] == "COMPLETED"
        # The clean task is still waiting: no clean pool runs.
        assert tc.client.get(f"/v1/tasks/{clean_id}").json()["status"] == "QUEUED"
        clean_pool = start_worker(platform, ["clean-my-data"], "route-clean")
        try:
            assert wait_for_task(tc.client, clean_id)["status"] == "COMPLETED"
        finally:
            clean_pool.stop()
    finally:
        profile_pool.stop()
    profile_log = profile_pool.log_path.read_text()
    clean_log = clean_pool.log_path.read_text()
    assert f"task.claimed task_id={profile_id}" in profile_log
    assert f"task.claimed task_id={clean_id}" in clean_log
    assert clean_id not in profile_log
    assert profile_id not in clean_log
