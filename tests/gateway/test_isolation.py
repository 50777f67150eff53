"""Tenant isolation: another tenant's task is 404 on every endpoint, never listed, and presigned
URLs only reach the object they were made for."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import inspect

from core.db import session_scope
from migrations.models import metadata
from tenants.repository import scoped
from tests.conftest import wait_for_task
from tests.gateway.conftest import SMALL_CSV, create, new_tenant, upload, wallet


@pytest.fixture(scope="module")
def two_tenants(admin, gateway_url, worker):
    a = new_tenant(admin, gateway_url, credits=1_000)
    b = new_tenant(admin, gateway_url, credits=1_000)
    done = create(a, agents=["unified-profiler"], callback_url=None)["task_id"]
    assert upload(a, done, SMALL_CSV).status_code == 200
    assert a.client.post(f"/v1/tasks/{done}/process").status_code == 202
    assert wait_for_task(a.client, done)["status"] == "COMPLETED"
    fresh = create(a)["task_id"]
    assert upload(a, fresh, SMALL_CSV).status_code == 200
    yield a, b, done, fresh
    a.close()
    b.close()


def test_every_task_endpoint_answers_404_to_another_tenant(two_tenants):
    a, b, done, fresh = two_tenants
    before = wallet(a)
    calls = [
        ("GET", f"/v1/tasks/{done}", {}),
        ("GET", f"/v1/tasks/{done}/events", {}),
        ("GET", f"/v1/tasks/{done}/report", {}),
        ("GET", f"/v1/tasks/{done}/outputs", {}),
        ("PUT", f"/v1/tasks/{fresh}/files/primary", {"content": SMALL_CSV}),
        ("PUT", f"/v1/tasks/{fresh}/files/primary", {"files": {"file": ("x.csv", SMALL_CSV)}}),
        ("POST", f"/v1/tasks/{fresh}/process", {}),
        ("POST", f"/v1/tasks/{fresh}/process", {"headers": {"Idempotency-Key": "k1"}}),
        ("POST", f"/v1/tasks/{fresh}/cancel", {}),
        ("DELETE", f"/v1/tasks/{fresh}", {}),
        ("DELETE", f"/v1/tasks/{done}", {}),
        ("GET", f"/v1/tasks/{fresh}", {}),
    ]
    for method, path, kw in calls:
        r = b.client.request(method, path, **kw)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        err = r.json()["error"]
        assert err["code"] == "TASK_NOT_FOUND", (method, path)
        # Exactly what a task that does not exist answers.
        fake = path.replace(done, str(uuid.uuid4())).replace(fresh, str(uuid.uuid4()))
        assert b.client.request(method, fake, **kw).json()["error"]["code"] == "TASK_NOT_FOUND"
    # A's work is untouched.
    assert a.client.get(f"/v1/tasks/{fresh}").json()["status"] == "CREATED"
    assert a.client.get(f"/v1/tasks/{fresh}").json()["files"][0]["size"] == len(SMALL_CSV)
    assert a.client.get(f"/v1/tasks/{done}/report").status_code == 200
    assert wallet(a) == before


def test_another_tenants_tasks_are_never_listed(two_tenants):
    a, b, done, fresh = two_tenants
    own = create(b)["task_id"]
    for params in ({}, {"status": "COMPLETED"}, {"tool_id": "profile-my-data"}, {"limit": 1}):
        items = b.client.get("/v1/tasks", params=params).json()["items"]
        ids = {t["task_id"] for t in items}
        assert done not in ids and fresh not in ids
    assert [t["task_id"] for t in b.client.get("/v1/tasks").json()["items"]] == [own]
    # A cursor made from A's page does not leak A's tasks to B either.
    page = a.client.get("/v1/tasks", params={"limit": 1}).json()
    items = b.client.get("/v1/tasks", params={"cursor": page["next_cursor"]}).json()["items"]
    assert {t["task_id"] for t in items} <= {own}


def test_output_urls_are_signed_for_their_own_key_only(two_tenants):
    """Each URL is a SigV4 signature over its own path (S3 refuses it for any other key, see
    test_presigned_scope.py, which runs against an S3 that checks signatures)."""
    a, _, done, _ = two_tenants
    outputs = a.client.get(f"/v1/tasks/{done}/outputs").json()
    prefix = f"tenants/{a.tenant_id}/tasks/{done}/outputs/"
    signatures = set()
    for o in outputs:
        parsed = urlparse(o["url"])
        key = parsed.path.split("/", 2)[2]
        assert key == prefix + o["name"]
        query = parse_qs(parsed.query)
        assert query["X-Amz-SignedHeaders"] == ["host"]
        assert query["X-Amz-Expires"] == ["3600"]
        signatures.add(query["X-Amz-Signature"][0])
        assert httpx.get(o["url"]).status_code == 200
    assert len(signatures) == len(outputs)
    # The upload URLs of a task are for its own input keys.
    slot = create(a)
    for role, up in slot["uploads"].items():
        path = urlparse(up["url"]).path
        assert f"/tenants/{a.tenant_id}/tasks/{slot['task_id']}/inputs/{role}/" in path


def _tenant_owned_tables() -> list:
    return [t for t in metadata.sorted_tables if "tenant_id" in t.columns]


def test_scoped_returns_nothing_of_another_tenant_for_every_tenant_owned_model(two_tenants):
    from core.db import Base

    a, b, _, _ = two_tenants
    # Make sure A owns at least one row of each kind that the API can create.
    create(a, callback_url=None)
    tables = {t.name for t in _tenant_owned_tables()}
    models = [m.class_ for m in Base.registry.mappers if m.local_table.name in tables]
    assert {m.__table__.name for m in models} == tables
    covered = []
    with session_scope() as session:
        for model in models:
            own = session.scalars(scoped(model, a.tenant_id)).all()
            seen_by_b = session.scalars(scoped(model, b.tenant_id)).all()
            assert all(r.tenant_id == b.tenant_id for r in seen_by_b), model.__name__
            identities = {inspect(r).identity for r in seen_by_b}
            assert not identities & {inspect(r).identity for r in own}, model.__name__
            if own:
                covered.append(model.__tablename__)
    # A has rows in the task, file, run, output, ledger and wallet tables at least.
    assert {"tasks", "task_files", "agent_runs", "task_outputs", "ledger_entries"} <= set(covered)
