"""The playground and compare pages in a real browser: a live estimate, a video made, watched
to its end and played (seeking with Range requests), and two models compared side by side."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Response, expect

from tests.support import Gateway
from tests.ui.browser import shot, signed_in

PAID = re.compile(r"^\$(?!0\.00)\d+\.\d{2}$")
TIME = re.compile(r"^\d+(\.\d)? m?s$")
VIDEO = "document.querySelector('video.player')"
PLAYING = f"() => {VIDEO} && {VIDEO}.currentTime > 0.2"
SEEK = f"const v = {VIDEO}; v.pause(); v.currentTime = v.duration - 0.3"
SEEKED = f"() => {VIDEO}.currentTime > {VIDEO}.duration - 0.5"


def test_playground_estimates_creates_and_plays(browser: Browser, console: Gateway) -> None:
    with signed_in(browser, console.url, console.master_key) as page:
        ranged: list[tuple[str, int, str]] = []

        def note(response: Response) -> None:
            if "/content" in response.url and "variant" not in response.url:
                range_ = response.request.headers.get("range", "")
                ranged.append((range_, response.status, response.headers.get("content-range", "")))

        page.on("response", note)
        page.goto("/ui/playground")
        page.select_option("#f-model", "sora")
        page.select_option("#f-seconds", "4")
        page.select_option("#f-size", "1280x720")
        expect(page.locator("#estimate-cost")).to_have_text("$0.40")
        expect(page.locator("#estimate-admitted")).to_be_visible()

        page.select_option("#f-model", "local/preview")
        expect(page.locator("#estimate-cost")).to_have_text("$0.00")
        page.select_option("#f-seconds", "2")
        page.select_option("#f-size", "320x180")
        page.fill("#f-prompt", "a lighthouse at dusk, waves rolling in")
        expect(page.locator("#estimate[data-state=ready]")).to_be_visible()
        page.click("#create")
        expect(page.locator("#result[data-status=completed]")).to_be_visible()
        expect(page.locator("#result-cost")).to_have_text("$0.00")
        expect(page.locator("#job-link")).to_have_attribute(
            "href", "/ui/jobs/" + page.locator("#job-link").inner_text()
        )

        player = page.locator("video.player")
        page.evaluate(f"const v = {VIDEO}; v.muted = true; v.play()")
        page.wait_for_function(PLAYING)
        page.evaluate(SEEK)
        page.wait_for_function(SEEKED)
        # The media element reads the MP4 with Range requests (answered 206), which is what
        # lets it seek without downloading the whole file first.
        assert any(r.startswith("bytes=") and status == 206 and cr for r, status, cr in ranged), (
            ranged
        )
        expect(player).to_be_visible()
        shot(page, "playground")


def test_compare_two_models(browser: Browser, console: Gateway) -> None:
    with signed_in(browser, console.url, console.master_key) as page:
        page.goto("/ui/compare")
        for box in page.locator("input[data-model]").all():
            box.set_checked(box.get_attribute("data-model") in ("local/preview", "sora"))
        expect(page.locator("#plan")).to_contain_text("local/preview")
        page.fill("#compare-prompt", "a paper boat on a rainy street")
        page.click("#compare")
        for model, cost in (("local/preview", re.compile(r"^\$0\.00$")), ("sora", PAID)):
            column = page.locator(f".column[data-model='{model}']")
            expect(column).to_have_attribute("data-status", "completed")
            expect(column.locator("video.player")).to_be_visible()
            expect(column.locator("[data-stat=cost]")).to_have_text(cost)
            expect(column.locator("[data-stat=time]")).to_have_text(TIME)
        page.evaluate(f"const v = {VIDEO}; v.muted = true; v.play()")
        page.wait_for_function(PLAYING)
        shot(page, "compare")
