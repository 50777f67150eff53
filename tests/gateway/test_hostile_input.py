"""Hostile input: each gets its documented 4xx (or a FAILED task with its code), never a 500,
and nothing is charged."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.conftest import wait_for_task
from tests.gateway.conftest import TINY_LIMIT, create, csv_bytes, new_tenant, upload, wallet

CREDITS = 1_000


@pytest.fixture(scope="module")
def victim(admin, gateway_url, tiny_plan):
    """A tenant on the 64 KiB plan; every test checks its wallet never moved."""
    tc = new_tenant(admin, gateway_url, credits=CREDITS, plan=tiny_plan)
    yield tc
    assert wallet(tc) == {"balance": CREDITS, "held": 0, "available": CREDITS}
    tc.close()


@pytest.fixture(autouse=True)
def _nothing_charged(request):
    yield
    if "victim" in request.fixturenames:
        tc = request.getfixturevalue("victim")
        assert wallet(tc) == {"balance": CREDITS, "held": 0, "available": CREDITS}


def _error(r, status: int, code: str) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    err = r.json()["error"]
    assert err["code"] == code, err
    return err


def _run(tc, data: bytes, filename: str) -> dict:
    task_id = create(tc, agents=["unified-profiler"])["task_id"]
    r = upload(tc, task_id, data, filename)
    assert r.status_code == 200, r.text
    r = tc.client.post(f"/v1/tasks/{task_id}/process")
    assert r.status_code == 202, r.text
    return wait_for_task(tc.client, task_id)


def test_an_empty_file_is_422_empty_file(victim):
    task_id = create(victim)["task_id"]
    _error(upload(victim, task_id, b"", "empty.csv"), 422, "EMPTY_FILE")
    _error(victim.client.post(f"/v1/tasks/{task_id}/process"), 409, "MISSING_FILE")


def test_an_empty_presigned_upload_is_refused_at_process(victim):
    import httpx

    created = create(victim)
    assert httpx.put(created["uploads"]["primary"]["url"], content=b"").status_code == 200
    _error(victim.client.post(f"/v1/tasks/{created['task_id']}/process"), 422, "EMPTY_FILE")


def test_a_binary_file_named_csv_is_415(victim):
    task_id = create(victim)["task_id"]
    elf = b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8
    _error(upload(victim, task_id, elf, "data.csv"), 415, "UNSUPPORTED_FORMAT")


def test_a_ragged_csv_fails_invalid_file_naming_the_line(victim, worker):
    task = _run(victim, b"a,b,c\n1,2,3\n4,5,6\n7,8\n9,10,11\n", "ragged.csv")
    assert task["status"] == "FAILED"
    assert task["error"]["code"] == "INVALID_FILE"
    assert "line 4" in task["error"]["message"]
    assert task["credits_charged"] == 0


def test_a_utf16_file_is_decoded_and_completes(tenant, worker):
    text = "name,city,amount\nJosé,Zürich,1.5\nÅsa,Malmö,2.5\nNoël,Łódź,3.0\n"
    task = _run(tenant, text.encode("utf-16"), "utf16.csv")
    assert task["status"] == "COMPLETED", task
    assert task["files"][0]["format"] == "csv"
    report = tenant.client.get(f"/v1/tasks/{task['task_id']}/report").json()
    assert "utf-16" in str(report).lower()
    assert "Zürich" in str(report) or "Malmö" in str(report)


def _zip_bomb() -> bytes:
    """A valid XLSX container whose one sheet inflates 1000:1 to 260 MiB."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>',
        )
        z.writestr("xl/workbook.xml", "<workbook/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(b"<sheetData><row><c><v>")
            block = b"0" * (1024 * 1024)
            for _ in range(260):
                sheet.write(block)
            sheet.write(b"</v></c></row></sheetData>")
    return buf.getvalue()


def test_an_xlsx_zip_bomb_is_refused_without_a_500(admin, gateway_url, worker):
    tc = new_tenant(admin, gateway_url, credits=CREDITS)  # pro plan: the bomb fits its limit
    bomb = _zip_bomb()
    task_id = create(tc, agents=["unified-profiler"])["task_id"]
    r = upload(tc, task_id, bomb, "bomb.xlsx")
    if r.status_code == 413:
        _error(r, 413, "FILE_TOO_LARGE")
    else:
        assert r.status_code == 200, r.text
        r = tc.client.post(f"/v1/tasks/{task_id}/process")
        assert r.status_code == 202, r.text
        task = wait_for_task(tc.client, task_id)
        assert task["status"] == "FAILED", task
        assert task["error"]["code"] in ("FILE_TOO_LARGE", "INVALID_FILE")
        assert task["credits_charged"] == 0
    assert wallet(tc) == {"balance": CREDITS, "held": 0, "available": CREDITS}
    tc.close()


def test_a_file_over_the_plan_limit_is_413(victim):
    task_id = create(victim)["task_id"]
    big = csv_bytes(3_000)
    assert len(big) > TINY_LIMIT
    _error(upload(victim, task_id, big, "big.csv"), 413, "FILE_TOO_LARGE")


def test_a_traversal_filename_is_sanitised(victim):
    task_id = create(victim)["task_id"]
    r = upload(victim, task_id, b"a,b\n1,2\n", "../../etc/passwd")
    assert r.status_code == 200 and r.json()["filename"] == "passwd"
    r = victim.client.post(
        "/v1/tasks",
        json={"tool_id": "profile-my-data", "filenames": {"primary": "../../../root/.ssh/x"}},
    )
    assert r.status_code == 201
    assert "/inputs/primary/x?" in r.json()["uploads"]["primary"]["url"]


def test_a_json_body_of_10_mb_is_413(victim):
    body = b'{"tool_id": "profile-my-data", "parameters": {"x": "' + b"a" * 10_000_000 + b'"}}'
    r = victim.client.post("/v1/tasks", content=body, headers={"content-type": "application/json"})
    _error(r, 413, "PAYLOAD_TOO_LARGE")

    def chunked():
        for i in range(0, len(body), 65536):
            yield body[i : i + 65536]

    r = victim.client.post(
        "/v1/tasks", content=chunked(), headers={"content-type": "application/json"}
    )
    _error(r, 413, "PAYLOAD_TOO_LARGE")


def test_an_unknown_role_is_422(victim):
    task_id = create(victim)["task_id"]
    err = _error(upload(victim, task_id, b"a,b\n1,2\n", role="secrets"), 422, "UNKNOWN_ROLE")
    assert err["details"]["roles"] == ["primary", "baseline"]
    r = victim.client.post(
        "/v1/tasks", json={"tool_id": "profile-my-data", "filenames": {"secrets": "a.csv"}}
    )
    _error(r, 422, "UNKNOWN_ROLE")


def test_malformed_requests_are_4xx(victim):
    c = victim.client
    _error(
        c.post("/v1/tasks", content=b"{", headers={"content-type": "application/json"}),
        400,
        "INVALID_JSON",
    )
    _error(c.post("/v1/tasks", json=["profile-my-data"]), 422, "VALIDATION_ERROR")
    _error(
        c.post("/v1/tasks", json={"tool_id": "profile-my-data", "colour": 1}),
        422,
        "VALIDATION_ERROR",
    )
    _error(
        c.post("/v1/tasks", json={"tool_id": "profile-my-data", "sheet": "a\x00b"}),
        422,
        "VALIDATION_ERROR",
    )
    _error(
        c.post(
            "/v1/tasks",
            json={"tool_id": "profile-my-data", "callback_url": "https://x.example/" + "a" * 3000},
        ),
        422,
        "VALIDATION_ERROR",
    )
    # NUL in a path or query string never reaches an endpoint (gateway/hygiene.py).
    _error(c.get("/v1/tasks/%00"), 422, "INVALID_CHARACTERS")
    _error(c.get("/v1/tasks", params={"tool_id": "a\x00"}), 422, "INVALID_CHARACTERS")
