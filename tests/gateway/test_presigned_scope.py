"""Presigned URLs against an S3 server that enforces signatures: a URL reaches only the object
and method it was signed for, and only until it expires.

The session's SeaweedFS has an S3 identity (core.services.start_seaweedfs), so it refuses
unsigned, tampered and expired requests as S3 itself does."""

from __future__ import annotations

import time
from urllib.parse import urlparse, urlunparse

import httpx
import pytest

from core.storage import Storage, get_storage, output_key


@pytest.fixture
def signed_s3(platform) -> Storage:
    """The session's S3 server checks signatures (core.services.start_seaweedfs gives it an
    identity), like AWS S3."""
    return get_storage()


def test_a_presigned_get_cannot_be_retargeted_at_another_key(signed_s3):
    report = output_key("tenant-a", "task-1", "report.json")
    other = output_key("tenant-a", "task-1", "cleaned.csv")
    foreign = output_key("tenant-b", "task-9", "report.json")
    for key in (report, other, foreign):
        signed_s3.put_bytes(key.encode(), key)
    url = signed_s3.presign_get(report, 3600, "report.json")
    assert httpx.get(url).status_code == 200
    assert httpx.get(url).content == report.encode()
    parsed = urlparse(url)
    bucket = parsed.path.split("/")[1]
    for key in (other, foreign):
        tampered = urlunparse(parsed._replace(path=f"/{bucket}/{key}"))
        assert httpx.get(tampered).status_code == 403
    # Unsigned access is refused outright.
    assert httpx.get(urlunparse(parsed._replace(query=""))).status_code == 403


def test_a_presigned_put_only_writes_its_own_key(signed_s3):
    key = "tenants/tenant-a/tasks/task-2/inputs/primary/data.csv"
    url = signed_s3.presign_put(key, 3600)
    assert httpx.put(url, content=b"a,b\n1,2\n").status_code == 200
    assert signed_s3.get_bytes(key) == b"a,b\n1,2\n"
    parsed = urlparse(url)
    tampered = urlunparse(parsed._replace(path=parsed.path.replace("primary", "baseline")))
    assert httpx.put(tampered, content=b"x").status_code == 403
    assert httpx.get(url).status_code == 403  # signed for PUT, not GET


def test_a_presigned_url_expires(signed_s3):
    key = output_key("tenant-a", "task-3", "report.json")
    signed_s3.put_bytes(b"{}", key)
    url = signed_s3.presign_get(key, 1)
    assert "X-Amz-Expires=1&" in url
    time.sleep(2.5)
    assert httpx.get(url).status_code == 403
