"""OpenTelemetry, set up once per process for the gateway and the workers.

One trace spans a task: the gateway's HTTP server span (FastAPI) → the Celery publish span
(the producer injects the trace context into the message headers) → the worker's Celery run
span → the pipeline's own spans (``pipeline.load``, ``agent <id>``...) → S3 (botocore), SQL
(SQLAlchemy cursor events: ``SELECT tasks``...) and Redis calls made inside them.

Configuration is the standard ``OTEL_*`` environment:

- ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) turns on OTLP
  export; ``OTEL_EXPORTER_OTLP_PROTOCOL`` picks ``http/protobuf`` (default) or ``grpc``;
  headers, timeout, compression, ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
  ``OTEL_TRACES_SAMPLER`` and the batch processor's ``OTEL_BSP_*`` are read by the SDK.
- ``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``, ``none``, comma-separated) overrides.
- Nothing configured (or ``OTEL_ENABLED=false``, ``OTEL_SDK_DISABLED=true``): no SDK, no
  instrumentation, the API's no-op tracer; the cost is one function call per span.

Two deliberate choices:

- Client spans without a parent (a Redis BRPOP of the broker's polling, the lease keeper's
  UPDATE, a scrape's LLEN) are dropped by the sampler: they are background noise, each a trace
  of its own. Client calls made inside a request or a task are kept.
- boto3's ``upload_file``/``download_file`` run their S3 calls on s3transfer's thread pool,
  where the trace context is lost; its executor is swapped for one that carries the caller's
  context (what ``opentelemetry-instrumentation-threading`` does for every pool).
"""

from __future__ import annotations

import contextvars
import functools
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from core.settings import get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger(__name__)

_lock = threading.Lock()
#: pid → provider: a forked child must set up its own (the parent's exporter thread is gone).
_providers: dict[int, TracerProvider | None] = {}
_instrumented: set[tuple[int, str]] = set()

#: Not traced: scrapes and probes would drown the traces that matter.
EXCLUDED_URLS = "/metrics,/healthz,/readyz"


# --------------------------------------------------------------------------- exporters


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value.strip() if value and value.strip() else None


