"""Reports and task pages in a real headless Chromium against the real gateway, worker, database
and S3.

- For one task of each tool, report.html renders with no console error and no request beyond its
  own document, and its charts carry the report's numbers (three figures per tool); inside the
  dashboard it sits in a sandboxed frame that cannot reach the page or the network.
- A whole analysis from the dashboard: sign in, pick a tool, agents and a parameter, upload a
  CSV (progress bar), run, watch progress reach 100, open the report, download an output, and
  see the wallet and usage move by exactly the credits charged.

Screenshots of every report and page are saved under var/test-artifacts/ for a person to check.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from tests.conftest import all_queues_worker_with, submit, wait_for_task
from tests.dashboard.browser import chrome
from tests.dashboard.test_dashboard_browser import sign_in, text_int, wait_js
from tests.platform import ROOT
from tests.transformers.report.local_run import SAMPLE, baseline_csv, messy_csv

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "var" / "test-artifacts"
FINISHED = ("COMPLETED", "COMPLETED_WITH_ERRORS")


@pytest.fixture(scope="module")
def worker(platform):  # type: ignore[no-untyped-def]
    """score-risk pauses 2 s, so the task page sees a profile mid-run before it reaches 100."""
    yield from all_queues_worker_with(platform, "sleep:score-risk:2")


def requests_made(driver: Any) -> list[str]:
    """URLs of every request since the last call (Chromium's performance log), but the
    browser's own chrome:// pages (its start page), which no web page can load."""
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            url = msg["params"]["request"]["url"]
            if not url.startswith("chrome://"):
                urls.append(url)
    return urls


def console_errors(driver: Any) -> list[dict[str, Any]]:
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def full_page_screenshot(driver: Any, path: Path, width: int = 1280) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height + 40, 800), 8000))
    time.sleep(0.3)
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 1600)


def chart_values(driver: Any, chart_id: str) -> dict[str, float]:
    """label -> value of a chart's marks, read from the rendered SVG."""
    pairs = driver.execute_script(
        """const svg = document.getElementById(arguments[0]);
        if (!svg || svg.namespaceURI !== 'http://www.w3.org/2000/svg') return null;
        return [...svg.querySelectorAll('rect.bar[data-label]')]
          .filter((r) => !r.classList.contains('overlay'))
          .map((r) => [r.dataset.label, Number(r.dataset.value)]);""",
        chart_id,
    )
    assert pairs is not None, f"no SVG chart {chart_id}"
    return {label: value for label, value in pairs}


def _agent(report: dict[str, Any], agent_id: str) -> dict[str, Any]:
    return next(a for a in report["agents"] if a["agent_id"] == agent_id)["data"]


def check_profile(driver: Any, report: dict[str, Any]) -> None:
    columns = _agent(report, "unified-profiler")["columns"]
    assert chart_values(driver, "missing-by-column") == {
        n: float(c["missing_count"]) for n, c in columns.items()
    }
    by_sev = report["executive_summary"]["alerts_by_severity"]
    assert chart_values(driver, "alerts-by-severity") == {
        s: float(by_sev[s]) for s in ("critical", "high", "medium", "low", "info")
    }
    hist = report["figures"]["histograms"]["age"]
    drawn = chart_values(driver, "hist-age")
    assert list(drawn.values()) == [float(c) for c in hist["counts"]]
    assert sum(drawn.values()) == columns["age"]["count"]
    # The drift overlay: baseline and current counts over the detector's bins.
    overlay = driver.execute_script(
        "return [...document.querySelectorAll('#drift-age rect.bar[data-overlay]')]"
        ".map((r) => Number(r.dataset.overlay))"
    )
    assert overlay == [float(c) for c in report["figures"]["drift"]["age"]["baseline"]]


def check_clean(driver: Any, report: dict[str, Any]) -> None:
    wb = _agent(report, "cleanse-writeback")
    rows = chart_values(driver, "row-arithmetic")
    assert rows["in"] == wb["rows_in"] and rows["out"] == wb["rows_out"]
    assert rows["quarantined"] == wb["rows_quarantined"]
    assert rows["removed (duplicates)"] == wb["rows_removed_duplicates"] > 0
    assert chart_values(driver, "changes-by-rule") == {
        f"{r['agent_id']} · {r['rule']}": float(r["count"])
        for r in report["change_summary"]["by_agent_rule"]
    }
    ba = {b["column"]: b for b in report["figures"]["before_after"]}
    missing = chart_values(driver, "missing-before-after")
    assert missing == {c: float((b["after"] or {}).get("missing", 0)) for c, b in ba.items()}


