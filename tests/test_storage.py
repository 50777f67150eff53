"""Object storage against the session's real S3 server: a small file is one PUT and one GET,
a file above the multipart threshold goes through s3transfer, both arrive byte for byte."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.storage import ObjectMissing, Storage, get_storage


@pytest.fixture
def storage(platform: Any) -> Storage:
    return get_storage()


@pytest.fixture
def s3_calls(storage: Storage) -> Iterator[list[str]]:
    """The S3 operations botocore sends during the test, by name (its own event hook)."""
    calls: list[str] = []

    def seen(model: Any, **kwargs: Any) -> None:
        calls.append(model.name)

    storage.client.meta.events.register("before-call.s3", seen)
    yield calls
    storage.client.meta.events.unregister("before-call.s3", seen)


def _key(name: str) -> str:
    return f"tenants/test-storage/tasks/{uuid.uuid4()}/work/{name}"


def test_a_small_file_is_one_put_and_one_get_and_arrives_intact(
    storage: Storage, s3_calls: list[str], tmp_path: Path
) -> None:
    data = os.urandom(300_000)
    src = tmp_path / "small.bin"
    src.write_bytes(data)
    key = _key("small.bin")

    assert storage.upload_file(src, key, "application/octet-stream") == len(data)
    dest = tmp_path / "back.bin"
    storage.download_file(key, dest)

    assert dest.read_bytes() == data
    assert s3_calls == ["PutObject", "GetObject"]  # no HEAD, no multipart


def test_a_file_above_the_multipart_threshold_round_trips(
    storage: Storage, s3_calls: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.transfer, "multipart_threshold", 5 * 1024 * 1024)
    monkeypatch.setattr(storage.transfer, "multipart_chunksize", 5 * 1024 * 1024)
    data = os.urandom(11 * 1024 * 1024)
    src = tmp_path / "large.bin"
    src.write_bytes(data)
    key = _key("large.bin")

    assert storage.upload_file(src, key) == len(data)
    dest = tmp_path / "back.bin"
    storage.download_file(key, dest)

    assert dest.read_bytes() == data
    assert "CreateMultipartUpload" in s3_calls


def test_downloading_a_missing_object_raises_object_missing(
    storage: Storage, tmp_path: Path
) -> None:
    with pytest.raises(ObjectMissing):
        storage.download_file(_key("nothing-here"), tmp_path / "x")
