"""The console's requests page shows each request's moderation outcome (``docs/moderation.md``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import LOCAL_FAST
from tests.support import Gateway, running_gateway, wait_for
from tests.ui.browser import signed_in


@pytest.fixture(scope="module")
def moderated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    settings = {**LOCAL_FAST["settings"], "moderation": {"blocked_terms": ["zorblax"]}}
    config = {**LOCAL_FAST, "settings": settings}
    with running_gateway(tmp_path_factory.mktemp("moderated"), config) as gateway:
        yield gateway


def test_the_requests_page_shows_the_moderation_outcome(
    browser: Browser, moderated: Gateway
) -> None:
    with moderated.http() as http:
        refused = http.post("/v1/videos", json={"prompt": "a zorblax"})
        assert refused.status_code == 400
        marker = refused.headers["x-request-id"]
        wait_for(lambda: http.get("/admin/requests", params={"request_id": marker}).json()["data"])
    with signed_in(browser, moderated.url, moderated.master_key) as page:
        page.goto(f"/ui/requests?request_id={marker}")
        cell = page.locator("#requests tbody [data-moderation]")
        expect(cell).to_have_text("moderation: blocked: term")
