"""The Spend page by end user in a real browser: a key sees its end users' spend; the master
key sees two keys' end users of the same name apart, each labelled with its key."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.support import Gateway, wait_for
from tests.ui.browser import signed_in


def _spend(gw: Gateway, key: str, user: str, seconds: str) -> None:
    with gw.http(key) as client:
        body = {"model": "sora", "prompt": "a kite", "size": "1280x720", "seconds": seconds}
        response = client.post("/v1/videos", json={**body, "user": user})
        assert response.status_code == 200, response.text
        video_id = response.json()["id"]
        wait_for(lambda: client.get(f"/v1/videos/{video_id}").json()["status"] == "completed")


def _loaded(page: Page, path: str) -> None:
    page.goto(path)
    expect(page.locator("body[data-loaded=true]")).to_be_attached()


def test_spend_by_end_user(browser: Browser, console: Gateway) -> None:
    with console.http() as http:
        made = [http.post("/key/generate", json={"key_alias": a}).json() for a in ("eu-a", "eu-b")]
    one, two = made[0]["key"], made[1]["key"]
    _spend(console, one, "alice", "8")
    _spend(console, one, "bob", "4")
    _spend(console, two, "alice", "4")
    with signed_in(browser, console.url, one) as page:
        _loaded(page, "/ui/spend")
        bars = page.locator('#breakdowns [data-group="end_user"] rect.bar')
        expect(bars.first).to_have_attribute("data-label", "alice")
        expect(bars).to_have_count(2)
        page.locator("#group-by").select_option("end_user")
        expect(page.locator("#report-group")).to_have_text("end user")
        rows = page.locator("#report-table tbody tr")
        expect(rows).to_have_text([re.compile(r"^alice.*\$0\.80"), re.compile(r"^bob.*\$0\.40")])
    with signed_in(browser, console.url, console.master_key) as admin:
        _loaded(admin, "/ui/spend")
        labels = admin.locator('#breakdowns [data-group="end_user"] rect.bar')
        expect(labels.nth(2)).to_be_attached()
        found = [labels.nth(i).get_attribute("data-label") for i in range(labels.count())]
        assert {"alice · eu-a", "alice · eu-b", "bob · eu-a"} <= set(found)
