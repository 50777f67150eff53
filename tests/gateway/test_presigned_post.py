"""Presigned POST uploads: S3 itself (SeaweedFS here) refuses a file over the plan's size, so
nothing over the limit is ever stored; within the limit the task processes as with a PUT. (The
presigned PUT stays for existing clients: S3 cannot cap it, process refuses and deletes an
oversized one, see test_uploads.py.)"""

from __future__ import annotations

import httpx

from core.storage import get_storage, task_prefix
from tests.conftest import wait_for_task
from tests.gateway.conftest import SMALL_CSV, TINY_LIMIT, create, csv_bytes, new_tenant


def test_a_presigned_post_is_capped_by_s3_at_the_plans_size(admin, gateway_url, tiny_plan, worker):
    tc = new_tenant(admin, gateway_url, credits=1_000, plan=tiny_plan)
    try:
        big = csv_bytes(3000)
        assert len(big) > TINY_LIMIT
        created = create(tc, agents=["unified-profiler"])
        post = created["uploads"]["primary"]["post"]
        assert post["max_bytes"] == TINY_LIMIT
        r = httpx.post(post["url"], data=post["fields"], files={"file": ("big.csv", big)})
        assert r.status_code == 400 and "EntityTooLarge" in r.text, r.text[:300]
        assert get_storage().list_keys(task_prefix(tc.tenant_id, created["task_id"])) == []

        # One byte over: still refused by S3 itself.
        over = SMALL_CSV + b"x" * (TINY_LIMIT + 1 - len(SMALL_CSV))
        r = httpx.post(post["url"], data=post["fields"], files={"file": ("over.csv", over)})
        assert r.status_code == 400, r.text[:300]
        assert get_storage().list_keys(task_prefix(tc.tenant_id, created["task_id"])) == []

        r = httpx.post(post["url"], data=post["fields"], files={"file": ("ok.csv", SMALL_CSV)})
        assert r.status_code in (200, 201, 204), r.text[:300]
        r = tc.client.post(f"/v1/tasks/{created['task_id']}/process")
        assert r.status_code == 202, r.text
        assert wait_for_task(tc.client, created["task_id"])["status"] == "COMPLETED"
    finally:
        tc.close()
