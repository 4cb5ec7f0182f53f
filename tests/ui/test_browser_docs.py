"""``/docs`` in a real browser with every other origin blocked: Swagger UI renders the API
from the gateway's own files, and the page never tries to reach anywhere else."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Browser, Route, expect

from tests.support import Gateway
from tests.ui.browser import UI_TIMEOUT_MS, shot


def test_docs_render_offline(browser: Browser, console: Gateway) -> None:
    origin = urlsplit(console.url)
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(UI_TIMEOUT_MS)
    elsewhere: list[str] = []
    problems: list[str] = []

    def guard(route: Route) -> None:
        url = urlsplit(route.request.url)
        if (url.scheme, url.netloc) == (origin.scheme, origin.netloc) or url.scheme == "data":
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    try:
        page.goto(f"{console.url}/docs")
        operations = page.locator(".opblock-summary-path")
        expect(operations.filter(has_text="/v1/videos").first).to_be_visible()
        expect(page.locator(".information-container .title")).to_contain_text("vidgate")
        assert operations.count() >= 50
        shot(page, "docs")
        assert elsewhere == [], elsewhere
        assert problems == [], problems  # CSP violations are logged as console errors
    finally:
        context.close()
