"""Prometheus metrics shared by the gateway and the workers (prometheus-client).

One module defines every metric so names and labels stay consistent. Labels are bounded:
route *templates* (``/v1/tasks/{task_id}``), tool ids, agent ids and statuses, never tenant or
task ids.

Processes:

- The gateway serves ``/metrics`` (``gateway/metrics.py``) from this process's registry, plus
  values read at scrape time (queue depth from Redis, active tasks from the database).
- Celery workers run several pool processes: when ``PROMETHEUS_MULTIPROC_DIR`` is set (it must
  be set in the environment *before* the process starts, prometheus-client reads it at import)
  every process writes its samples there and ``render()`` aggregates them. The worker's main
  process serves them on ``AGENSIUM_WORKER_METRICS_PORT`` (see ``start_worker_metrics_server``).
  Several uvicorn workers for the gateway work the same way.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
METRICS_PORT_ENV = "AGENSIUM_WORKER_METRICS_PORT"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# --- gateway
HTTP_REQUESTS = Counter(
    "agensium_http_requests_total",
    "HTTP requests answered by the gateway, by route template and status code.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "agensium_http_request_duration_seconds",
    "Gateway request latency by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
#: Incremented by the rate limiter (gateway/ratelimit.py) for every rejected request.
RATE_LIMITED = Counter(
    "agensium_rate_limited_total",
    "Requests rejected by a rate limit or quota (HTTP 429).",
    ["limit"],
)

# --- workers
TASKS = Counter(
    "agensium_tasks_total",
    "Tasks that a worker finished handling, by tool and final status "
    "(IGNORED: duplicate or stale delivery; RETRY: requeued after a transient error).",
    ["tool", "status"],
)
TASK_DURATION = Histogram(
    "agensium_task_duration_seconds",
    "Wall time of one task run on a worker (claim to final status), by tool.",
    ["tool", "status"],
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800),
)
AGENT_DURATION = Histogram(
    "agensium_agent_duration_seconds",
    "Wall time of one agent, by tool, agent and status.",
    ["tool", "agent", "status"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)
CREDITS_CAPTURED = Counter(
    "agensium_credits_captured_total",
    "Credits captured from tenants' holds, by tool and agent.",
    ["tool", "agent"],
)


def record_rate_limited(limit: str = "rate") -> None:
    """One request rejected by a limit (``rate``, ``quota``, ``concurrency``...)."""
    RATE_LIMITED.labels(limit=limit).inc()


def record_agent(tool: str, agent: str, status: str, duration_ms: int | None, credits: int) -> None:
    AGENT_DURATION.labels(tool=tool, agent=agent, status=status).observe(
        max(0.0, (duration_ms or 0) / 1000.0)
    )
    if credits > 0:
        CREDITS_CAPTURED.labels(tool=tool, agent=agent).inc(credits)


def record_task(tool: str, status: str, seconds: float) -> None:
    TASKS.labels(tool=tool, status=status).inc()
    TASK_DURATION.labels(tool=tool, status=status).observe(max(0.0, seconds))


class ScrapeTimeGauges(Collector):
    """Gauges whose values are read when Prometheus scrapes (queue depth, active tasks).

    ``read`` returns ``{labels tuple: value}``; a failing read yields no samples (the scrape
    still answers, and ``agensium_scrape_errors`` says which source failed).
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        labels: list[str],
        read: Callable[[], dict[tuple[str, ...], float]],
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = labels
        self.read = read

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labels)
        errors = GaugeMetricFamily(
            "agensium_scrape_errors", "1 when a scrape-time source failed.", labels=["source"]
        )
        try:
            values = self.read()
            errors.add_metric([self.name], 0)
        except Exception as exc:
            log.warning("metrics.scrape_failed source=%s error=%r", self.name, exc)
            values = {}
            errors.add_metric([self.name], 1)
        for labels, value in sorted(values.items()):
            family.add_metric(list(labels), value)
        yield family
        yield errors


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def render(extra: Iterable[Collector] = ()) -> bytes:
    """The exposition text: this process (or every process of the multiprocess dir) plus
    ``extra`` collectors evaluated now."""
    parts: list[bytes] = []
    if multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        parts.append(generate_latest(registry))
    else:
        parts.append(generate_latest(REGISTRY))
    extra = list(extra)
    if extra:
        scrape = CollectorRegistry(auto_describe=False)
        for collector in extra:
            scrape.register(collector)
        parts.append(generate_latest(scrape))
    return b"".join(parts)


_server_lock = threading.Lock()
_server_started = False


def clean_multiprocess_dir() -> None:
    """Samples of a previous run would be added to this one's: start from an empty dir."""
    path = multiprocess_dir()
    if not path:
        return
    Path(path).mkdir(parents=True, exist_ok=True)
    for f in Path(path).glob("*.db"):
        f.unlink(missing_ok=True)


def start_worker_metrics_server() -> int | None:
    """Serve the aggregated samples of this worker's processes on
    ``AGENSIUM_WORKER_METRICS_PORT`` (called once in the worker's main process, before the
    pool forks). Without a port or without ``PROMETHEUS_MULTIPROC_DIR`` nothing is served:
    pool processes' samples would otherwise be invisible."""
    global _server_started
    port = os.environ.get(METRICS_PORT_ENV)
    if not port:
        return None
    if not multiprocess_dir():
        log.warning(
            "metrics.worker_server_disabled reason=%s is required with %s",
            MULTIPROC_ENV,
            METRICS_PORT_ENV,
        )
        return None
    with _server_lock:
        if _server_started:
            return int(port)
        clean_multiprocess_dir()
        from prometheus_client import multiprocess, start_http_server

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        host = os.environ.get("AGENSIUM_WORKER_METRICS_HOST", "0.0.0.0")
        start_http_server(int(port), addr=host, registry=registry)
        _server_started = True
    log.info("metrics.worker_server port=%s dir=%s", port, multiprocess_dir())
    return int(port)


def mark_process_dead(pid: int) -> None:
    """A pool process exited: drop its live gauges (counters and histograms are kept)."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
