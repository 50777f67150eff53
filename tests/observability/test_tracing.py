"""One task submitted through the gateway is one trace: HTTP → Celery publish → Celery run →
pipeline and agent spans → S3, and the logs of both processes carry its trace id."""

from __future__ import annotations

import json
from typing import Any

import httpx

from core.services import ManagedProcess
from tests.conftest import TenantClient, submit, wait_for_task
from tests.observability.otlp import OtlpReceiver, Span
from tests.platform import ROOT

SAMPLE = (ROOT / "core" / "samples" / "customers.csv").read_bytes()
SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5
PUBLISH = "apply_async/agensium.process_analysis"
RUN = "run/agensium.process_analysis"


def _run_traced_task(make_tenant: Any, gateway: ManagedProcess) -> tuple[TenantClient, str]:
    tc = make_tenant(credits=1_000)
    tc.client = httpx.Client(
        base_url=gateway.url,  # type: ignore[attr-defined]
        headers={"Authorization": f"Bearer {tc.api_key}"},
        timeout=60,
    )
    task_id = submit(
        tc, "profile-my-data", {"primary": ("customers.csv", SAMPLE)}, agents=["unified-profiler"]
    )
    task = wait_for_task(tc.client, task_id)
    assert task["status"] == "COMPLETED", task
    return tc, task_id


def _trace_of(receiver: OtlpReceiver, task_id: str) -> list[Span]:
    """Every span of the trace whose worker run span carries this task id (complete once the
    run span and the process request's server span have both arrived)."""

    def complete(spans: list[Span]) -> list[Span] | None:
        run = next(
            (s for s in spans if s.name == RUN and s.attributes.get("task_id") == task_id), None
        )
        if run is None:
            return None
        trace = [s for s in spans if s.trace_id == run.trace_id]
        if not any(s.kind == SERVER for s in trace):
            return None
        return trace

    trace: list[Span] | None = receiver.wait_for(complete, timeout=30)
    assert trace, f"no complete trace for task {task_id}: {[s.name for s in receiver.snapshot()]}"
    return trace


def _ancestors(span: Span, by_id: dict[str, Span]) -> list[Span]:
    out = []
    while span.parent_id and span.parent_id in by_id:
        span = by_id[span.parent_id]
        out.append(span)
    return out


