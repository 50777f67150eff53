"""Structured JSON logs with trace and task ids on every line (stdlib logging + a formatter)."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from typing import Any

from core.settings import get_settings

#: Set by the gateway per request and by the worker per task; copied onto every record.
log_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "log_context", default=None
)


def bind_log_context(**fields: Any) -> None:
    """Add fields (``None`` values skipped) to the current request's or task's context.

    In place when a context exists: FastAPI runs dependencies and endpoints in copies of the
    request's context on other threads, and a ``set()`` there would not reach the endpoint.
    The gateway middleware and the worker runner set a fresh dict per request and per task.
    """
    values = {k: v for k, v in fields.items() if v is not None}
    current = log_context.get()
    if current is None:
        log_context.set(values)
    else:
        current.update(values)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "service": self.service,
            "event": record.getMessage(),
        }
        data.update(log_context.get() or {})
        try:
            from opentelemetry import trace

            ctx = trace.get_current_span().get_span_context()
            if ctx.is_valid:
                data["trace_id"] = format(ctx.trace_id, "032x")
                data["span_id"] = format(ctx.span_id, "016x")
        except ImportError:  # pragma: no cover
            pass
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def configure_logging(service: str) -> None:
    s = get_settings()
    root = logging.getLogger()
    root.setLevel(s.log_level.upper())
    # Workers write to the real stderr: Celery redirects sys.stderr into its logger, which
    # would loop. Elsewhere the current sys.stderr, so a test runner's capture sees the lines.
    handler = logging.StreamHandler(sys.__stderr__ if service == "worker" else sys.stderr)
    if s.log_json:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.handlers = [handler]
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
