"""The callback target guard: every spelling of an internal address is refused when the task is
created, and a name that starts resolving to loopback after creation is refused at send time,
with a real receiver listening on loopback that must see nothing."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import tasks.callback_url as guard
import workers.callbacks as callbacks

PUBLIC = ipaddress.ip_address("93.184.216.34")

#: Names the tests make "resolve" (the real resolver is replaced; the machine has no DNS).
FAKE_DNS: dict[str, list[str]] = {
    "hooks.public.test": [str(PUBLIC)],
    "internal.corp.test": ["10.0.0.5"],
    "metadata.cloud.test": ["169.254.169.254"],
    "cgnat.cloud.test": ["100.100.100.200"],
    "mixed.public.test": [str(PUBLIC), "127.0.0.1"],
    "v6loop.public.test": ["::1"],
    "mapped.public.test": ["::ffff:127.0.0.1"],
    "nat64.public.test": ["64:ff9b::a9fe:a9fe"],
}

REFUSED = [
    # The forms from the issue
    "http://127.0.0.1:6379/",
    "https://127.0.0.1:6379/",
    "https://localhost./hook",
    "https://LOCALHOST/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://0.0.0.0/hook",
    "https://0/hook",
    "https://2130706433/hook",
    "https://0x7f000001/hook",
    "https://0177.0.0.1/hook",
    "https://127.1/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:7f00:1]/hook",
    "https://10.0.0.1/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://100.64.0.1/hook",
    "https://100.100.100.200/latest/meta-data/",
    "https://example.com@127.0.0.1/hook",
    "https://user:pass@example.com/hook",
    # IPv6 forms that embed an IPv4 address
    "https://[2002:7f00:1::]/hook",
    "https://[2002:a9fe:a9fe::1]/hook",
    "https://[64:ff9b::7f00:1]/hook",
    "https://[64:ff9b::a00:1]/hook",
    "https://[64:ff9b:1::7f00:1]/hook",
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",
    "https://[::127.0.0.1]/hook",
    "https://[0:0:0:0:0:ffff:169.254.169.254]/hook",
    "https://[::ffff:a9fe:a9fe]/hook",
    # Other internal IPv6
    "https://[fe80::1]/hook",
    "https://[fe80::1%25eth0]/hook",
    "https://[fc00::1]/hook",
    "https://[fd00:ec2::254]/latest/meta-data/",
    "https://[::]/hook",
    "https://[ff02::1]/hook",
    # More IPv4 spellings and special ranges
    "https://0x7f.0x0.0x0.0x1/hook",
    "https://017700000001/hook",
    "https://127.000.000.001/hook",
    "https://127.0.0.1./hook",
    "https://0x0a.0.0.1/hook",
    "https://10.1/hook",
    "https://224.0.0.1/hook",
    "https://255.255.255.255/hook",
    "https://192.0.0.1/hook",
    "https://198.18.0.1/hook",
    "https://192.0.2.1/hook",
    "https://240.0.0.1/hook",
    # URL parser confusions
    "https://127.0.0.1#@hooks.public.test/",
    "https://hooks.public.test\\@127.0.0.1/",
    "https://hooks.public.test%2F@127.0.0.1/",
    "https://:@hooks.public.test/",
    # Schemes
    "http://hooks.public.test/hook",
    "ftp://hooks.public.test/hook",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "//hooks.public.test/hook",
    # Names that resolve to internal addresses
    "https://internal.corp.test/hook",
    "https://metadata.cloud.test/latest/meta-data/",
    "https://cgnat.cloud.test/hook",
    "https://mixed.public.test/hook",
    "https://v6loop.public.test/hook",
    "https://mapped.public.test/hook",
    "https://nat64.public.test/hook",
    "https://does-not-resolve.invalid/hook",
]


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Replace the guard's one resolver call (the gateway runs in this process)."""
    table = dict(FAKE_DNS)

    def resolve(host: str, port: int) -> list[Any]:
        if host not in table:
            raise OSError(f"{host} does not resolve")
        return [ipaddress.ip_address(a) for a in table[host]]

    monkeypatch.setattr(guard, "_resolve", resolve)
    return table


def test_the_table_is_large_and_unique():
    assert len(REFUSED) >= 40
    assert len(set(REFUSED)) == len(REFUSED)


@pytest.mark.parametrize("url", REFUSED)
def test_internal_targets_are_refused_at_creation(tenant, fake_dns, url):
    r = tenant.client.post("/v1/tasks", json={"tool_id": "profile-my-data", "callback_url": url})
    assert r.status_code == 422, (url, r.text)
    assert r.json()["error"]["code"] == "INVALID_CALLBACK_URL", url


