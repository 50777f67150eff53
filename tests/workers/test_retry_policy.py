"""How the worker classifies an interruption and spaces its retries, and the sweeper's release
of Idempotency-Keys whose request died (against the session's real database and S3)."""

from __future__ import annotations

import datetime as dt

from billiard.exceptions import Terminated
from sqlalchemy import select

from core.db import session_scope, utcnow
from core.errors import DependencyUnavailableError
from core.settings import get_settings
from tasks.models import IdempotencyRecord
from tests.conftest import submit
from tests.workers.conftest import SAMPLE
from workers.errors import classify
from workers.runner import retry_delay
from workers.sweeper import release_dead_idempotency_keys


def test_a_worker_stopping_the_run_is_an_interruption_to_retry_not_a_failure():
    for exc in (SystemExit(-241), KeyboardInterrupt(), Terminated(15)):
        c = classify(exc)
        assert (c.code, c.retryable, c.interrupted) == ("WORKER_INTERRUPTED", True, True)
    c = classify(DependencyUnavailableError("Object storage is unavailable"))
    assert (c.code, c.retryable, c.interrupted) == ("SERVICE_UNAVAILABLE", True, False)
    assert classify(ValueError("bug")).retryable is False


def test_retries_back_off_exponentially_with_bounded_jitter_up_to_the_cap(platform):
    s = get_settings()
    assert s.task_retry_backoff_seconds == 30  # the default: minutes by the third retry
    assert [retry_delay(n, rand=0.0) for n in (1, 2, 3)] == [30, 60, 120]
    assert retry_delay(1, rand=1.0) == 37.5  # at most 25 % later
    assert retry_delay(20, rand=0.0) == s.task_retry_backoff_max_seconds
    spread = {round(retry_delay(2), 3) for _ in range(20)}
    assert len(spread) > 1 and all(60 <= d <= 75 for d in spread)


def test_the_sweeper_releases_a_dead_requests_key_and_removes_its_half_created_task(
    make_tenant,
):
    tc = make_tenant(credits=100)
    task_id = submit(
        tc, "profile-my-data", {"primary": ("c.csv", SAMPLE.read_bytes())}, process=False
    )
    alive_id = submit(
        tc, "profile-my-data", {"primary": ("d.csv", SAMPLE.read_bytes())}, process=False
    )
    queued_id = submit(  # a dead request that got as far as queueing its task
        tc, "profile-my-data", {"primary": ("e.csv", SAMPLE.read_bytes())}, agents=["score-risk"]
    )
    timeout = get_settings().gateway_request_timeout_seconds
    records = (
        ("dead", task_id, timeout + 5),
        ("live", alive_id, 1),
        ("queued", queued_id, timeout + 5),
    )
    with session_scope() as s:
        for key, tid, age in records:
            s.add(
                IdempotencyRecord(
                    tenant_id=tc.tenant_id,
                    scope="POST /v1/tasks (multipart)",
                    key=key,
                    request_hash="h",
                    response_body={"_pending": {"task_id": tid}},
                    created_at=utcnow() - dt.timedelta(seconds=age),
                )
            )
    assert release_dead_idempotency_keys() == 1
    assert tc.client.get(f"/v1/tasks/{task_id}").status_code == 404
    assert tc.client.get(f"/v1/tasks/{alive_id}").json()["status"] == "CREATED"
    with session_scope() as s:
        kept = {
            r.key: r
            for r in s.scalars(
                select(IdempotencyRecord).where(IdempotencyRecord.tenant_id == tc.tenant_id)
            )
        }
    assert sorted(kept) == ["live", "queued"]
    # The queued task is the dead request's outcome: its key now replays it.
    assert kept["queued"].response_status == 201
    assert kept["queued"].response_body["task_id"] == queued_id
    assert kept["live"].response_status is None
    from core.storage import get_storage, task_prefix

    assert get_storage().list_keys(task_prefix(tc.tenant_id, task_id)) == []
