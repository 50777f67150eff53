"""Processes with tracing on, exporting over OTLP/HTTP to a receiver in this test process."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from core.services import ManagedProcess, free_port, port_open
from tests.conftest import start_worker
from tests.observability.otlp import OtlpReceiver
from tests.platform import ROOT, Platform


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    r = OtlpReceiver().start()
    try:
        yield r
    finally:
        r.stop()


def otel_env(receiver: OtlpReceiver) -> dict[str, str]:
    return {
        "OTEL_ENABLED": "true",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # export within 0.2 s instead of 5 s
    }


@pytest.fixture(scope="module")
def traced_gateway(platform: Platform, receiver: OtlpReceiver) -> Iterator[ManagedProcess]:
    """A gateway process of its own with tracing on (the session's runs with it off)."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "gateway.app:app", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--log-level", "warning"]
    proc = ManagedProcess(
        "gateway-traced",
        argv,
        platform.workdir / "logs" / f"gateway-traced-{port}.log",
        env={**platform.env, "DATABASE_URL": os.environ["DATABASE_URL"], **otel_env(receiver)},
        cwd=ROOT,
    ).start()
    proc.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    try:
        proc.wait_until(lambda: port_open(port), 60)
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def traced_worker(platform: Platform, receiver: OtlpReceiver) -> Iterator[ManagedProcess]:
    """A real Celery worker process for profile-my-data, tracing on."""
    proc = start_worker(platform, ["profile-my-data"], "traced", extra_env=otel_env(receiver))
    try:
        yield proc
    finally:
        proc.stop()
