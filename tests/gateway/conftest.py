"""Shared helpers for the task API tests: tenants per module, a small-limit plan, wallet reads,
generated data files and a way to hold a tool queue still (so a task stays QUEUED)."""

from __future__ import annotations

import contextlib
import csv
import io
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import TenantClient, new_tenant

TINY_LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def tenant(admin: httpx.Client, gateway_url: str) -> Iterator[TenantClient]:
    """One tenant shared by a module's tests (tests that check the wallet make their own)."""
    tc = new_tenant(admin, gateway_url, credits=100_000)
    yield tc
    tc.close()


@pytest.fixture(scope="module")
def tiny_plan(platform: Any) -> str:
    """A plan whose file limit is 64 KiB, so 'over the limit' needs no 50 MB upload."""
    from core.db import session_scope
    from tenants.models import Plan

    plan_id = f"tiny-{uuid.uuid4().hex[:8]}"
    with session_scope() as session:
        session.add(
            Plan(
                id=plan_id,
                name="Tiny (tests)",
                submit_per_minute=6_000,
                read_per_minute=60_000,
                max_concurrent_tasks=20,
                max_concurrent_tasks_per_tool=10,
                max_file_bytes=TINY_LIMIT,
            )
        )
    return plan_id


def wallet(tc: TenantClient) -> dict[str, int]:
    r = tc.client.get("/v1/billing/wallet")
    assert r.status_code == 200, r.text
    body: dict[str, int] = r.json()
    return body


def ledger(tc: TenantClient) -> list[dict[str, Any]]:
    r = tc.client.get("/v1/billing/ledger", params={"limit": 500})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def csv_bytes(rows: int, *, seed: int = 0) -> bytes:
    """A customers-like CSV with numbers, text, emails and some blanks."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "name", "email", "age", "income", "city", "joined"])
    cities = ["Paris", "Lyon", " nice ", "BERLIN", "", "Madrid"]
    for i in range(rows):
        k = i + seed
        w.writerow(
            [
                k,
                f"Person {k % 997}",
                f"user{k % 1500}@example.com" if k % 11 else "",
                18 + k % 70,
                f"{(k * 7919) % 150_000 + 0.5:.2f}" if k % 13 else "n/a",
                cities[k % len(cities)],
                f"2021-{1 + k % 12:02d}-{1 + k % 28:02d}",
            ]
        )
    return buf.getvalue().encode()


SMALL_CSV = csv_bytes(40)


def create(tc: TenantClient, tool_id: str = "profile-my-data", **body: Any) -> dict[str, Any]:
    r = tc.client.post("/v1/tasks", json={"tool_id": tool_id, **body})
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def upload(
    tc: TenantClient, task_id: str, data: bytes, filename: str = "data.csv", role: str = "primary"
) -> httpx.Response:
    return tc.client.put(
        f"/v1/tasks/{task_id}/files/{role}", params={"filename": filename}, content=data
    )


@contextlib.contextmanager
def paused_queue(queue: str) -> Iterator[None]:
    """Make the session's worker stop consuming one queue (Celery remote control), so a task
    put on it stays QUEUED; consumption resumes afterwards."""
    from workers.app import app

    dest = [f"all@{socket.gethostname()}"]
    replies = app.control.cancel_consumer(queue, destination=dest, reply=True, timeout=5)
    assert replies, "the worker did not answer cancel_consumer"
    try:
        yield
    finally:
        app.control.add_consumer(queue, destination=dest, reply=True, timeout=5)
