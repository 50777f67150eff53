"""Receiving a tenant's file: spooled to disk (never whole in memory), hashed, size-capped,
then streamed to S3 with multipart above the threshold.

Spool files live in a directory this gateway process owns: ``gateway-<pid>`` under
``UPLOAD_SPOOL_DIR`` (default ``<temp dir>/agensium-spool``), with an ``flock`` held for the
process's life. At start the gateway clears its own directory and those of gateways that died
(their lock is free), so a killed gateway's files never outlive its restart.
``UPLOAD_SPOOL_MAX_BYTES`` caps what one gateway spools at once: past it an upload answers 503
with ``Retry-After``."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from core.errors import (
    BadRequestError,
    DependencyUnavailableError,
    TooLargeError,
    ValidationFailedError,
)
from core.settings import get_settings
from core.storage import Storage
from tasks.files import SNIFF_BYTES, too_large

log = logging.getLogger(__name__)


class BodyTooLarge(TooLargeError):
    code = "PAYLOAD_TOO_LARGE"


class MissingFileField(ValidationFailedError):
    code = "MISSING_FILE_FIELD"


async def capped(chunks: AsyncIterator[bytes], max_bytes: int) -> AsyncGenerator[bytes, None]:
    """Pass a request body through, failing with 413 as soon as it passes ``max_bytes``
    (chunked bodies have no Content-Length to refuse up front)."""
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > max_bytes:
            raise too_large(max_bytes)
        yield chunk


async def parse_multipart(request: Request, max_bytes: int) -> FormData:
    """Parse multipart/form-data with the whole body capped (file parts spool to disk)."""
    try:
        parser = MultiPartParser(
            request.headers, capped(request.stream(), max_bytes), max_files=10, max_fields=20
        )
        return await parser.parse()
    except MultiPartException as exc:
        raise BadRequestError(
            f"Invalid multipart body: {exc.message}", code="INVALID_MULTIPART"
        ) from None


@dataclass
class Received:
    """A file spooled in full (``tasks.intake.Spooled``)."""

    path: Path
    size: int
    sha256: str
    head: bytes

    async def store(self, storage: Storage, key: str) -> None:
        """Upload to ``key`` (multipart above the threshold); the spool file goes either way."""
        try:
            await run_in_threadpool(storage.upload_file, self.path, key, None)
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove the spool file (and give its bytes back to the cap)."""
        if self.path.exists():
            self.path.unlink(missing_ok=True)
            SPOOL.release(self.size)


class SpoolFull(DependencyUnavailableError):
    code = "SERVICE_UNAVAILABLE"


class _Spool:
    """This process's spool directory and how many bytes it holds right now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dir: Path | None = None
        self._lock_file: IO[str] | None = None
        self.bytes = 0

    def base(self) -> Path:
        # The temp dir by default: writable in the containers (read-only root, /tmp emptyDir).
        default = Path(tempfile.gettempdir()) / "agensium-spool"
        return Path(get_settings().upload_spool_dir or default)

    def prepare(self) -> Path:
        """Own ``gateway-<pid>`` (flock held), empty it, and remove dead gateways' dirs."""
        with self._lock:
            if self._dir is not None and self._dir.parent == self.base():
                return self._dir
            base = self.base()
            base.mkdir(parents=True, exist_ok=True)
            mine = base / f"gateway-{os.getpid()}"
            for other in base.glob("gateway-*"):
                if other != mine and other.is_dir() and _owner_is_dead(other):
                    shutil.rmtree(other, ignore_errors=True)
            shutil.rmtree(mine, ignore_errors=True)
            mine.mkdir(parents=True)
            self._lock_file = open(mine / ".lock", "w")  # noqa: SIM115 - held for life
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._dir, self.bytes = mine, 0
            return mine

    def reserve(self, n: int) -> None:
        cap = get_settings().upload_spool_max_bytes
        with self._lock:
            if self.bytes + n > cap:
                raise SpoolFull(
                    "The gateway is receiving too many uploads at once; retry shortly",
                    details={"dependency": "upload-spool"},
                    headers={"Retry-After": str(get_settings().dependency_retry_after_seconds)},
                )
            self.bytes += n

    def release(self, n: int) -> None:
        with self._lock:
            self.bytes = max(0, self.bytes - n)


def _owner_is_dead(folder: Path) -> bool:
    lock = folder / ".lock"
    if not lock.exists():
        return True
    with open(lock) as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a live gateway holds it
        fcntl.flock(fh, fcntl.LOCK_UN)
        return True


SPOOL = _Spool()


def prepare_spool() -> Path | None:
    """Called when the gateway starts (gateway/app.py). A spool that cannot be prepared is
    logged, not fatal: the first upload tries again."""
    try:
        return SPOOL.prepare()
    except OSError:
        log.warning("uploads.spool_unavailable base=%s", SPOOL.base(), exc_info=True)
        return None


async def spool(chunks: AsyncIterator[bytes], max_bytes: int) -> Received:
    """Write the incoming stream to a file in the gateway's spool directory, enforcing the
    plan's size limit and the spool's cap as it arrives."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    folder = SPOOL.prepare()
    tmp = tempfile.NamedTemporaryFile(  # noqa: SIM115
        prefix="agensium-upload-", dir=folder, delete=False
    )
    path = Path(tmp.name)
    try:
        with tmp:
            async for chunk in chunks:
                if not chunk:
                    continue
                SPOOL.reserve(len(chunk))
                size += len(chunk)
                if size > max_bytes:
                    raise too_large(max_bytes)
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                digest.update(chunk)
                tmp.write(chunk)
    except BaseException:
        SPOOL.release(size)
        path.unlink(missing_ok=True)
        raise
    return Received(path, size, digest.hexdigest(), head)


async def iter_upload(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(1024 * 1024):
        yield chunk


class RequestFile:
    """The body of ``PUT /v1/tasks/{id}/files/{role}`` (``tasks.intake.IncomingFile``): the raw
    bytes, named by ``?filename=``, or a ``multipart/form-data`` body with a ``file`` field
    (parsed with the whole body capped at ``max_body``), named by ``?filename=`` or the part's
    own name."""

    def __init__(self, request: Request, filename: str | None, max_body: int) -> None:
        self._request = request
        self._filename = filename
        self._max_body = max_body
        self._form: FormData | None = None
        self._chunks: AsyncIterator[bytes] | None = None

    async def open(self) -> str | None:
        if not self._request.headers.get("content-type", "").startswith("multipart/form-data"):
            self._chunks = self._request.stream()
            return self._filename
        self._form = await parse_multipart(self._request, self._max_body)
        upload = self._form.get("file")
        if not isinstance(upload, UploadFile):
            raise MissingFileField("Send the file in a 'file' form field")
        self._chunks = iter_upload(upload)
        return self._filename or upload.filename

    async def spool(self, max_bytes: int) -> Received:
        assert self._chunks is not None, "open() first"
        return await spool(self._chunks, max_bytes)

    async def close(self) -> None:
        if self._form is not None:
            await self._form.close()


class FormFile:
    """One file part of an already parsed form (the one-shot create; the form is closed by
    whoever parsed it)."""

    def __init__(self, upload: UploadFile) -> None:
        self._upload = upload

    async def open(self) -> str | None:
        return self._upload.filename

    async def spool(self, max_bytes: int) -> Received:
        return await spool(iter_upload(self._upload), max_bytes)

    async def close(self) -> None:
        return None
