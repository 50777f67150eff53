"""S3 storage through boto3 only: streamed uploads, downloads to files, presigned URLs.

Keys: ``tenants/{tenant_id}/tasks/{task_id}/{inputs|outputs|work}/{sanitized name}``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import boto3
from boto3.exceptions import S3TransferFailedError, S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from core.errors import DependencyUnavailableError
from core.settings import get_settings

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def sanitize_filename(name: str, default: str = "file") -> str:
    """A safe last path segment: no directories, no control characters, no leading dots."""
    name = unicodedata.normalize("NFKC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip("._-")
    return name[:120] or default


def task_prefix(tenant_id: str, task_id: str) -> str:
    return f"tenants/{tenant_id}/tasks/{task_id}/"


def input_key(tenant_id: str, task_id: str, role: str, filename: str) -> str:
    return f"{task_prefix(tenant_id, task_id)}inputs/{role}/{sanitize_filename(filename)}"


def output_key(tenant_id: str, task_id: str, name: str) -> str:
    return f"{task_prefix(tenant_id, task_id)}outputs/{sanitize_filename(name)}"


@dataclass
class ObjectInfo:
    key: str
    size: int


class _HashingReader:
    """Wraps a stream: counts and hashes bytes as boto3 reads them, and enforces a size cap."""

    def __init__(self, stream: IO[bytes], max_bytes: int | None) -> None:
        self._stream = stream
        self._max = max_bytes
        self.size = 0
        self.sha256 = hashlib.sha256()
        self.too_large = False

    def read(self, n: int = -1) -> bytes:
        chunk = self._stream.read(n)
        self.size += len(chunk)
        if self._max is not None and self.size > self._max:
            self.too_large = True
            raise _TooLarge
        self.sha256.update(chunk)
        return chunk


class _TooLarge(Exception):
    pass


class Storage:
    def __init__(self) -> None:
        s = get_settings()
        self.bucket = s.s3_bucket
        self.client = boto3.client(
            "s3",
            endpoint_url=s.s3_endpoint_url,
            region_name=s.s3_region,
            aws_access_key_id=s.s3_access_key_id.get_secret_value(),
            aws_secret_access_key=s.s3_secret_access_key.get_secret_value(),
            # Deadlines: a call that gets no answer ends after connect + read timeout per
            # attempt (a few seconds in all), and becomes 503 SERVICE_UNAVAILABLE (see _guard).
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"total_max_attempts": s.s3_max_attempts, "mode": "standard"},
                connect_timeout=s.s3_connect_timeout_seconds,
                read_timeout=s.s3_read_timeout_seconds,
            ),
        )
        mb = 1024 * 1024
        self.transfer = TransferConfig(
            multipart_threshold=s.s3_multipart_threshold_mb * mb,
            multipart_chunksize=8 * mb,
            max_concurrency=4,
        )

    def ensure_bucket(self) -> None:
        with _guard():
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError:
                self.client.create_bucket(Bucket=self.bucket)

    def upload_stream(
        self,
        stream: IO[bytes],
        key: str,
        *,
        content_type: str | None = None,
        max_bytes: int | None = None,
    ) -> tuple[int, str]:
        """Stream to S3 (multipart above the threshold) without buffering the whole file.

        Returns (size, sha256 hex). Raises ``ObjectTooLarge`` past ``max_bytes`` (the partial
        upload is aborted by boto3 and nothing is left under the key).
        """
        reader = _HashingReader(stream, max_bytes)
        extra = {"ContentType": content_type} if content_type else None
        try:
            self.client.upload_fileobj(
                reader, self.bucket, key, ExtraArgs=extra, Config=self.transfer
            )
        except _TooLarge:
            self.delete(key)
            raise ObjectTooLarge(reader.size) from None
        except Exception as exc:
            if reader.too_large or isinstance(exc.__context__, _TooLarge):
                self.delete(key)
                raise ObjectTooLarge(reader.size) from None
            raise unavailable(exc) from exc
        return reader.size, reader.sha256.hexdigest()

    def upload_file(self, path: Path, key: str, content_type: str | None = None) -> int:
        """One PUT below the multipart threshold; s3transfer's parallel multipart above it.
        (s3transfer for a small file costs a transfer manager, its threads and futures per
        call, for the same single PUT.)"""
        size = path.stat().st_size
        with _guard():
            if size < self.transfer.multipart_threshold:
                kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
                if content_type:
                    kwargs["ContentType"] = content_type
                with path.open("rb") as body:  # seekable: botocore rewinds it to retry
                    self.client.put_object(Body=body, **kwargs)
            else:
                extra = {"ContentType": content_type} if content_type else None
                self.client.upload_file(
                    str(path), self.bucket, key, ExtraArgs=extra, Config=self.transfer
                )
        return size

    def put_bytes(self, data: bytes, key: str, content_type: str | None = None) -> None:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Body": data}
        if content_type:
            kwargs["ContentType"] = content_type
        with _guard():
            self.client.put_object(**kwargs)

    def download_file(self, key: str, dest: Path) -> None:
        """The object into ``dest``. One GET streamed to the file below the
        multipart threshold (s3transfer would HEAD first, then GET, through a transfer manager
        of its own); above it, s3transfer's parallel ranged GETs."""
        try:
            with _guard(missing_key=key):
                resp = self.client.get_object(Bucket=self.bucket, Key=key)
                body = resp["Body"]
                size = int(resp["ContentLength"])
                if size >= self.transfer.multipart_threshold:
                    body.close()
                    self.client.download_file(self.bucket, key, str(dest), Config=self.transfer)
                    return
                with body, dest.open("wb") as out:
                    for chunk in body.iter_chunks(1024 * 1024):
                        out.write(chunk)
        except _Missing:
            raise ObjectMissing(key) from None

    def get_bytes(self, key: str) -> bytes:
        try:
            with _guard(missing_key=key):
                body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except _Missing:
            raise ObjectMissing(key) from None
        return body

    def head(self, key: str) -> ObjectInfo | None:
        try:
            with _guard(missing_key=key):
                resp = self.client.head_object(Bucket=self.bucket, Key=key)
        except _Missing:
            return None
        return ObjectInfo(key, int(resp["ContentLength"]))

    def read_head(self, key: str, n: int = 8192) -> bytes:
        with _guard():
            resp = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{n - 1}")
            data: bytes = resp["Body"].read()
        return data

    def open_stream(self, key: str) -> Any:
        """The object's body as a stream (``iter_chunks``); read it inside ``guarded()``."""
        with _guard():
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]

    def presign_put(self, key: str, expires: int, content_type: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if content_type:
            params["ContentType"] = content_type
        with _guard():
            url: str = self.client.generate_presigned_url(
                "put_object", Params=params, ExpiresIn=expires
            )
        return url

    def presign_post(self, key: str, expires: int, max_bytes: int) -> dict[str, Any]:
        """A presigned POST (browser form upload) that S3 itself refuses when the file is
        larger than ``max_bytes`` (a ``content-length-range`` policy condition).
        ``{"url", "fields"}``: POST multipart/form-data with the fields, then ``file``."""
        post: dict[str, Any] = self.client.generate_presigned_post(
            self.bucket,
            key,
            Conditions=[["content-length-range", 0, max(0, int(max_bytes))]],
            ExpiresIn=expires,
        )
        return post

    def presign_get(self, key: str, expires: int, filename: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        with _guard():
            url: str = self.client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=expires
            )
        return url

    def list_keys(self, prefix: str) -> list[ObjectInfo]:
        out: list[ObjectInfo] = []
        with _guard():
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                out.extend(ObjectInfo(o["Key"], int(o["Size"])) for o in page.get("Contents", []))
        return out

    def delete(self, key: str) -> None:
        with _guard():
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix: str) -> int:
        if not prefix.startswith("tenants/"):
            raise ValueError("refusing to delete outside tenants/")
        keys = [o.key for o in self.list_keys(prefix)]
        for i in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[i : i + 1000]]
            with _guard():
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})
        return len(keys)

    def ping(self) -> None:
        with _guard():
            self.client.head_bucket(Bucket=self.bucket)


class ObjectTooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"object exceeds the size limit after {size} bytes")
        self.size = size


class ObjectMissing(Exception):
    pass


class _Missing(Exception):
    """Inside ``_guard(missing_key=...)``: S3 answered that the object does not exist."""


#: Every failure of a call to S3 other than "no such object": connection refused or reset,
#: connect/read timeouts, an unknown endpoint, missing or refused credentials, a 5xx.
_STORAGE_ERRORS = (
    BotoCoreError,  # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError,
    # NoCredentialsError, ConnectionClosedError, ...
    ClientError,  # 5xx, SlowDown, InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied
    S3UploadFailedError,
    S3TransferFailedError,
    OSError,  # socket errors urllib3 did not wrap
)
_MISSING_CODES = ("404", "NoSuchKey", "NotFound")


@contextmanager
def _guard(missing_key: str | None = None) -> Iterator[None]:
    """Map every storage error to 503 ``SERVICE_UNAVAILABLE`` (with ``Retry-After``), never
    to a 500; with ``missing_key``, a 404 from S3 raises ``_Missing`` instead."""
    try:
        yield
    except ClientError as exc:
        if missing_key is not None and exc.response.get("Error", {}).get("Code") in _MISSING_CODES:
            raise _Missing(missing_key) from exc
        raise unavailable(exc) from exc
    except _STORAGE_ERRORS as exc:
        raise unavailable(exc) from exc


def guarded() -> Any:
    """``with guarded():`` around code that reads a storage stream outside ``Storage``."""
    return _guard()


def unavailable(exc: BaseException) -> DependencyUnavailableError:
    retry_after = get_settings().dependency_retry_after_seconds
    return DependencyUnavailableError(
        "Object storage is unavailable; retry later",
        details={"dependency": "s3", "reason": type(exc).__name__},
        headers={"Retry-After": str(retry_after)},
    )


@lru_cache
def get_storage() -> Storage:
    return Storage()


def reset_storage() -> None:
    get_storage.cache_clear()
