"""Receiving a tenant's file: spooled to disk (never whole in memory), hashed, size-capped,
format sniffed by content, then streamed to S3 with multipart above the threshold."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from core.errors import BadRequestError, TooLargeError, ValidationFailedError
from core.storage import Storage, sanitize_filename
from transformers.errors import UnsupportedFormatError
from transformers.io.sniff import sniff_format
from transformers.registry import FileRole

SNIFF_BYTES = 64 * 1024


class EmptyFileError(ValidationFailedError):
    code = "EMPTY_FILE"


class FileTooLarge(TooLargeError):
    code = "FILE_TOO_LARGE"


class BodyTooLarge(TooLargeError):
    code = "PAYLOAD_TOO_LARGE"


class MissingFileField(ValidationFailedError):
    code = "MISSING_FILE_FIELD"


def too_large(max_bytes: int) -> FileTooLarge:
    return FileTooLarge(
        f"The file exceeds your plan's limit of {max_bytes} bytes",
        details={"limit_bytes": max_bytes},
    )


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
    path: Path
    size: int
    sha256: str
    head: bytes


async def spool(chunks: AsyncIterator[bytes], max_bytes: int) -> Received:
    """Write the incoming stream to a temp file, enforcing the plan's size limit as it arrives."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    tmp = tempfile.NamedTemporaryFile(prefix="agensium-upload-", delete=False)  # noqa: SIM115
    path = Path(tmp.name)
    try:
        with tmp:
            async for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if size > max_bytes:
                    raise too_large(max_bytes)
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                digest.update(chunk)
                tmp.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Received(path, size, digest.hexdigest(), head)


def check_content(size: int, head: bytes, filename: str, role: FileRole) -> str:
    """Reject empty files and formats the role does not accept, judged by content."""
    if size == 0:
        raise EmptyFileError("The file is empty", details={"role": role.name})
    fmt = sniff_format(head, filename)
    if fmt not in role.formats:
        raise UnsupportedFormatError(
            f"A {fmt} file is not accepted for the {role.name} role",
            details={"role": role.name, "format": fmt, "accepted": list(role.formats)},
        )
    return fmt


async def store(storage: Storage, received: Received, key: str) -> None:
    try:
        await run_in_threadpool(storage.upload_file, received.path, key, None)
    finally:
        received.path.unlink(missing_ok=True)


def clean_filename(name: str | None, role: str) -> str:
    return sanitize_filename(name or "", default=role)
