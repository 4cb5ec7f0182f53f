"""The Jobs page in a real browser: a live list (no reload), filters, search, escaping."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.support import Gateway, post_video
from tests.ui.browser import shot, signed_in

BODY = {"model": "local/preview", "size": "320x180", "seconds": "2"}
THUMB_LOADED = """id => {
  const img = document.querySelector(`tr[data-id="${id}"] img.thumb`);
  return img !== null && img.complete && img.naturalWidth > 0;
}"""
EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def create(console: Gateway, key: str | None = None, **body: str) -> str:
    with console.http(key) as http:
        made = post_video(http, **{**BODY, **body})
    assert made.status_code == 200, made.text
    return str(made.json()["id"])


def row(page: Page, video_id: str):  # type: ignore[no-untyped-def]
    return page.locator(f'#jobs-table tbody tr[data-id="{video_id}"]')


def test_a_new_job_appears_and_completes_without_reloading(
    browser: Browser, console: Gateway
) -> None:
    with signed_in(browser, console.url, console.master_key) as page:
        expect(page.locator("#live-state")).to_have_text("● live")
        page.evaluate("window.__sameDocument = true")
        video_id = create(console, prompt="a lighthouse in the fog")
        expect(row(page, video_id)).to_be_visible()
        expect(row(page, video_id)).to_have_attribute("data-status", "completed")
        expect(row(page, video_id).locator("img.thumb")).to_be_visible()
        page.wait_for_function(THUMB_LOADED, arg=video_id)
        assert page.evaluate("window.__sameDocument") is True  # the page never reloaded
        expect(row(page, video_id)).to_contain_text("a lighthouse in the fog")
        expect(row(page, video_id)).to_contain_text("local")


def test_filters_and_search(browser: Browser, console: Gateway) -> None:
    harbour = create(console, prompt="harbour at dawn", user="ann")
    desert = create(console, prompt="desert road", user="bob")
    with signed_in(browser, console.url, console.master_key) as page:
        expect(row(page, desert)).to_be_visible()
        page.fill("#filters input[name=q]", "HARBOUR")
        page.click("#filters button[type=submit]")
        expect(row(page, harbour)).to_be_visible()
        expect(row(page, desert)).to_have_count(0)
        assert "q=HARBOUR" in page.url  # a filtered view is a link
        page.click("#clear-filters")
        expect(row(page, desert)).to_be_visible()
        expect(row(page, harbour)).to_have_attribute("data-status", "completed")
        page.wait_for_function(THUMB_LOADED, arg=harbour)
        shot(page, "jobs")
        page.fill("#filters input[name=user]", "bob")
        page.select_option("#filters select[name=status]", "failed")
        page.click("#filters button[type=submit]")
        expect(page.locator("#empty")).to_be_visible()
        page.select_option("#filters select[name=status]", "")
        page.click("#filters button[type=submit]")
        expect(row(page, desert)).to_be_visible()
        expect(row(page, harbour)).to_have_count(0)


def test_a_virtual_key_sees_only_its_own_jobs(browser: Browser, console: Gateway) -> None:
    key = console.new_key(alias="jobs-only-mine")
    theirs = create(console, prompt="the master's job")
    mine = create(console, key, prompt="my own job")
    with signed_in(browser, console.url, key) as page:
        expect(row(page, mine)).to_be_visible()
        expect(row(page, theirs)).to_have_count(0)
        assert page.locator("#jobs-table tbody tr").count() == 1
        expect(page.locator("nav")).not_to_contain_text("Keys")


def test_a_script_in_a_prompt_is_shown_as_text(browser: Browser, console: Gateway) -> None:
    video_id = create(console, prompt=EVIL)
    with signed_in(browser, console.url, console.master_key) as page:
        expect(row(page, video_id)).to_contain_text("<script>window.__pwned = 1</script>")
        page.goto(f"/ui/jobs?q={video_id}")
        expect(row(page, video_id)).to_be_visible()
        assert page.evaluate("window.__pwned") is None
        assert page.locator("#jobs-table img[src=x]").count() == 0
        shot(page, "jobs-escaped-prompt")
