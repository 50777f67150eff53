"""A database that does not answer, or refuses connections, is 503 ``SERVICE_UNAVAILABLE``
with ``Retry-After`` within a few seconds: never a hang, never a 500.

The gateway runs as its own process pointed at a PostgreSQL address this test controls: a
listener that accepts connections and never speaks (a frozen server), or a closed port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.services import free_port
from tests.workers.isolated import gateway_process


class FrozenServer:
    """Accepts TCP connections and never answers (a PostgreSQL stopped with SIGSTOP)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.held:
            c.close()


@pytest.fixture
def frozen_db() -> Iterator[FrozenServer]:
    server = FrozenServer()
    yield server
    server.close()


def _assert_unavailable(r: httpx.Response, took: float) -> None:
    assert r.status_code == 503, r.text
    body: dict[str, Any] = r.json()
    assert body["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert body["error"]["details"]["dependency"] == "database"
    assert int(r.headers["Retry-After"]) > 0
    assert took < 5, took


@pytest.mark.parametrize("state", ["frozen", "refusing"])
def test_a_database_outage_is_503_within_seconds(
    platform: Any, frozen_db: FrozenServer, state: str
) -> None:
    port = frozen_db.port if state == "frozen" else free_port()
    proc, url = gateway_process(
        platform,
        f"gateway-db-{state}",
        {
            "DATABASE_URL": f"postgresql://agensium@127.0.0.1:{port}/agensium",
            "DATABASE_CONNECT_TIMEOUT_SECONDS": "2",
        },
    )
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            key = {"Authorization": "Bearer agk_abcdefghij_" + "x" * 43}  # well formed: looked up
            for method, path, body in [
                ("GET", "/v1/me", None),
                ("POST", "/v1/tasks", {"tool_id": "profile-my-data"}),
                ("GET", "/v1/billing/wallet", None),
            ]:
                t0 = time.monotonic()
                r = client.request(method, path, json=body, headers=key)
                _assert_unavailable(r, time.monotonic() - t0)
            # Liveness does not depend on the database; readiness says it is not ready.
            assert client.get("/healthz").status_code == 200
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
    finally:
        proc.stop()
