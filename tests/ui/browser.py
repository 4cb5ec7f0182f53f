"""Headless Chromium for the console's browser tests, driven by Playwright.

The browser is Debian's ``chromium`` (``/usr/bin/chromium``), installed with ``apt-get`` the
first time a test needs it, never a browser Playwright downloads (this machine reaches only
package registries). It runs with no sandbox (CI runs as root), no GPU and none of Chromium's
background connections, in a new profile per test. Screenshots of every page go to
``artifacts/console/`` (``VIDGATE_ARTIFACTS`` moves it), kept after the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect, sync_playwright

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("VIDGATE_ARTIFACTS", REPO / "artifacts")) / "console"
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--autoplay-policy=no-user-gesture-required",
]
UI_TIMEOUT_MS = 60_000
"""How long a page may take to show what a test waits for, on a busy two-core machine."""


def ensure_chromium() -> str:
    """The path of Debian's Chromium, installing the package when it is missing."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError("The console tests need Chromium: apt-get install -y chromium")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "chromium"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, capture_output=True)
        subprocess.run(install, env=env, check=True, capture_output=True)
    return CHROMIUM


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=ensure_chromium(), args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def shot(page: Page, name: str) -> Path:
    """A full-page screenshot, ``artifacts/console/<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@contextmanager
def signed_in(browser: Browser, base_url: str, key: str, **options: Any) -> Iterator[Page]:
    """A new browser profile signed in to the console with ``key`` through the form; it fails
    the test on any script error or console error the page logs."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1360, "height": 900})
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            errors.append(f"console: {message.text}")
            if message.type == "error" and "status of 4" not in message.text
            else None
        ),
    )
    try:
        page.goto("/ui/signin")
        page.fill("#key", key)
        page.click("#signin-form button[type=submit]")
        expect(page).to_have_url(f"{base_url}/ui/jobs")
        yield page
        assert not errors, errors
    finally:
        context.close()
