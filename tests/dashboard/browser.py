"""Headless Chromium for the dashboard tests: Debian's chromium and chromium-driver, installed
with apt-get the first time they are missing (once per machine, under a lock)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
)


def _installed() -> bool:
    return os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)


def ensure_chromium() -> None:
    if _installed():
        return
    with open("/tmp/agensium-chromium-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed():
            return
        apt = shutil.which("apt-get")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        ok = apt is not None and all(
            subprocess.run(cmd, env=env, capture_output=True, timeout=900).returncode == 0
            for cmd in ([apt, "update"], [apt, "install", "-y", "chromium", "chromium-driver"])
        )
        if not ok or not _installed():
            if os.environ.get("CI"):
                pytest.fail("could not install chromium and chromium-driver with apt-get")
            pytest.skip("chromium is not installed and apt-get could not install it")


@contextmanager
def chrome(profile_dir: Path, width: int = 1280, height: int = 1600) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.add_argument(f"--window-size={width},{height}")
    # Console messages and network events, for tests that check a page logs no error and
    # makes no request it should not (driver.get_log("browser" | "performance")).
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
