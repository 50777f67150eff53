"""GET /v1/tasks/{id}/report.html before the report exists, for another tenant, and the
dashboard pages' policies (strict everywhere; the task page allows only the report's style)."""

from __future__ import annotations

import httpx

from gateway.dashboard import REPORT_CSS_HASH


def test_report_html_is_409_until_it_exists_and_404_for_another_tenant(make_tenant, gateway_url):
    a = make_tenant(credits=100)
    b = make_tenant(credits=100)
    task_id = a.client.post("/v1/tasks", json={"tool_id": "profile-my-data"}).json()["task_id"]
    r = a.client.get(f"/v1/tasks/{task_id}/report.html")
    assert r.status_code == 409 and r.json()["error"]["code"] == "REPORT_NOT_READY"
    assert r.json()["error"]["details"]["status"] == "CREATED"
    r = b.client.get(f"/v1/tasks/{task_id}/report.html")
    assert r.status_code == 404
    token = httpx.post(
        f"{gateway_url}/v1/auth/session", headers={"Authorization": f"Bearer {a.api_key}"}
    ).json()["token"]
    r = httpx.get(
        f"{gateway_url}/v1/tasks/{task_id}/report.html",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 409  # a dashboard session reads it like the key
    # Never with the token in the URL: that is for the events stream only.
    r = httpx.get(f"{gateway_url}/v1/tasks/{task_id}/report.html", params={"token": token})
    assert r.status_code == 401


def test_every_dashboard_page_keeps_a_strict_policy(gateway_url):
    for path in ("/dashboard", "/dashboard/tasks", "/dashboard/ops", "/dashboard/tasks/x"):
        r = httpx.get(gateway_url + path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'" and "unsafe" not in csp
        style = directives["style-src"]
        if path == "/dashboard/tasks/x":
            assert style == f"'self' '{REPORT_CSS_HASH}'"
        else:
            assert style == "'self'"
