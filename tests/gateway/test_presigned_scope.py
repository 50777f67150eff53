"""Presigned URLs against an S3 server that enforces signatures: a URL reaches only the object
and method it was signed for, and only until it expires.

The session's SeaweedFS runs without identities (anonymous access), so it accepts any URL; this
module starts one with credentials, as S3 itself always has them."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from urllib.parse import urlparse, urlunparse

import httpx
import pytest

from core.services import ManagedProcess, free_port, free_port_with_grpc, weed_binary
from core.storage import Storage, output_key


@pytest.fixture(scope="module")
def signed_s3(platform, tmp_path_factory) -> Iterator[Storage]:
    from core.settings import reset_settings

    work = tmp_path_factory.mktemp("signed-s3")
    config = work / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "platform",
                        "credentials": [{"accessKey": "local", "secretKey": "local-secret"}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    port = free_port()
    (work / "data").mkdir()
    proc = ManagedProcess(
        "seaweedfs-signed",
        [
            weed_binary(),
            f"-logdir={work}",
            "server",
            f"-dir={work / 'data'}",
            "-s3",
            f"-s3.port={port}",
            f"-s3.port.grpc={free_port()}",
            f"-s3.config={config}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-master.port={free_port_with_grpc()}",
            f"-volume.port={free_port_with_grpc()}",
            f"-filer.port={free_port_with_grpc()}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=0",
        ],
        work / "weed.log",
        cwd=work,
    ).start()
    old = os.environ["S3_ENDPOINT_URL"]
    try:
        os.environ["S3_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
        reset_settings()
        storage = Storage()
        os.environ["S3_ENDPOINT_URL"] = old
        reset_settings()

        def ready() -> bool:
            try:
                storage.ensure_bucket()
                return True
            except Exception:
                return False

        proc.wait_until(ready, 90)
        yield storage
    finally:
        os.environ["S3_ENDPOINT_URL"] = old
        reset_settings()
        proc.stop()


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
