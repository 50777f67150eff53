"""Property-based run of the OpenAPI description against the live gateway: for the task and tool
endpoints, no 500, no undeclared status, and every response matches its declared schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import wait_for_task
from tests.gateway.conftest import SMALL_CSV, create, new_tenant, upload

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api(admin, gateway_url, worker):
    """The schema, a tenant, and real task ids of that tenant in several states, which the run
    substitutes for generated ids so that it reaches past the 404."""
    tc = new_tenant(admin, gateway_url, credits=25)
    done = create(tc, agents=["unified-profiler"])["task_id"]
    assert upload(tc, done, SMALL_CSV).status_code == 200
    assert tc.client.post(f"/v1/tasks/{done}/process").status_code == 202
    assert wait_for_task(tc.client, done)["status"] == "COMPLETED"
    cancelled = create(tc)["task_id"]
    tc.client.post(f"/v1/tasks/{cancelled}/cancel")
    fresh = [create(tc)["task_id"] for _ in range(2)]
    assert upload(tc, fresh[0], SMALL_CSV).status_code == 200
    doomed = [create(tc)["task_id"] for _ in range(2)]
    schema = schemathesis.openapi.from_url(f"{gateway_url}/openapi.json")
    schema = schema.include(path_regex=r"^/v1/(tasks|tools|callbacks)")
    yield (
        schema,
        tc,
        {"final": [done, cancelled], "any": [done, cancelled, *fresh], "delete": doomed},
    )
    tc.close()


def _operations(gateway_url):
    import httpx

    spec = httpx.get(f"{gateway_url}/openapi.json").json()
    return [
        (method.upper(), path)
        for path, item in spec["paths"].items()
        if path.startswith(("/v1/tasks", "/v1/tools", "/v1/callbacks"))
        for method in item
    ]


def test_the_task_and_tool_operations_are_all_covered(gateway_url):
    ops = set(_operations(gateway_url))
    assert {
        ("POST", "/v1/tasks"),
        ("GET", "/v1/tasks"),
        ("GET", "/v1/tasks/{task_id}"),
        ("DELETE", "/v1/tasks/{task_id}"),
        ("PUT", "/v1/tasks/{task_id}/files/{role}"),
        ("POST", "/v1/tasks/{task_id}/process"),
        ("GET", "/v1/tasks/{task_id}/events"),
        ("GET", "/v1/tasks/{task_id}/report"),
        ("GET", "/v1/tasks/{task_id}/outputs"),
        ("POST", "/v1/tasks/{task_id}/cancel"),
        ("GET", "/v1/tools"),
        ("GET", "/v1/tools/{tool_id}"),
        ("GET", "/v1/callbacks/secret"),
    } <= ops


def test_schemathesis_finds_no_server_error_and_no_schema_violation(api):
    schema, tc, ids = api
    failures = []
    calls: dict[str, list[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        # The stream of a task that has not ended lasts until it ends: only ended ones there.
        # DELETE gets tasks of its own, so that the other operations still find theirs.
        if operation.path.endswith("/events"):
            pool = ids["final"]
        elif operation.method.upper() == "DELETE":
            pool = ids["delete"]
        else:
            pool = ids["any"]

        @settings(
            max_examples=25,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(
            case=operation.as_strategy(),
            task_id=st.one_of(st.none(), st.sampled_from(pool)),
        )
        def run(case, task_id) -> None:  # type: ignore[no-untyped-def]
            if "task_id" in (case.path_parameters or {}) and task_id is not None:
                case.path_parameters["task_id"] = task_id
            response = case.call_and_validate(
                headers={"Authorization": f"Bearer {tc.api_key}"}, checks=CHECKS, timeout=30
            )
            calls.setdefault(f"{case.method} {case.path}", []).append(response.status_code)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report all
            failures.append(f"{label}: {exc}")
    assert not failures, "\n\n".join(failures)
    print({k: sorted(set(v)) for k, v in calls.items()})
    assert len(calls) >= 13
    reached = {k for k, v in calls.items() if set(v) - {404}}
    assert {k for k in calls if "{task_id}" in k} <= reached, calls