def exporter_names() -> list[str]:
    """Which exporters the environment asks for: explicit ``OTEL_TRACES_EXPORTER``, else
    ``otlp`` when an OTLP endpoint is set, else none (export is opt-in)."""
    explicit = _env("OTEL_TRACES_EXPORTER")
    if explicit is not None:
        return [n.strip().lower() for n in explicit.split(",") if n.strip().lower() != "none"]
    if _env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or _env("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return ["otlp"]
    return []


def _otlp_exporter() -> SpanExporter | None:
    protocol = (
        _env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or _env("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).lower()
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError:
            log.error(
                "telemetry.exporter_missing protocol=grpc "
                "hint='pip install opentelemetry-exporter-otlp-proto-grpc, or use http/protobuf'"
            )
            return None
        return GrpcExporter()  # type: ignore[no-any-return]
    if protocol not in ("http/protobuf", "http"):
        log.error("telemetry.exporter_unsupported protocol=%s", protocol)
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def build_exporters() -> list[SpanExporter]:
    out: list[SpanExporter] = []
    for name in exporter_names():
        if name == "otlp":
            exporter = _otlp_exporter()
            if exporter is not None:
                out.append(exporter)
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            out.append(ConsoleSpanExporter())
        else:
            log.error("telemetry.exporter_unknown name=%s", name)
    return out


# --------------------------------------------------------------------------- provider


def _sampler() -> Any:
    """The environment's sampler, except that parentless client spans are dropped."""
    from opentelemetry.sdk.trace import sampling
    from opentelemetry.trace import SpanKind, get_current_span

    inner = sampling._get_from_env_or_default()

    class DropRootClientSpans(sampling.Sampler):
        def should_sample(
            self,
            parent_context: Any,
            trace_id: int,
            name: str,
            kind: SpanKind | None = None,
            attributes: Any = None,
            links: Sequence[Any] | None = None,
            trace_state: Any = None,
        ) -> sampling.SamplingResult:
            if kind == SpanKind.CLIENT:
                parent = get_current_span(parent_context).get_span_context()
                if not parent.is_valid:
                    return sampling.SamplingResult(sampling.Decision.DROP)
            return inner.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )

        def get_description(self) -> str:
            return f"DropRootClientSpans({inner.get_description()})"

    return DropRootClientSpans()


def tracing_enabled() -> bool:
    if not get_settings().otel_enabled:
        return False
    return (_env("OTEL_SDK_DISABLED") or "false").lower() != "true"


def configure_tracing(service: str) -> TracerProvider | None:
    """Install the SDK tracer provider once per process; ``None`` when tracing is off or no
    exporter is configured (then nothing is instrumented and spans cost nothing)."""
    pid = os.getpid()
    with _lock:
        if pid in _providers:
            return _providers[pid]
        provider = None
        exporters = build_exporters() if tracing_enabled() else []
        if exporters:
            from opentelemetry import trace
            from opentelemetry.sdk.resources import SERVICE_NAME, Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            attrs: dict[str, Any] = {
                "service.namespace": "agensium",
                "deployment.environment.name": get_settings().app_env,
            }
            if not _env("OTEL_SERVICE_NAME"):
                attrs[SERVICE_NAME] = f"agensium-{service}"
            provider = TracerProvider(resource=Resource.create(attrs), sampler=_sampler())
            for exporter in exporters:
                provider.add_span_processor(BatchSpanProcessor(exporter))
            trace.set_tracer_provider(provider)
            log.info(
                "telemetry.tracing service=%s exporters=%s",
                service,
                ",".join(type(e).__name__ for e in exporters),
            )
        _providers[pid] = provider
        return provider


def _once(name: str) -> bool:
    key = (os.getpid(), name)
    with _lock:
        if key in _instrumented:
            return False
        _instrumented.add(key)
        return True


# --------------------------------------------------------------------------- libraries


def instrument_celery() -> None:
    """Both sides: the producer injects the context (publish span), the worker extracts it
    (run span). Eager mode never publishes, so only a real broker shows the link."""
    if _once("celery"):
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        CeleryInstrumentor().instrument()


def instrument_botocore() -> None:
    if _once("botocore"):
        from opentelemetry.instrumentation.botocore import BotocoreInstrumentor

        BotocoreInstrumentor().instrument()
        _propagate_context_into_s3transfer()


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """Runs each submitted call in a copy of the submitter's context (trace and log ids)."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        ctx = contextvars.copy_context()
        return super().submit(ctx.run, fn, *args, **kwargs)


def _propagate_context_into_s3transfer() -> None:
    from s3transfer.futures import BoundedExecutor

    BoundedExecutor.EXECUTOR_CLS = ContextThreadPoolExecutor  # type: ignore[assignment]


_SQL_TABLE = re.compile(
    r"""\b(?:FROM|INTO|UPDATE|JOIN)\s+("?[A-Za-z_][\w.]*"?)""", re.IGNORECASE | re.DOTALL
)
_SQL_SPAN = "_agensium_sql_span"
#: Statements of our own SQLite transaction handling (core/db.py) that get no span; ``BEGIN
#: IMMEDIATE`` keeps one: it waits for the write lock.
_UNTRACED_SQL = frozenset({"BEGIN", "PRAGMA query_only=ON", "PRAGMA query_only=OFF"})


@functools.lru_cache(maxsize=4096)
def sql_summary(statement: str) -> tuple[str, str | None]:
    """(statement kind, first table) of a SQL string, e.g. ``("SELECT", "tasks")``. Read from
    the statement text only (placeholders, never parameters); cached per distinct statement."""
    text = statement.lstrip()
    kind = text.split(None, 1)[0].upper() if text else "SQL"
    if kind == "WITH":  # a CTE: the statement proper follows it
        m = re.search(r"\)\s*(SELECT|INSERT|UPDATE|DELETE)\b", text, re.IGNORECASE)
        kind = m.group(1).upper() if m else kind
    m = _SQL_TABLE.search(text)
    table = m.group(1).strip('"') if m else None
    return kind, table


def _before_cursor_execute(
    conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
) -> None:
    if statement in _UNTRACED_SQL:
        return  # a deferred BEGIN or a pragma toggle: it never waits, a span would be noise
    from opentelemetry import trace

    kind, table = sql_summary(statement)
    attrs: dict[str, Any] = {"db.system": conn.dialect.name, "db.operation.name": kind}
    if table:
        attrs["db.collection.name"] = table
    if executemany:
        attrs["db.operation.batch"] = True
    span = _sql_tracer().start_span(
        f"{kind} {table}" if table else kind, kind=trace.SpanKind.CLIENT, attributes=attrs
    )
    if context is not None:
        setattr(context, _SQL_SPAN, span)
    else:
        span.end()


def _after_cursor_execute(
    conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
) -> None:
    span = getattr(context, _SQL_SPAN, None)
    if span is not None:
        span.end()
        setattr(context, _SQL_SPAN, None)


def _handle_error(exception_context: Any) -> None:
    from opentelemetry.trace import Status, StatusCode

    context = exception_context.execution_context
    span = getattr(context, _SQL_SPAN, None) if context is not None else None
    if span is not None:
        err = exception_context.original_exception
        span.set_status(Status(StatusCode.ERROR, type(err).__name__))
        span.set_attribute("error.type", type(err).__name__)
        span.end()
        setattr(context, _SQL_SPAN, None)


@functools.lru_cache(maxsize=1)
def _sql_tracer() -> Any:
    from opentelemetry import trace

    return trace.get_tracer("agensium.sql")


def instrument_sqlalchemy() -> None:
    """A CLIENT span per SQL statement, named by its kind and table (``SELECT tasks``), with
    ``db.system``, ``db.operation.name`` and ``db.collection.name``; no statement text and no
    parameters. Hooked on SQLAlchemy's cursor events of the ``Engine`` class, so every engine
    (made before or after this call) is covered, whatever SQLAlchemy version we run
    (``opentelemetry-instrumentation-sqlalchemy`` refuses 2.1)."""
    if _once("sqlalchemy"):
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "before_cursor_execute", _before_cursor_execute)
        event.listen(Engine, "after_cursor_execute", _after_cursor_execute)
        event.listen(Engine, "handle_error", _handle_error)


def instrument_redis() -> None:
    if _once("redis"):
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        RedisInstrumentor().instrument()


def instrument_fastapi(app: FastAPI) -> None:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # No span per ASGI send/receive message: they double the span count for nothing.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls=EXCLUDED_URLS, exclude_spans=["receive", "send"]
    )


# --------------------------------------------------------------------------- stages


@functools.lru_cache(maxsize=1)
def _stage_tracer() -> Any:
    from opentelemetry import trace

    return trace.get_tracer("agensium.stages")


def stage(name: str, **attributes: Any) -> Any:
    """A span around one stage of a task's platform path (``gateway.lock``, ``worker.claim``...),
    current while it runs so the SQL, S3 and Redis calls inside it are its children. Without
    the SDK it is the API's no-op span (a function call)."""
    return _stage_tracer().start_as_current_span(name, attributes=attributes or None)


class StageStart:
    """ASGI middleware pair around another middleware (the rate limiter): ``StageStart`` opens
    a span and makes it current, ``StageEnd`` (inside the wrapped middleware) ends it and
    restores the outer context, so the routes are not the stage's children."""

    def __init__(self, app: Any, name: str) -> None:
        self.app = app
        self.name = name

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") in _QUIET_ROUTES:
            await self.app(scope, receive, send)
            return
        from opentelemetry import context as otel_context
        from opentelemetry import trace

        outer = otel_context.get_current()
        span = _stage_tracer().start_span(self.name)
        token = otel_context.attach(trace.set_span_in_context(span, outer))
        scope[f"agensium.stage.{self.name}"] = (span, outer)
        try:
            await self.app(scope, receive, send)
        finally:
            if scope.pop(f"agensium.stage.{self.name}", None) is not None:
                span.end()  # the wrapped middleware answered by itself (a 429)
            otel_context.detach(token)


class StageEnd:
    def __init__(self, app: Any, name: str) -> None:
        self.app = app
        self.name = name

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        opened = scope.pop(f"agensium.stage.{self.name}", None)
        if opened is None:
            await self.app(scope, receive, send)
            return
        from opentelemetry import context as otel_context

        span, outer = opened
        span.end()
        token = otel_context.attach(outer)
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)


def _wrap_middleware(app: FastAPI, cls_name: str, stage_name: str) -> None:
    """Put StageStart just outside and StageEnd just inside the middleware named ``cls_name``
    (``app.user_middleware`` is outermost first)."""
    from starlette.middleware import Middleware

    names = [getattr(m.cls, "__name__", "") for m in app.user_middleware]
    if cls_name not in names:
        return
    i = names.index(cls_name)
    app.user_middleware.insert(i + 1, Middleware(StageEnd, name=stage_name))  # type: ignore[arg-type]
    app.user_middleware.insert(i, Middleware(StageStart, name=stage_name))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- gateway requests


class RequestObservabilityMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware: it costs a task per request and hides contextvars):
    a fresh log context per request, request metrics by route template, one access log line.

    It sits inside the OpenTelemetry middleware, so the server span is current here and the
    access line carries its trace id.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from core.logging import log_context
        from core.metrics import HTTP_DURATION, HTTP_REQUESTS

        started = time.perf_counter()
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex[:16]
        fields: dict[str, Any] = {"request_id": request_id[:64]}
        token = log_context.set(fields)
        status = 500

        async def send_and_watch(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "<unmatched>"
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_DURATION.labels(method, route).observe(elapsed)
            if route not in _QUIET_ROUTES:
                # An inner middleware may have set a new dict (same task, same context).
                current = log_context.get()
                if current is not None and current is not fields:
                    fields.update(current)
                    log_context.set(fields)
                principal = (scope.get("state") or {}).get("principal")
                if principal is not None and "tenant_id" not in fields:
                    fields["tenant_id"] = principal.tenant_id
                if "task_id" not in fields:
                    task_id = (scope.get("path_params") or {}).get("task_id")
                    if task_id:
                        fields["task_id"] = task_id
                _access.info(
                    "http.request method=%s route=%s status=%s duration_ms=%.1f",
                    method,
                    route,
                    status,
                    elapsed * 1000,
                )
            log_context.reset(token)


_access = logging.getLogger("gateway.access")
_QUIET_ROUTES = frozenset({"/metrics", "/healthz", "/readyz"})


def _header(scope: Any, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value).decode("latin-1")
    return None


# --------------------------------------------------------------------------- entry points


def setup_gateway_telemetry(app: FastAPI) -> None:
    """Metrics and log context on every request; tracing when an exporter is configured."""
    app.add_middleware(RequestObservabilityMiddleware)
    if configure_tracing("gateway") is None:
        return
    _wrap_middleware(app, "RateLimitMiddleware", "gateway.limiter")
    instrument_fastapi(app)
    instrument_celery()
    instrument_botocore()
    instrument_sqlalchemy()
    instrument_redis()


def setup_worker_telemetry() -> None:
    """Called in ``worker_process_init``: after the fork, so the exporter's thread and
    connections belong to this pool process."""
    if configure_tracing("worker") is None:
        return
    instrument_celery()
    instrument_botocore()
    instrument_sqlalchemy()
    instrument_redis()


def shutdown_telemetry() -> None:
    """Flush and stop this process's exporter (tests, and processes that exit cleanly)."""
    provider = _providers.get(os.getpid())
    if provider is not None:
        provider.force_flush()
        provider.shutdown()
