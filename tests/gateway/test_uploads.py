"""Uploads both ways (presigned PUT to S3, PUT through the gateway), the checks on them, and the
one-shot multipart create."""

from __future__ import annotations

import hashlib
import json

import httpx

from core.storage import get_storage, task_prefix
from tests.conftest import wait_for_task
from tests.gateway.conftest import (
    SMALL_CSV,
    TINY_LIMIT,
    create,
    csv_bytes,
    new_tenant,
    upload,
)


def test_presigned_put_then_process_completes_and_records_size_and_sha256(tenant, worker):
    created = create(tenant, agents=["unified-profiler"], filenames={"primary": "people.csv"})
    slot = created["uploads"]["primary"]
    assert slot["method"] == "PUT"
    assert set(created["uploads"]) == {"primary", "baseline"}
    r = httpx.put(slot["url"], content=SMALL_CSV, headers=slot["headers"])
    assert r.status_code == 200, r.text

    r = tenant.client.post(f"/v1/tasks/{created['task_id']}/process")
    assert r.status_code == 202, r.text
    task = wait_for_task(tenant.client, created["task_id"])
    assert task["status"] == "COMPLETED", task
    (f,) = task["files"]
    assert f["role"] == "primary" and f["filename"] == "people.csv"
    assert f["size"] == len(SMALL_CSV)
    assert f["sha256"] == hashlib.sha256(SMALL_CSV).hexdigest()
    assert f["format"] == "csv"


def test_gateway_put_raw_body_records_size_sha256_and_format(tenant):
    task_id = create(tenant)["task_id"]
    data = SMALL_CSV.replace(b",", b"\t")
    r = upload(tenant, task_id, data, "export.txt")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "role": "primary",
        "filename": "export.txt",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "format": "tsv",
    }
    key = f"{task_prefix(tenant.tenant_id, task_id)}inputs/primary/export.txt"
    assert get_storage().get_bytes(key) == data
    files = tenant.client.get(f"/v1/tasks/{task_id}").json()["files"]
    assert files[0]["sha256"] == hashlib.sha256(data).hexdigest()