def check_master(driver: Any, report: dict[str, Any]) -> None:
    sizes = report["figures"]["cluster_sizes"]
    assert chart_values(driver, "cluster-sizes") == {
        f"{s['size']} rows": float(s["clusters"]) for s in sizes
    }
    gb = _agent(report, "golden-record-builder")
    assert list(chart_values(driver, "match-scores").values()) == [
        float(h["pairs"]) for h in gb["score_histogram"]
    ]
    marker = driver.execute_script(
        "return Number(document.querySelector('#match-scores line.marker').dataset.value)"
    )
    assert marker == pytest.approx(gb["match_threshold"], abs=1e-6)
    assert driver.execute_script("return document.querySelectorAll('td.survivor').length") > 0


CHECKS = {
    "profile-my-data": check_profile,
    "clean-my-data": check_clean,
    "master-my-data": check_master,
}


def test_each_tools_report_renders_with_its_numbers_and_reaches_nothing(
    make_tenant, worker, gateway_url, tmp_path: Path
):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tc = make_tenant(credits=20_000, name="Report Viewer")
    messy = messy_csv()
    tasks = {
        "profile-my-data": submit(
            tc,
            "profile-my-data",
            {
                "primary": ("customers.csv", SAMPLE.read_bytes()),
                "baseline": ("old.csv", baseline_csv()),
            },
        ),
        "clean-my-data": submit(tc, "clean-my-data", {"primary": ("messy.csv", messy)}),
        "master-my-data": submit(tc, "master-my-data", {"primary": ("messy.csv", messy)}),
    }
    for task_id in tasks.values():
        assert wait_for_task(tc.client, task_id, timeout=300)["status"] in FINISHED

    with chrome(tmp_path / "profile") as driver:
        for tool, task_id in tasks.items():
            report = tc.client.get(f"/v1/tasks/{task_id}/report").json()
            r = tc.client.get(f"/v1/tasks/{task_id}/report.html")
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
            csp = r.headers["content-security-policy"]
            assert "default-src 'none'" in csp and "sandbox" in csp and "script-src" not in csp
            assert len(r.content) < 2 * 1024 * 1024
            page = tmp_path / f"{tool}.html"
            page.write_bytes(r.content)

            # Opened as a file, as a person who downloaded it would: no request but itself.
            driver.get("about:blank")
            requests_made(driver)
            console_errors(driver)
            driver.get(page.as_uri())
            wait_js(driver, "return document.readyState === 'complete'", 20, "the report")
            assert requests_made(driver) == [page.as_uri()]
            assert console_errors(driver) == []
            assert (
                driver.execute_script("return document.querySelectorAll('svg.chart').length") >= 3
            )
            CHECKS[tool](driver, report)
            # For the person looking: one page of each kind opened.
            driver.execute_script(
                "for (const sel of ['#col-age', '#drift-age', 'details[id^=cluster-]'])"
                " { const d = document.querySelector(sel); if (d) d.open = true; }"
            )
            full_page_screenshot(driver, ARTIFACTS / f"report-{tool}.png")

        # Inside the dashboard: a sandboxed frame that reaches neither the page nor the network.
        sign_in(driver, gateway_url, tc.api_key)
        origin = urlparse(gateway_url)
        for tool, task_id in tasks.items():
            requests_made(driver)
            console_errors(driver)
            driver.get(f"{gateway_url}/dashboard/tasks/{task_id}")
            wait_js(
                driver,
                "return document.getElementById('report-frame').dataset.loaded === 'true'",
                30,
                "the report frame",
            )
            frame = driver.find_element("id", "report-frame")
            assert frame.get_attribute("sandbox") == ""
            assert driver.execute_script(
                "const f = document.getElementById('report-frame');"
                " try { return f.contentDocument === null; } catch (e) { return true; }"
            ), "the frame is an opaque origin: the page cannot read it, nor it the page"
            task = tc.client.get(f"/v1/tasks/{task_id}").json()
            assert text_int(driver, "task-charged") == task["credits_charged"] > 0
            assert driver.execute_script(
                "return [...document.querySelectorAll('#task-agents tbody tr')]"
                ".map((r) => r.dataset.agent)"
            ) == [a["agent_id"] for a in task["agents"]]
            wait_js(
                driver,
                "return document.getElementById('outputs').dataset.loaded === 'true'",
                20,
                "the download links",
            )
            links = driver.execute_script(
                "return [...document.querySelectorAll('#outputs a')].map((a) => a.textContent)"
            )
            assert "report.html" in links and "report.json" in links
            driver.switch_to.frame(frame)
            try:
                CHECKS[tool](driver, tc.client.get(f"/v1/tasks/{task_id}/report").json())
                # Styled: the report's stylesheet is allowed by its hash, nothing else is.
                assert (
                    driver.execute_script(
                        "return getComputedStyle(document.querySelector('header')).backgroundColor"
                    )
                    == "rgb(18, 38, 63)"
                )
            finally:
                driver.switch_to.default_content()
            made = requests_made(driver)
            assert made and all(
                urlparse(u).netloc == origin.netloc for u in made if not u.startswith("data:")
            ), made
            assert console_errors(driver) == []
            full_page_screenshot(driver, ARTIFACTS / f"dashboard-task-{tool}.png")

        driver.get(f"{gateway_url}/dashboard/tasks")
        wait_js(driver, "return document.getElementById('app').dataset.loaded === 'true'", 30)
        shown = driver.execute_script(
            "return [...document.querySelectorAll('#task-list tr[data-task-id]')]"
            ".map((r) => [r.dataset.taskId, r.dataset.status, r.dataset.progress])"
        )
        assert {t: (s, p) for t, s, p in shown} == {
            t: (tc.client.get(f"/v1/tasks/{t}").json()["status"], "100") for t in tasks.values()
        }
        assert console_errors(driver) == []
        full_page_screenshot(driver, ARTIFACTS / "dashboard-tasks.png")

        # Phone width: the pages do not scroll sideways; wide tables scroll in their box.
        for path, shot in (
            ("/dashboard/tasks", "dashboard-tasks-phone.png"),
            (f"/dashboard/tasks/{tasks['profile-my-data']}", "dashboard-task-phone.png"),
        ):
            driver.set_window_size(390, 1800)
            driver.get(gateway_url + path)
            wait_js(driver, "return document.getElementById('app').dataset.loaded === 'true'", 30)
            time.sleep(0.5)
            assert driver.execute_script(
                "return document.documentElement.scrollWidth <= window.innerWidth + 1"
            ), path
            assert driver.execute_script(
                "return [...document.querySelectorAll('input, select, textarea')]"
                ".every((e) => e.labels.length || e.getAttribute('aria-label'))"
            ), path
            driver.save_screenshot(str(ARTIFACTS / shot))
        driver.set_window_size(1280, 1600)


