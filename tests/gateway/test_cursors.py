"""Every list endpoint pages through one keyset pager (core/pagination.py): pages are complete
and disjoint, and a cursor the gateway did not make is 422 ``INVALID_CURSOR``, never a 500."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import create

#: Every operation with a ``cursor`` parameter (checked against the served schema below).
LIST_ENDPOINTS = ["/v1/tasks", "/v1/billing/ledger"]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


BAD_CURSORS = {
    "not base64": "!!!not-base64!!!",
    "no separator": _b64(b"2026-01-01T00:00:00+00:00"),
    "naive timestamp": _b64(b"2026-01-01T00:00:00|x"),
    "not a timestamp": _b64(b"yesterday|x"),
    "year 9999, west of UTC": _b64(b"9999-12-31T23:59:59-14:00|x"),
    "year 1, east of UTC": _b64(b"0001-01-01T00:00:00+14:00|x"),
    "far future": _b64(b"9999-12-31T00:00:00+00:00|x"),
    "far past": _b64(b"1900-01-01T00:00:00+00:00|x"),
    "NUL in the id": _b64(b"2026-01-01T00:00:00+00:00|a\x00b"),
    "SQL in the id": _b64(b"2026-01-01T00:00:00+00:00|x' OR '1'='1"),
    "not UTF-8": _b64(b"2026-01-01T00:00:00+00:00|\xed\xa0\x80"),
    "empty id": _b64(b"2026-01-01T00:00:00+00:00|"),
    "too long": _b64(b"2026-01-01T00:00:00+00:00|" + b"a" * 300),
    "non-ASCII text": "é" * 10,
}


def test_the_schema_lists_no_other_paged_endpoint(tenant: Any) -> None:
    schema = tenant.client.get("/openapi.json").json()
    paged = sorted(
        path
        for path, ops in schema["paths"].items()
        for op in ops.values()
        if any(p.get("name") == "cursor" for p in op.get("parameters", []))
    )
    assert paged == sorted(LIST_ENDPOINTS)


@pytest.mark.parametrize("path", LIST_ENDPOINTS)
@pytest.mark.parametrize("case", sorted(BAD_CURSORS))
def test_a_cursor_the_gateway_did_not_make_is_invalid_cursor(
    tenant: Any, path: str, case: str
) -> None:
    r = tenant.client.get(path, params={"cursor": BAD_CURSORS[case]})
    assert r.status_code == 422, (case, r.status_code, r.text)
    assert r.json()["error"]["code"] == "INVALID_CURSOR"


@pytest.mark.parametrize("path", LIST_ENDPOINTS)
def test_pages_are_complete_disjoint_and_newest_first(
    make_tenant: Any, admin: httpx.Client, path: str
) -> None:
    tc = make_tenant(credits=0)
    for i in range(7):
        if path == "/v1/tasks":
            create(tc)
        else:
            r = admin.post(
                f"/v1/admin/tenants/{tc.tenant_id}/grants", json={"credits": 1 + i, "reason": "t"}
            )
            assert r.status_code == 201, r.text
    seen: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        r = tc.client.get(path, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        seen.extend(body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    ids = [item.get("task_id") or item["id"] for item in seen]
    assert len(ids) == 7 and len(set(ids)) == 7 and pages == 3
    stamps = [item["created_at"] for item in seen]
    assert stamps == sorted(stamps, reverse=True)
