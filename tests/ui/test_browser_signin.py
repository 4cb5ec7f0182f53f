"""Signing in and out of the console in a real browser."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.support import Gateway
from tests.ui.browser import shot, signed_in


def test_sign_in_and_out(browser: Browser, console: Gateway) -> None:
    context = browser.new_context(base_url=console.url)
    page = context.new_page()
    page.goto("/")
    expect(page).to_have_url(f"{console.url}/ui/signin?next=/ui/jobs")
    page.fill("#key", "sk-vg-wrong")
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#signin-error")).to_contain_text("Incorrect API key")
    shot(page, "signin")
    context.close()
    with signed_in(browser, console.url, console.master_key) as page:
        cookie = next(c for c in page.context.cookies() if c["name"] == "vidgate_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert page.evaluate("document.cookie") == ""  # scripts cannot read the session
        page.click("form.signout button")
        expect(page).to_have_url(f"{console.url}/ui/signin")
        page.goto("/ui/jobs")
        expect(page).to_have_url(f"{console.url}/ui/signin?next=/ui/jobs")