def test_allow_listed_targets_and_public_names_are_accepted(tenant, fake_dns, platform):
    port = platform.callback_ports[0]
    for url in (
        "https://hooks.public.test/hook",
        "https://93.184.216.34/hook",
        f"http://127.0.0.1:{port}/hook",
    ):
        r = tenant.client.post(
            "/v1/tasks", json={"tool_id": "profile-my-data", "callback_url": url}
        )
        assert r.status_code == 201, (url, r.text)
    # The allow-list is one exact listener: another port, or credentials, are still refused.
    for url in (f"http://127.0.0.1:{port + 1}/hook", f"http://u:p@127.0.0.1:{port}/hook"):
        r = tenant.client.post(
            "/v1/tasks", json={"tool_id": "profile-my-data", "callback_url": url}
        )
        assert r.status_code == 422, (url, r.text)


class _Listener:
    """A loopback HTTP server that records what reaches it."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.requests.append(dict(self.headers))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[_Listener]:
    server = _Listener()
    yield server
    server.close()


def test_a_name_that_rebinds_to_loopback_after_creation_is_refused_at_send_time(
    tenant, fake_dns, listener, monkeypatch
):
    # http to a public name is allowed here only so that the test's listener could answer.
    monkeypatch.setenv("CALLBACK_ALLOW_HTTP", "true")
    from core.settings import reset_settings

    reset_settings()
    try:
        url = f"http://hooks.public.test:{listener.port}/hook"
        r = tenant.client.post(
            "/v1/tasks", json={"tool_id": "profile-my-data", "callback_url": url}
        )
        assert r.status_code == 201, r.text
        task_id = r.json()["task_id"]
        # The name now resolves to loopback (DNS rebinding), where the listener is.
        fake_dns["hooks.public.test"] = ["127.0.0.1"]
        result = callbacks.deliver(task_id)
        assert result["delivered"] is False
        assert "private" in result["refused"]
        assert listener.requests == []
    finally:
        monkeypatch.delenv("CALLBACK_ALLOW_HTTP")
        reset_settings()


def test_the_connection_goes_to_the_checked_address_with_the_host_kept(
    tenant, fake_dns, platform, monkeypatch
):
    """An allow-listed name is resolved once and the request sent to that address: a second
    lookup (which would answer elsewhere) never happens, and Host still names the host."""
    port = platform.callback_ports[1]
    server = _Listener(port)
    monkeypatch.setenv("CALLBACK_ALLOW_HOSTS", f"hooks.local.test:{port}")
    from core.settings import reset_settings

    reset_settings()
    lookups: list[str] = []
    answers = iter([["127.0.0.1"], ["10.9.9.9"]])

    def resolve(host: str, p: int) -> list[Any]:
        lookups.append(host)
        return [ipaddress.ip_address(a) for a in next(answers)]

    try:
        url = f"http://hooks.local.test:{port}/hook"
        target = guard.check_url(url)
        assert target.allow_listed
        monkeypatch.setattr(guard, "_resolve", resolve)
        from core.db import session_scope
        from tasks.models import Task

        with session_scope() as session:
            task = Task(
                tenant_id=tenant.tenant_id,
                tool_id="profile-my-data",
                agents=["unified-profiler"],
                callback_url=url,
            )
            session.add(task)
            session.flush()
            task_id = task.id
        assert callbacks.deliver(task_id) == {"delivered": True, "status_code": 200}
        assert lookups == ["hooks.local.test"]
        assert server.requests[0]["Host"] == f"hooks.local.test:{port}"
    finally:
        server.close()
        monkeypatch.delenv("CALLBACK_ALLOW_HOSTS")
        reset_settings()


def test_redirects_are_not_followed(tenant, platform):
    """A receiver answering 302 to an internal address: the worker does not follow it."""
    from http.server import BaseHTTPRequestHandler as Base

    hits: list[str] = []

    class Redirect(Base):
        def do_POST(self) -> None:
            hits.append(self.path)
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", platform.callback_ports[0]), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{platform.callback_ports[0]}/hook"
        from core.db import session_scope
        from tasks.models import Task

        with session_scope() as session:
            task = Task(
                tenant_id=tenant.tenant_id,
                tool_id="profile-my-data",
                agents=["unified-profiler"],
                callback_url=url,
            )
            session.add(task)
            session.flush()
            task_id = task.id
        assert callbacks.deliver(task_id) == {"delivered": True, "status_code": 302}
        assert hits == ["/hook"]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("64:ff9b::7f00:1", False),
        ("2002:7f00:1::", False),
        ("100.64.0.1", False),
    ],
)
def test_is_public_unwraps_embedded_addresses(address, public):
    assert guard.is_public(ipaddress.ip_address(address)) is public
