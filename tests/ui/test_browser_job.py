"""The job page in a real browser: the video and its assets, the routing attempts, the
upstream id for the master key only, remix and delete."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.support import Gateway, wait_for
from tests.ui.browser import shot, signed_in

VIDEO = "document.querySelector('video.player')"
PLAYING = f"() => {VIDEO} && {VIDEO}.currentTime > 0.2"


def _made(http: httpx.Client, **body: Any) -> str:
    response = http.post("/v1/videos", json={"prompt": "a kite over a hill", **body})
    assert response.status_code == 200, response.text
    video_id = str(response.json()["id"])
    wait_for(lambda: http.get(f"/v1/videos/{video_id}").json()["status"] == "completed")
    return video_id


def _images_shown(page: Page) -> None:
    """Until the thumbnail and the spritesheet have loaded (made on the first request)."""
    for image in ("#thumbnail", "#spritesheet"):
        page.wait_for_function(
            f"() => {{ const i = document.querySelector('{image}'); "
            "return i !== null && i.complete && i.naturalWidth > 0; }"  # made by the page's JS
        )


def test_job_page_as_master(browser: Browser, console: Gateway) -> None:
    with console.http() as http:
        video_id = _made(http, model="sora", seconds="4", size="1280x720")
        upstream_id = http.get(f"/jobs/{video_id}").json()["upstream_id"]
    assert upstream_id
    with signed_in(browser, console.url, console.master_key) as page:
        page.goto(f"/ui/jobs/{video_id}")
        expect(page.locator("#facts [data-status=completed]")).to_be_visible()
        expect(page.locator("#upstream-id")).to_have_text(upstream_id)
        expect(page.locator("#attempts tbody tr")).to_have_count(1)
        expect(page.locator("#attempts tbody tr")).to_contain_text("accepted")
        expect(page.locator("#cost")).to_have_text("$0.40")
        expect(page.locator("#settlement")).to_contain_text("$0.40 charged")
        expect(page.locator("#request")).to_contain_text('"prompt": "a kite over a hill"')
        expect(page.locator("#download")).to_have_attribute("download", f"{video_id}.mp4")
        _images_shown(page)
        page.evaluate(f"const v = {VIDEO}; v.muted = true; v.play()")
        page.wait_for_function(PLAYING)
        page.evaluate(f"{VIDEO}.pause()")
        shot(page, "job")


def test_job_page_as_virtual_key_remix_and_delete(browser: Browser, console: Gateway) -> None:
    key = console.new_key(alias="job-page")
    with console.http(key) as http:
        video_id = _made(http, model="local/preview", seconds="2", size="320x180")
    with signed_in(browser, console.url, key) as page:
        page.goto(f"/ui/jobs/{video_id}")
        expect(page.locator("#facts [data-status=completed]")).to_be_visible()
        expect(page.locator("#attempts tbody tr")).to_have_count(1)
        expect(page.locator("#request")).to_contain_text("320x180")
        expect(page.locator("#upstream-id")).to_have_count(0)
        expect(page.locator("#facts")).not_to_contain_text("Upstream")
        _images_shown(page)

        if page.locator("#remix-form").count():
            page.fill("#remix-prompt", "the same kite at night")
            page.click("#remix-form button[type=submit]")
            expect(page).not_to_have_url(f"{console.url}/ui/jobs/{video_id}")
            expect(page.locator("#facts")).to_contain_text(video_id)  # remixed from
            page.goto(f"/ui/jobs/{video_id}")
            _images_shown(page)  # deleted once seen: not while its previews are being made

        page.on("dialog", lambda dialog: dialog.accept())
        page.click("#delete")
        expect(page).to_have_url(f"{console.url}/ui/jobs")
    with console.http(key) as http:
        assert http.get(f"/v1/videos/{video_id}").status_code == 404