def test_gateway_put_multipart_file_field(tenant):
    task_id = create(tenant)["task_id"]
    r = tenant.client.put(
        f"/v1/tasks/{task_id}/files/primary", files={"file": ("my data.csv", SMALL_CSV)}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["filename"] == "my_data.csv"
    assert body["size"] == len(SMALL_CSV)
    assert body["sha256"] == hashlib.sha256(SMALL_CSV).hexdigest()


def test_multipart_without_a_file_field_is_422(tenant):
    task_id = create(tenant)["task_id"]
    r = tenant.client.put(f"/v1/tasks/{task_id}/files/primary", files={"other": ("a.csv", b"a")})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "MISSING_FILE_FIELD"


def test_traversal_filename_is_stored_as_a_safe_name_under_the_task_inputs(tenant):
    task_id = create(tenant)["task_id"]
    r = upload(tenant, task_id, SMALL_CSV, "../../etc/passwd")
    assert r.status_code == 200, r.text
    assert r.json()["filename"] == "passwd"
    keys = [o.key for o in get_storage().list_keys(task_prefix(tenant.tenant_id, task_id))]
    assert keys == [f"{task_prefix(tenant.tenant_id, task_id)}inputs/primary/passwd"]


def test_control_characters_and_dots_are_stripped_from_filenames(tenant):
    task_id = create(tenant)["task_id"]
    r = upload(tenant, task_id, SMALL_CSV, "..\x07evil\r\nname .csv")
    assert r.status_code == 200, r.text
    assert r.json()["filename"] == "evilname_.csv"


def test_file_over_the_plan_limit_is_413_both_ways(admin, gateway_url, tiny_plan):
    tc = new_tenant(admin, gateway_url, credits=0, plan=tiny_plan)
    big = csv_bytes(3000)
    assert len(big) > TINY_LIMIT
    task_id = create(tc)["task_id"]
    r = upload(tc, task_id, big)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "FILE_TOO_LARGE"
    assert r.json()["error"]["details"]["limit_bytes"] == TINY_LIMIT

    # Chunked (no Content-Length): the cap applies while the stream arrives.
    def chunks():
        for i in range(0, len(big), 8192):
            yield big[i : i + 8192]

    r = tc.client.put(f"/v1/tasks/{task_id}/files/primary", content=chunks())
    assert r.status_code == 413
    r = tc.client.put(f"/v1/tasks/{task_id}/files/primary", files={"file": ("big.csv", big)})
    assert r.status_code == 413
    assert get_storage().list_keys(task_prefix(tc.tenant_id, task_id)) == []

    # Presigned: S3 takes it, process refuses it and removes it.
    created = create(tc)
    assert httpx.put(created["uploads"]["primary"]["url"], content=big).status_code == 200
    r = tc.client.post(f"/v1/tasks/{created['task_id']}/process")
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "FILE_TOO_LARGE"
    assert get_storage().list_keys(task_prefix(tc.tenant_id, created["task_id"])) == []
    tc.close()


def test_binary_content_named_csv_is_415(tenant):
    task_id = create(tenant)["task_id"]
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    r = upload(tenant, task_id, png, "data.csv")
    assert r.status_code == 415
    err = r.json()["error"]
    assert err["code"] == "UNSUPPORTED_FORMAT"
    noise = bytes((i * 37 + 11) % 256 for i in range(4096))
    r = upload(tenant, task_id, noise, "data.csv")
    assert r.status_code == 415
    assert get_storage().list_keys(task_prefix(tenant.tenant_id, task_id)) == []


def test_a_format_the_role_does_not_accept_is_415(tenant):
    task_id = create(tenant, "master-my-data")["task_id"]
    r = upload(tenant, task_id, SMALL_CSV, "contract.csv", role="contract")
    assert r.status_code == 415
    assert r.json()["error"]["details"]["accepted"] == ["json", "yaml"]


def test_process_answers_missing_file_when_the_object_was_deleted(tenant):
    task_id = create(tenant)["task_id"]
    assert upload(tenant, task_id, SMALL_CSV).status_code == 200
    storage = get_storage()
    (obj,) = storage.list_keys(task_prefix(tenant.tenant_id, task_id))
    storage.delete(obj.key)
    r = tenant.client.post(f"/v1/tasks/{task_id}/process")
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "MISSING_FILE" and err["details"]["missing_roles"] == ["primary"]
    assert tenant.client.get(f"/v1/tasks/{task_id}").json()["status"] == "CREATED"


def test_process_answers_missing_file_when_the_object_was_overwritten(tenant):
    task_id = create(tenant)["task_id"]
    assert upload(tenant, task_id, SMALL_CSV).status_code == 200
    storage = get_storage()
    (obj,) = storage.list_keys(task_prefix(tenant.tenant_id, task_id))
    storage.put_bytes(SMALL_CSV + b"999,x,y,1,2,z,2021-01-01\n", obj.key)
    r = tenant.client.post(f"/v1/tasks/{task_id}/process")
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "MISSING_FILE"
    assert err["details"]["expected"] == len(SMALL_CSV)


def test_one_shot_multipart_create_uploads_processes_and_completes(tenant, worker):
    spec = {"tool_id": "profile-my-data", "agents": ["unified-profiler", "score-risk"]}
    r = tenant.client.post(
        "/v1/tasks",
        data={"spec": json.dumps(spec), "process": "true"},
        files={"primary": ("customers.csv", SMALL_CSV)},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "QUEUED"
    assert body["credits_held"] > 0
    task = wait_for_task(tenant.client, body["task_id"])
    assert task["status"] == "COMPLETED", task
    assert [a["agent_id"] for a in task["agents"]] == ["unified-profiler", "score-risk"]
    assert task["files"][0]["sha256"] == hashlib.sha256(SMALL_CSV).hexdigest()


def test_one_shot_with_a_rejected_file_leaves_no_task_behind(tenant):
    before = tenant.client.get("/v1/tasks", params={"limit": 200}).json()["items"]
    r = tenant.client.post(
        "/v1/tasks",
        data={"spec": json.dumps({"tool_id": "profile-my-data"}), "process": "true"},
        files={"primary": ("x.csv", b"%PDF-1.7 binary")},
    )
    assert r.status_code == 415
    after = tenant.client.get("/v1/tasks", params={"limit": 200}).json()["items"]
    assert [t["task_id"] for t in after] == [t["task_id"] for t in before]
