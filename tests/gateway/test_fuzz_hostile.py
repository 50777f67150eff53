"""Property-based fuzzing of every operation in the OpenAPI description with hostile values:
lone surrogates, NUL, 1 MB strings, huge and negative integers, extreme dates, nested junk, in
bodies, query strings and paths. No answer may be a 5xx, and none may be larger than a fixed
bound (an error quotes a bounded excerpt of the input, never the input).

Bounded: a fixed number of examples per operation (derandomized), so the run takes about a
minute."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import new_tenant
from tests.gateway.conftest import create

EXAMPLES_PER_OPERATION = 12
MAX_RESPONSE_BYTES = 256 * 1024
MEGABYTE = "x" * 1_000_000
#: 503s that state the test platform's configuration (no Stripe account), not bad input.
CONFIGURATION_503 = {"STRIPE_NOT_CONFIGURED", "CHECKOUT_UNAVAILABLE", "STRIPE_UNAVAILABLE"}

HOSTILE_STRINGS = [
    "\ud800",
    "a\udfffb",
    "\udc80\ud800",
    "\x00",
    "nul\x00inside",
    "9999-12-31",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01",
    "-999999999-01-01",
    "",
    "../../../etc/passwd",
    "%00%ff",
    "\u202e\ufeff",
    "' OR 1=1 --",
    "y" * 10_000,
]
HOSTILE_INTS = [10**30, -(10**30), -1, 2**63, -(2**63) - 1, 2**31, 10**400]

scalar = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    st.sampled_from(HOSTILE_INTS),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=20),  # surrogates too
    st.floats(allow_nan=False, allow_infinity=False),
)
#: Query strings and paths: the same without the longest strings (URLs stay under 8 KB).
short_scalar = st.one_of(
    st.sampled_from(HOSTILE_STRINGS[:-1]),
    st.sampled_from(HOSTILE_INTS[:-1]),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=20),
)
hostile = st.one_of(
    scalar,
    st.just(MEGABYTE),
    st.lists(scalar, max_size=4),
    st.dictionaries(st.sampled_from([*HOSTILE_STRINGS[:6], "k"]), scalar, max_size=3),
)


def _schema_props(spec: dict[str, Any], schema: dict[str, Any] | None) -> list[str]:
    if not schema:
        return []
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    props = list(schema.get("properties", {}))
    for sub in schema.get("anyOf", []) + schema.get("allOf", []):
        props += _schema_props(spec, sub)
    return props


def _body_props(spec: dict[str, Any], op: dict[str, Any]) -> list[str] | None:
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return _schema_props(spec, content["application/json"].get("schema"))


@pytest.fixture(scope="module")
def world(admin, gateway_url, platform):
    """A calling tenant, a victim tenant (admin operations target it), real ids of each kind."""
    caller = new_tenant(admin, gateway_url, credits=1_000)
    victim = new_tenant(admin, gateway_url, credits=1_000)
    spare = admin.post(f"/v1/admin/tenants/{victim.tenant_id}/api-keys", json={}).json()
    task_id = create(caller)["task_id"]
    caller.client.post(f"/v1/tasks/{task_id}/cancel")
    from core.db import session_scope
    from tenants.models import Plan

    plan_id = "fuzz-plan"
    with session_scope() as session:
        if session.get(Plan, plan_id) is None:
            session.add(Plan(id=plan_id, name="Fuzz (tests)"))
    ids = {
        "task_id": task_id,
        "tenant_id": victim.tenant_id,
        "key_id": spare["key_id"],
        "plan_id": plan_id,
        "tool_id": "profile-my-data",
        "role": "primary",
        "agent_id": "no-such-agent",  # never a real price: other tests read prices
    }
    spec = httpx.get(f"{gateway_url}/openapi.json").json()
    yield spec, caller, ids
    caller.close()
    victim.close()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def _encode(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return quote(text, safe="", errors="surrogatepass")


@dataclass
class _Operation:
    gateway_url: str
    method: str
    path: str
    query_params: list[str]
    path_params: list[str]
    props: list[str] | None
    raw_body: bool
    auth: str
    ids: dict[str, str]
    seen: dict[str, set[int]]


def _send(op: _Operation, body: Any, query: dict[str, Any], path_values: dict[str, str]) -> None:
    url_path = op.path
    for name in op.path_params:
        url_path = url_path.replace("{" + name + "}", _encode(path_values[name]) or "%20")
    qs = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in query.items())
    url = f"{op.gateway_url}{url_path}" + (f"?{qs}" if qs else "")
    headers = {"Authorization": f"Bearer {op.auth}"}
    content: bytes | None = None
    if op.props is not None or op.raw_body:
        content = json.dumps(body).encode()  # ASCII: surrogates travel as \\ud800
        json_body = op.props is not None
        headers["Content-Type"] = "application/json" if json_body else "application/octet-stream"
    with (
        httpx.Client(timeout=60) as client,
        client.stream(op.method, url, content=content, headers=headers) as r,
    ):
        size, kept = 0, b""
        for chunk in r.iter_bytes():
            size += len(chunk)
            kept = (kept + chunk)[:4096]
            if size > MAX_RESPONSE_BYTES:
                break
    op.seen.setdefault(f"{op.method} {op.path}", set()).add(r.status_code)
    label = f"{op.method} {op.path} {r.status_code}"
    assert size <= MAX_RESPONSE_BYTES, f"{label}: response over {size} bytes"
    if r.status_code >= 500:
        text = kept.decode(errors="replace")
        code = ""
        with contextlib.suppress(ValueError, KeyError, TypeError):
            code = json.loads(text)["error"]["code"]
        assert r.status_code == 503 and code in CONFIGURATION_503, f"{label}: {text[:500]}"


def _property(op: _Operation) -> Any:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        body=st.one_of(
            st.fixed_dictionaries({}, optional={name: hostile for name in (op.props or [])}),
            hostile,
        ),
        query=st.fixed_dictionaries({}, optional={n: short_scalar for n in op.query_params}),
        real_path=st.booleans(),
        path_values=st.fixed_dictionaries(
            {n: st.sampled_from(HOSTILE_STRINGS) for n in op.path_params}
        ),
    )
    def run(body, query, real_path, path_values) -> None:  # type: ignore[no-untyped-def]
        if real_path:
            path_values = {n: op.ids.get(n, "x") for n in op.path_params}
        _send(op, body, query, path_values)

    return run


def test_every_operation_survives_hostile_input(world, gateway_url):
    spec, caller, ids = world
    operations = _operations(spec)
    assert len(operations) >= 30
    admin_key = os.environ["ADMIN_API_KEY"]
    failures: list[str] = []
    seen: dict[str, set[int]] = {}
    for method, path, spec_op in operations:
        props = _body_props(spec, spec_op)
        op = _Operation(
            gateway_url=gateway_url,
            method=method,
            path=path,
            query_params=[p["name"] for p in spec_op.get("parameters", []) if p["in"] == "query"],
            path_params=[p["name"] for p in spec_op.get("parameters", []) if p["in"] == "path"],
            props=props,
            raw_body="requestBody" in spec_op and props is None,
            auth=admin_key if "/admin/" in path else caller.api_key,
            ids=ids,
            seen=seen,
        )
        try:
            _property(op)()
        except Exception as exc:  # collect every operation's failure, then report all
            failures.append(f"{method} {path}: {str(exc)[:2000]}")
    assert not failures, "\n\n".join(failures)
    assert len(seen) == len(operations), {f"{m} {p}" for m, p, _ in operations} - set(seen)