def test_one_task_is_one_trace_from_http_through_the_queue_to_agents_and_s3(
    make_tenant, traced_gateway, traced_worker, receiver
):
    tc, task_id = _run_traced_task(make_tenant, traced_gateway)
    trace = _trace_of(receiver, task_id)
    by_id = {s.span_id: s for s in trace}

    def one(name: str) -> Span:
        found = [s for s in trace if s.name == name]
        assert len(found) == 1, (name, [s.name for s in trace])
        return found[0]

    server = one("POST /v1/tasks/{task_id}/process")
    assert (server.kind, server.service, server.parent_id) == (SERVER, "agensium-gateway", None)

    publish = one(PUBLISH)
    assert publish.kind == PRODUCER and publish.service == "agensium-gateway"
    assert server in _ancestors(publish, by_id)  # published while serving /process

    run = one(RUN)
    assert run.kind == CONSUMER and run.service == "agensium-worker"
    assert run.parent_id == publish.span_id  # the context travelled in the message headers
    assert run.attributes["tenant_id"] == tc.tenant_id
    assert run.attributes["tool_id"] == "profile-my-data"
    assert run.attributes["task.status"] == "COMPLETED"
    assert run.attributes["credits"] > 0

    agent = one("agent unified-profiler")
    assert agent.parent_id == run.span_id
    assert agent.attributes["agent_id"] == "unified-profiler"
    assert agent.attributes["task_id"] == task_id
    assert agent.attributes["rows"] == SAMPLE.count(b"\n") - 1

    load = one("pipeline.load")
    assert load.parent_id == run.span_id
    gets = [s for s in trace if s.name == "S3.GetObject"]
    assert gets and all(load in _ancestors(s, by_id) for s in gets)  # the input download
    puts = [s for s in trace if s.name == "S3.PutObject"]
    assert puts and all(run in _ancestors(s, by_id) for s in puts)  # checkpoint and outputs
    assert all(s.kind == CLIENT for s in gets + puts)

    # Database and Redis calls made for the task belong to it too: a CLIENT span per SQL
    # statement, named by kind and table, on both sides.
    sql = [s for s in trace if "db.system" in s.attributes and "db.operation.name" in s.attributes]
    for side in ("agensium-gateway", "agensium-worker"):
        assert [s for s in sql if s.service == side], f"no SQL span from {side}"
    assert all(s.kind == CLIENT for s in sql)
    claim_sql = [s for s in sql if s.name == "UPDATE tasks" and s.service == "agensium-worker"]
    assert claim_sql and all(run in _ancestors(s, by_id) for s in claim_sql)
    lock = one("gateway.lock")
    assert server in _ancestors(lock, by_id)
    assert any(s.parent_id == lock.span_id and s.name == "SELECT tasks" for s in sql)
    assert any(s.name == "PUBLISH" for s in trace), "no Redis span (progress publish)"

    # The stages of the platform path, each a span of this trace.
    names = {s.name for s in trace}
    stages = {"gateway.auth", "gateway.lock", "gateway.lifecycle", "gateway.storage"}
    stages |= {
        "gateway.verify",
        "gateway.hold",
        "db.commit",
        "enqueue.publish",
        "worker.receive",
        "worker.claim",
    }
    stages |= {"pipeline.download", "pipeline.parse", "worker.capture", "worker.final_commit"}
    assert stages <= names, stages - names
    assert one("enqueue.publish") in _ancestors(publish, by_id)
    commit = next(s for s in trace if s.name == "db.commit" and s.service == "agensium-gateway")
    assert commit.end_ns <= one("enqueue.publish").start_ns  # published after the commit

    # No span carries file contents: attribute values are short ids, names and numbers.
    for s in trace:
        for value in s.attributes.values():
            assert "alice" not in str(value).lower()  # a name from the sample's rows
            assert "example.com" not in str(value)  # no e-mail from the rows or SQL params


def test_no_parentless_client_spans_so_broker_polling_stays_out_of_traces(
    make_tenant, traced_gateway, traced_worker, receiver
):
    _run_traced_task(make_tenant, traced_gateway)
    spans = receiver.snapshot()
    orphans = [s.name for s in spans if s.kind == CLIENT and s.parent_id is None]
    assert orphans == []
    assert not any(s.name.startswith(("BRPOP", "BLPOP")) for s in spans)


def _json_lines(path: Any) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def test_log_lines_of_the_agent_and_the_request_carry_the_trace_id(
    make_tenant, traced_gateway, traced_worker, receiver
):
    tc, task_id = _run_traced_task(make_tenant, traced_gateway)
    trace = _trace_of(receiver, task_id)
    trace_id = trace[0].trace_id
    agent_span = next(s for s in trace if s.name == "agent unified-profiler")

    worker_lines = [
        line for line in _json_lines(traced_worker.log_path) if line.get("task_id") == task_id
    ]
    in_agent = [line for line in worker_lines if line["event"].startswith("agent.finished")]
    assert len(in_agent) == 1, worker_lines
    line = in_agent[0]
    assert (line["trace_id"], line["span_id"]) == (trace_id, agent_span.span_id)
    assert line["tenant_id"] == tc.tenant_id
    # Every line the worker wrote for the task (claim, agent, completion) has the ids.
    assert {"task.claimed", "task.completed"} <= {ln["event"].split(" ")[0] for ln in worker_lines}
    assert all(ln.get("trace_id") == trace_id for ln in worker_lines)

    access = [
        ln
        for ln in _json_lines(traced_gateway.log_path)
        if ln.get("task_id") == task_id and "route=/v1/tasks/{task_id}/process" in ln["event"]
    ]
    assert len(access) == 1, traced_gateway.tail(40)
    assert access[0]["trace_id"] == trace_id
    assert access[0]["tenant_id"] == tc.tenant_id