def test_a_whole_analysis_from_the_dashboard(make_tenant, worker, gateway_url, tmp_path: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tc = make_tenant(credits=5_000, name="Dashboard Analyst")
    data = tmp_path / "customers.csv"
    data.write_bytes(SAMPLE.read_bytes())
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    agents = ["unified-profiler", "score-risk", "readiness-rater"]

    with chrome(tmp_path / "profile") as driver:
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        sign_in(driver, gateway_url, tc.api_key)
        balance_before = text_int(driver, "wallet-balance")
        credits_before = text_int(driver, "total-credits")
        assert balance_before == 5_000

        # The form, built from GET /v1/tools.
        driver.find_element(By.LINK_TEXT, "Tasks").click()
        wait_js(driver, "return document.getElementById('app').dataset.loaded === 'true'", 30)
        Select(driver.find_element(By.ID, "tool")).select_by_value("profile-my-data")
        for box in driver.find_elements(By.CSS_SELECTOR, "#agent-list input[type=checkbox]"):
            if (box.get_attribute("value") in agents) != box.is_selected():
                box.click()
        tools = tc.client.get("/v1/tools/profile-my-data").json()
        prices = {a["agent_id"]: a["price"] for a in tools["agents"]}
        assert int(driver.find_element(By.ID, "price").get_attribute("data-value")) == sum(
            prices[a] for a in agents
        )
        driver.execute_script(
            "document.querySelector('details.params[data-agent=unified-profiler]').open = true"
        )
        top_n = driver.find_element(By.ID, "p-unified-profiler-top_n_values")
        top_n.clear()
        top_n.send_keys("3")
        driver.find_element(By.ID, "file-primary").send_keys(str(data))
        full_page_screenshot(driver, ARTIFACTS / "dashboard-new-analysis.png")
        # The upload bar's values, kept in sessionStorage across the move to the task page.
        driver.execute_script(
            """const bar = document.getElementById('upload-progress');
            new MutationObserver(() => sessionStorage.setItem('test.upload', JSON.stringify(
                [...JSON.parse(sessionStorage.getItem('test.upload') || '[]'), bar.value])))
              .observe(bar, {attributes: true, attributeFilter: ['value']});"""
        )
        driver.find_element(By.ID, "run").click()

        # The task page: follow it live to 100.
        wait_js(
            driver, "return location.pathname.startsWith('/dashboard/tasks/')", 60, "the task page"
        )
        task_id = driver.execute_script("return location.pathname.split('/').pop()")
        seen: list[tuple[str, str]] = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            state = driver.execute_script(
                "const p = document.getElementById('task-progress-text');"
                " return [document.getElementById('app').dataset.status || '',"
                " p.dataset.value || ''];"
            )
            if not seen or seen[-1] != tuple(state):
                seen.append(tuple(state))
            if state[0] in FINISHED:
                break
            time.sleep(0.1)
        assert seen[-1] == ("COMPLETED", "100"), seen
        assert any(s == "PROCESSING" and p and int(p) < 100 for s, p in seen), seen
        assert driver.execute_script("return document.getElementById('task-progress').value") == 100
        assert (
            driver.execute_script(
                "return performance.getEntriesByType('resource').map((e) => e.name)"
                ".filter((n) => n.includes('/events?token=ags.')).length"
            )
            > 0
        ), "progress came over the SSE stream"
        task = tc.client.get(f"/v1/tasks/{task_id}").json()
        assert [a["agent_id"] for a in task["agents"]] == agents
        report = tc.client.get(f"/v1/tasks/{task_id}/report").json()
        assert _agent(report, "unified-profiler")["parameters"]["top_n_values"] == 3
        uploaded = task["files"][0]
        assert uploaded["filename"] == "customers.csv" and uploaded["size"] == data.stat().st_size
        upload = driver.execute_script("return JSON.parse(sessionStorage.getItem('test.upload'))")
        assert upload and upload[-1] == 100 and upload == sorted(upload), upload

        # The report, in its frame.
        wait_js(
            driver,
            "return document.getElementById('report-frame').dataset.loaded === 'true'",
            30,
            "the report",
        )
        driver.switch_to.frame(driver.find_element(By.ID, "report-frame"))
        try:
            columns = _agent(report, "unified-profiler")["columns"]
            assert chart_values(driver, "missing-by-column") == {
                n: float(c["missing_count"]) for n, c in columns.items()
            }
        finally:
            driver.switch_to.default_content()
        charged = task["credits_charged"]
        assert charged == sum(prices[a] for a in agents)
        assert text_int(driver, "task-charged") == charged
        full_page_screenshot(driver, ARTIFACTS / "dashboard-task-run.png")

        # Download an output through its link.
        wait_js(driver, "return document.getElementById('outputs').dataset.loaded === 'true'", 20)
        driver.find_element(By.LINK_TEXT, "report.json").click()
        target = downloads / "report.json"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            target.exists() and not list(downloads.glob("*.crdownload"))
        ):
            time.sleep(0.2)
        assert target.exists(), list(downloads.iterdir())
        assert json.loads(target.read_text(encoding="utf-8")) == report

        # Wallet and usage moved by exactly what was charged.
        driver.find_element(By.LINK_TEXT, "Usage").click()
        wait_js(driver, "return document.getElementById('app').dataset.loaded === 'true'", 30)
        wallet = httpx.get(
            f"{gateway_url}/v1/billing/wallet", headers={"Authorization": f"Bearer {tc.api_key}"}
        ).json()
        assert text_int(driver, "wallet-balance") == balance_before - charged == wallet["balance"]
        assert text_int(driver, "total-credits") == credits_before + charged
        full_page_screenshot(driver, ARTIFACTS / "dashboard-usage-after-run.png")
