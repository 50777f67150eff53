"""The dashboard in a real headless Chromium against the real gateway, worker, database and
S3: the numbers on the page are the API's, a running task turns COMPLETED without a reload, and
a second tenant signing in on the same browser never sees the first tenant's data."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import all_queues_worker_with, submit, wait_for_task
from tests.dashboard.browser import chrome
from tests.platform import ROOT


@pytest.fixture(scope="module")
def worker(platform):  # type: ignore[no-untyped-def]
    """test-coverage-agent pauses 3 s, so a running task stays PROCESSING long enough for the
    page to show it before it completes."""
    yield from all_queues_worker_with(platform, "sleep:test-coverage-agent:3")


pytestmark = pytest.mark.browser

SAMPLE = (ROOT / "core" / "samples" / "customers.csv").read_bytes()
ARTIFACTS = ROOT / "var" / "test-artifacts"
TOOLS = ("profile-my-data", "clean-my-data", "master-my-data")
#: A few agents per tool keep the test short on a shared two-core machine.
AGENTS = {
    "profile-my-data": ("unified-profiler", "score-risk"),
    "clean-my-data": ("type-fixer", "null-handler"),
    "master-my-data": ("key-identifier", "golden-record-builder"),
}


def bigger_sample(times: int) -> bytes:
    """The sample repeated with fresh ids: slow enough to watch it run."""
    header, *rows = SAMPLE.decode().strip().splitlines()
    out = [header]
    for n in range(times):
        for row in rows:
            rid, rest = row.split(",", 1)
            out.append(f"{n * 100_000 + int(rid)},{rest}")
    return ("\n".join(out) + "\n").encode()


def wait_js(driver: Any, script: str, timeout: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = driver.execute_script(script)
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what or script} (last: {last!r})")


def sign_in(driver: Any, base: str, key: str, path: str = "/dashboard") -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(base + path)
    field = driver.find_element(By.ID, "api-key")
    # Keyboard only: the field has focus on load and Enter submits.
    assert driver.switch_to.active_element == field
    field.send_keys(key, Keys.ENTER)
    wait_js(
        driver,
        "return document.getElementById('app').dataset.loaded === 'true'",
        30,
        "the dashboard to load",
    )


def text_int(driver: Any, element_id: str) -> int:
    return int(
        driver.execute_script(
            f"return document.getElementById('{element_id}').textContent"
        ).replace(",", "")
    )


def data_value(driver: Any, element_id: str) -> str:
    return driver.execute_script(f"return document.getElementById('{element_id}').dataset.value")


def table(driver: Any, table_id: str) -> dict[str, list[str]]:
    """Rows in page order, keyed by their data-key: the visible texts of the cells."""
    pairs = driver.execute_script(
        """return [...document.querySelectorAll(`#${arguments[0]} tbody tr[data-key]`)]
          .map((tr) => [tr.dataset.key, [...tr.children].map((c) => c.textContent)]);""",
        table_id,
    )
    return {key: cells for key, cells in pairs}


def check_page_matches_api(driver: Any, client: Any) -> dict[str, Any]:
    wallet = client.get("/v1/billing/wallet").json()
    assert text_int(driver, "wallet-balance") == wallet["balance"]
    assert text_int(driver, "wallet-held") == wallet["held"]
    assert text_int(driver, "wallet-available") == wallet["available"]

    window = driver.execute_script(
        "const d = document.getElementById('totals').dataset; return [d.from, d.to];"
    )
    params = {"from": window[0], "to": window[1]}
    by = {
        g: client.get("/v1/usage", params={**params, "group_by": g}).json()
        for g in ("day", "tool", "agent")
    }
    totals = by["day"]["totals"]
    assert text_int(driver, "total-credits") == totals["credits"]
    assert text_int(driver, "total-tasks") == totals["tasks_total"]
    assert text_int(driver, "total-completed") == totals["tasks"]["COMPLETED"]
    assert text_int(driver, "total-failed") == totals["tasks"]["FAILED"]
    assert text_int(driver, "total-rows") == totals["rows_processed"]
    assert int(data_value(driver, "total-bytes")) == totals["bytes_processed"]
    assert float(data_value(driver, "total-p95")) == totals["duration_ms_p95"]

    bars = driver.execute_script(
        "return [...document.querySelectorAll('#chart rect.bar')]"
        ".map((b) => [b.dataset.day, Number(b.dataset.credits)]);"
    )
    assert bars == [[g["key"], g["credits"]] for g in by["day"]["groups"]]
    for table_id, group_by in (("by-tool", "tool"), ("by-agent", "agent")):
        rows = table(driver, table_id)
        groups = by[group_by]["groups"]
        assert list(rows) == [g["key"] for g in groups], (rows, groups, params)
        for g in groups:
            cells = rows[g["key"]]
            assert int(cells[1].replace(",", "")) == g["credits"], (table_id, g)
            assert int(cells[2].replace(",", "")) == g["tasks_total"], (table_id, g)
            assert int(cells[5].replace(",", "")) == g["rows_processed"], (table_id, g)
    return by


def test_dashboard_shows_the_apis_numbers_live_status_and_only_your_data(
    make_tenant, worker, gateway_url, tmp_path: Path
):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    a = make_tenant(credits=5_000, name="Acme Dashboards")
    b = make_tenant(credits=777, name="Beta Other")
    ran_a = [
        submit(a, tool, {"primary": ("customers.csv", SAMPLE)}, agents=list(agents))
        for tool, agents in AGENTS.items()
    ]
    ran_b = [
        submit(b, "profile-my-data", {"primary": ("b.csv", SAMPLE)}, agents=["unified-profiler"])
    ]
    for tc, ids in ((a, ran_a), (b, ran_b)):
        for task_id in ids:
            assert wait_for_task(tc.client, task_id, timeout=180)["status"] in (
                "COMPLETED",
                "COMPLETED_WITH_ERRORS",
            )

    with chrome(tmp_path / "profile") as driver:
        sign_in(driver, gateway_url, a.api_key)
        # The key is nowhere in the page or its storage; only a session token is.
        stored = driver.execute_script(
            "return JSON.stringify(Object.assign({}, sessionStorage, localStorage))"
        )
        assert a.api_key not in stored and "ags." in stored
        assert a.api_key not in driver.page_source
        assert (
            driver.execute_script("return document.getElementById('tenant-name').textContent")
            == "Acme Dashboards"
        )

        by = check_page_matches_api(driver, a.client)
        assert {g["key"] for g in by["tool"]["groups"]} >= set(TOOLS)
        assert by["day"]["totals"]["tasks_total"] == 3
        shown = driver.execute_script(
            "return [...document.querySelectorAll('#tasks tr[data-task-id]')]"
            ".map((r) => r.dataset.taskId)"
        )
        assert set(ran_a) <= set(shown)

        # A task that has not started yet: the page picks it up, then follows it to COMPLETED.
        live = submit(
            a,
            "profile-my-data",
            {"primary": ("live.csv", bigger_sample(40))},
            agents=["unified-profiler", "score-risk", "test-coverage-agent", "readiness-rater"],
            process=False,
        )
        row = f"#tasks tr[data-task-id='{live}']"
        wait_js(
            driver,
            f"return document.querySelector(\"{row}\")?.dataset.status === 'CREATED'",
            20,
            "the new task to appear",
        )
        driver.execute_script(
            """window.__sameDocument = true; window.__seen = [];
            const cell = document.querySelector(arguments[0] + ' .task-status');
            new MutationObserver(() => window.__seen.push(cell.textContent))
              .observe(cell, {childList: true, characterData: true, subtree: true});""",
            row,
        )
        assert a.client.post(f"/v1/tasks/{live}/process").status_code == 202
        wait_js(
            driver,
            f"return document.querySelector(\"{row}\").dataset.status === 'COMPLETED'",
            120,
            "the live task to complete",
        )
        seen = driver.execute_script("return window.__sameDocument && window.__seen")
        # The browser records a stream's resource entry when the stream ends, which can be a
        # moment after the page already shows the final status: wait for it.
        wait_js(
            driver,
            "return performance.getEntriesByType('resource').map((e) => e.name)"
            f".some((n) => n.includes('{live}/events?token=ags.'))",
            30,
            "the page to have followed the task over its SSE stream",
        )
        assert seen and seen[-1] == "COMPLETED" and {"QUEUED", "PROCESSING"} & set(seen), seen
        # After it ended the page refreshed its numbers by itself: still the API's.
        wallet = a.client.get("/v1/billing/wallet").json()
        wait_js(
            driver,
            "return document.getElementById('wallet-balance').textContent"
            f" === '{wallet['balance']:,}'",
            15,
            "the wallet to refresh",
        )
        wait_js(
            driver,
            "return document.getElementById('total-tasks').textContent === '4'",
            15,
            "the totals to refresh",
        )
        check_page_matches_api(driver, a.client)
        driver.save_screenshot(str(ARTIFACTS / "dashboard-tenant.png"))

        # Phone width: no sideways scrolling of the page; wide tables scroll in their box.
        driver.set_window_size(390, 1800)
        time.sleep(0.5)
        assert driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1"
        )
        driver.save_screenshot(str(ARTIFACTS / "dashboard-phone.png"))
        driver.set_window_size(1280, 1600)

        # Every form control has a label; the top-up button answers with a message.
        assert driver.execute_script(
            "return [...document.querySelectorAll('input, select')].every((e) => e.labels.length)"
        )
        driver.execute_script("document.getElementById('topup').click()")
        message = wait_js(
            driver,
            "const m = document.getElementById('topup-message').textContent;"
            " return m && !m.startsWith('Starting') ? m : (location.pathname !== '/dashboard'"
            " ? location.href : '')",
            20,
            "the top-up to answer",
        )
        assert message

        # Same browser, the other tenant: none of A's data, ever.
        driver.get(gateway_url + "/dashboard")
        if driver.execute_script("return !document.getElementById('app').hidden"):
            driver.find_element("id", "sign-out").click()
            wait_js(driver, "return !document.getElementById('signin').hidden", 10, "sign-out")
        assert "ags." not in driver.execute_script("return JSON.stringify(sessionStorage)")
        sign_in(driver, gateway_url, b.api_key)
        check_page_matches_api(driver, b.client)
        assert (
            text_int(driver, "wallet-balance")
            == b.client.get("/v1/billing/wallet").json()["balance"]
        )
        time.sleep(4.5)  # one more round of the task poll
        html = driver.page_source
        for secret in [
            *ran_a,
            live,
            a.tenant_id,
            "Acme Dashboards",
            "clean-my-data",
            "master-my-data",
            a.api_key,
        ]:
            assert secret not in html, secret
        assert ran_b[0] in html and "Beta Other" in html
        driver.save_screenshot(str(ARTIFACTS / "dashboard-second-tenant.png"))


def test_ops_page_shows_each_tool_queue_with_its_workers_and_failures(
    platform, admin, worker, gateway_url, make_tenant, tmp_path: Path
):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tc = make_tenant(credits=100)
    bad = submit(tc, "clean-my-data", {"primary": ("ragged.csv", b"a,b\n1,2\n3\n")})
    assert wait_for_task(tc.client, bad)["status"] == "FAILED"
    with chrome(tmp_path / "ops") as driver:
        sign_in(driver, gateway_url, platform.admin_key, "/dashboard/ops")
        queues = admin.get("/v1/admin/queues").json()
        since = driver.execute_script("return new Date(Date.now() - 86400000).toISOString()")
        usage = admin.get("/v1/admin/usage", params={"group_by": "tool", "from": since}).json()
        ended = {g["key"]: g for g in usage["groups"]}
        pairs = driver.execute_script(
            """return [...document.querySelectorAll('#queues tbody tr')]
              .map((tr) => [tr.dataset.tool, [...tr.children].map((c) => c.textContent)]);"""
        )
        rows = {tool: cells for tool, cells in pairs}
        assert set(rows) == set(TOOLS)
        for q in queues["queues"]:
            if q["tool_id"] is None:
                continue
            cells = rows[q["tool_id"]]
            assert q["workers"], q  # the session's worker consumes every tool queue
            assert cells[1] == f"{q['depth']:,}" and cells[2] == f"{q['active']:,}"
            assert cells[3] == ", ".join(q["workers"])
            g = ended.get(q["tool_id"])
            assert cells[4] == str(g["tasks_total"] if g else 0)
            assert cells[5] == str(g["tasks"]["FAILED"] if g else 0)
        clean = ended["clean-my-data"]
        rate = clean["tasks"]["FAILED"] / clean["tasks_total"]
        assert rate > 0 and rows["clean-my-data"][6] == f"{rate * 100:.1f}%"
        driver.save_screenshot(str(ARTIFACTS / "dashboard-ops.png"))

        # A tenant key is refused on the operator page, with a message.
        driver.find_element("id", "sign-out").click()
        wait_js(driver, "return !document.getElementById('signin').hidden", 10, "sign-out")
        driver.find_element("id", "api-key").send_keys(tc.api_key + "\n")
        wait_js(
            driver, "return document.getElementById('signin-error').textContent", 10, "the refusal"
        )
        assert driver.execute_script("return document.getElementById('app').hidden")
