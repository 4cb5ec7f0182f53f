"""The webhooks page rotates an endpoint's signing secret in a real browser: the new secret is
shown once, the row says two secrets sign, and the next delivery verifies with either."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect
from standardwebhooks import Webhook

from tests.support import Gateway, serve, wait_for
from tests.ui.browser import shot, signed_in
from tests.webhooks.receiver import Receiver


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    with serve(found.app) as url:
        found.base_url = url
        yield found


def test_rotate_secret_from_the_page(
    browser: Browser, console: Gateway, receiver: Receiver
) -> None:
    path = receiver.new_path()
    with signed_in(browser, console.url, console.master_key) as page:
        page.goto("/ui/webhooks")
        page.fill("#wh-url", receiver.url(path))
        page.click("#create-form button[type=submit]")
        expect(page.locator("#secret")).to_contain_text("whsec_")
        old = page.locator("#secret").inner_text().strip()
        row = page.locator("#endpoints tbody tr[data-endpoint]").filter(has_text=path)
        expect(row.locator(".secrets-note")).to_have_count(0)

        button = row.locator("button.rotate")
        button.click()
        expect(button).to_have_text("Confirm rotate")  # a second click confirms
        button.click()
        expect(page.locator("#flash")).to_contain_text("both signatures until")
        expect(page.locator("#secret")).not_to_have_text(old)
        new = page.locator("#secret").inner_text().strip()
        assert new.startswith("whsec_") and new != old
        expect(row.locator(".secrets-note")).to_have_text("signed with 2 secrets")
        assert old not in page.locator("#endpoints").inner_text()
        shot(page, "webhooks-rotated")

    with console.http() as http:
        created = http.post("/v1/videos", json={"model": "local/preview", "prompt": "a hook"})
        assert created.status_code == 200, created.text
    [call] = wait_for(lambda: receiver.calls(path))
    for secret in (old, new):  # a receiver with either secret accepts it
        assert Webhook(secret).verify(call.body, call.headers)["data"] == {
            "id": created.json()["id"]
        }
