"""SQL statement spans from SQLAlchemy's engine events: one CLIENT span per statement, named by
kind and table, under the span that ran it, with no parameters; failed statements are marked.

Runs in a child interpreter so that its tracer provider and engine listeners stay out of the
test session's process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.platform import ROOT

CHILD = textwrap.dedent(
    """
    import json
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    import sqlalchemy as sa

    from core.telemetry import _sampler, instrument_sqlalchemy

    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=_sampler())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    engine = sa.create_engine("sqlite://")  # made before the hook: still covered
    instrument_sqlalchemy()
    tracer = trace.get_tracer("test")
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT 1"))  # no parent: dropped by the sampler
    with tracer.start_as_current_span("request"):
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE wallets (id TEXT, secret TEXT)"))
            conn.execute(
                sa.text("INSERT INTO wallets (id, secret) VALUES (:i, :s)"),
                [{"i": "a", "s": "hunter2-one"}, {"i": "b", "s": "hunter2-two"}],
            )
            conn.execute(
                sa.text("UPDATE wallets SET secret = :s WHERE id = :i"),
                {"s": "hunter2-three", "i": "a"},
            )
            conn.execute(
                sa.text("WITH x AS (SELECT id FROM wallets) SELECT * FROM x WHERE id = :i"),
                {"i": "hunter2-four"},
            )
            try:
                conn.execute(sa.text("SELECT * FROM no_such_table WHERE id = :i"), {"i": 1})
            except sa.exc.OperationalError:
                pass
    out = [
        {
            "name": s.name,
            "kind": s.kind.name,
            "parent": s.parent.span_id if s.parent else None,
            "span_id": s.context.span_id,
            "attributes": dict(s.attributes or {}),
            "status": s.status.status_code.name,
        }
        for s in exporter.get_finished_spans()
    ]
    print(json.dumps(out))
    """
)


def _spans() -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "OTEL_ENABLED": "true", "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_each_statement_is_a_client_span_named_by_kind_and_table_without_parameters():
    spans = _spans()
    request = next(s for s in spans if s["name"] == "request")
    sql = [s for s in spans if s["attributes"].get("db.system") == "sqlite"]
    names = [s["name"] for s in sql]
    # BEGIN/COMMIT are not cursor statements on SQLite's default driver; the rest, in order.
    assert names == [
        "CREATE",
        "INSERT wallets",
        "UPDATE wallets",
        "SELECT wallets",
        "SELECT no_such_table",
    ], names
    assert all(s["kind"] == "CLIENT" and s["parent"] == request["span_id"] for s in sql)
    by_name = {s["name"]: s for s in sql}
    assert by_name["INSERT wallets"]["attributes"] == {
        "db.system": "sqlite",
        "db.operation.name": "INSERT",
        "db.collection.name": "wallets",
        "db.operation.batch": True,
    }
    assert by_name["SELECT wallets"]["attributes"]["db.operation.name"] == "SELECT"  # a CTE
    failed = by_name["SELECT no_such_table"]
    assert failed["status"] == "ERROR" and failed["attributes"]["error.type"] == "OperationalError"
    assert "hunter2" not in json.dumps(spans)  # no parameter reaches a span
    # The parentless SELECT 1 was dropped (background noise is never a trace of its own).
    assert not [s for s in spans if s["name"] == "SELECT" and s["parent"] is None]
