"""Signed completion callbacks to a real local HTTP server, retried when it fails."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import wait_for_task
from tests.gateway.conftest import SMALL_CSV, create, upload
from workers.callbacks import sign, tenant_webhook_secret


class Receiver:
    def __init__(self, port: int = 0, fail_first: int = 0) -> None:
        self.calls: list[tuple[float, dict[str, str], bytes]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((time.monotonic(), dict(self.headers), body))
                code = 500 if len(receiver.calls) <= receiver.fail_first else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks/agensium"

    def wait(self, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.calls) < n:
            assert time.monotonic() < deadline, f"{len(self.calls)} callback(s), wanted {n}"
            time.sleep(0.1)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(platform) -> Iterator[Receiver]:
    # One of the ports CALLBACK_ALLOW_HOSTS lists: no other private target is reachable.
    r = Receiver(platform.callback_ports[0])
    yield r
    r.close()


def _verify(secret: str, headers: dict[str, str], body: bytes) -> None:
    sig = headers["X-Agensium-Signature"]
    pairs = [p.split("=", 1) for p in sig.split(",")]
    ts = int(dict(pairs)["t"])
    assert abs(time.time() - ts) < 300
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    assert any(k == "v1" and hmac.compare_digest(v, expected) for k, v in pairs)
    assert f"v1={sign(secret, body, ts).split('v1=')[1]}" in sig


def test_the_tenant_can_read_its_webhook_secret(tenant):
    r = tenant.client.get("/v1/callbacks/secret")
    assert r.status_code == 200
    assert r.json()["secret"] == tenant_webhook_secret(tenant.tenant_id)
    assert r.json()["signature_header"] == "X-Agensium-Signature"


def test_a_finished_task_posts_a_signed_notification(tenant, worker, receiver):
    task_id = create(tenant, agents=["unified-profiler"], callback_url=receiver.url)["task_id"]
    assert upload(tenant, task_id, SMALL_CSV).status_code == 200
    tenant.client.post(f"/v1/tasks/{task_id}/process")
    task = wait_for_task(tenant.client, task_id)
    receiver.wait(1)
    _, headers, body = receiver.calls[0]
    secret = tenant.client.get("/v1/callbacks/secret").json()["secret"]
    _verify(secret, headers, body)
    payload = json.loads(body)
    assert payload["type"] == "task.finished"
    assert payload["task_id"] == task_id and payload["status"] == "COMPLETED"
    assert payload["credits_charged"] == task["credits_charged"]
    assert headers["X-Agensium-Task-Id"] == task_id
    # A tampered body does not verify.
    with pytest.raises(AssertionError):
        _verify(secret, headers, body.replace(b"COMPLETED", b"FAILED"))
    time.sleep(1)
    assert len(receiver.calls) == 1


def test_a_cancelled_task_notifies_too(tenant, worker, receiver):
    task_id = create(tenant, callback_url=receiver.url)["task_id"]
    tenant.client.post(f"/v1/tasks/{task_id}/cancel")
    receiver.wait(1)
    assert json.loads(receiver.calls[0][2])["status"] == "CANCELLED"


def test_a_failing_receiver_is_retried_with_backoff(tenant, worker, platform):
    rec = Receiver(platform.callback_ports[1], fail_first=1)
    try:
        task_id = create(tenant, callback_url=rec.url)["task_id"]
        tenant.client.post(f"/v1/tasks/{task_id}/cancel")
        rec.wait(2)
        (t1, _, b1), (t2, h2, b2) = rec.calls[:2]
        assert b1 == b2 and json.loads(b2)["task_id"] == task_id
        assert t2 > t1
        _verify(tenant_webhook_secret(tenant.tenant_id), h2, b2)
    finally:
        rec.close()


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost:8443/hook",
        "https://[::1]/hook",
        "http://example.com/hook",
        "ftp://example.com/hook",
        "not a url",
    ],
)
def test_private_loopback_and_plain_http_callback_urls_are_refused(tenant, url):
    r = tenant.client.post("/v1/tasks", json={"tool_id": "profile-my-data", "callback_url": url})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "INVALID_CALLBACK_URL"
