"""The operator pages in a real browser: deployments (health, config, reload), webhooks
(endpoints, the delivery log, redelivery) and the request log (filters, paging)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support import (
    Gateway,
    Sim,
    post_video,
    running_gateway,
    serve,
    wait_for,
    write_config,
)
from tests.ui.browser import shot, signed_in
from tests.ui.conftest import SIM_KEY, sora_deployment

SORA_ID = "sora-sim"


def _config(sim: Sim, *, extra: bool = False) -> dict[str, Any]:
    sora = sora_deployment(sim, id=SORA_ID)
    # A deployment that is its group's only route is never cooled: ``sora`` has a spare
    # (weight 0: used only while the simulator's deployment cools down).
    spare = {"id": "sora-spare", "model_name": "sora", "provider": "local", "model": "preview",
             "weight": 0}  # fmt: skip
    local = {"id": "local-preview", "model_name": "local/preview", "provider": "local",
             "model": "preview"}  # fmt: skip
    models = [sora, spare, local]
    if extra:
        models.append({"id": "local-extra", "model_name": "extra", "provider": "local",
                       "model": "preview"})  # fmt: skip
    return {
        "model_list": models,
        # One attempt per create, and two failures out of two open the breaker for a minute:
        # the page sees the cooldown after a couple of requests.
        "router": {
            "num_retries": 0,
            "cooldown": {"min_requests": 2, "error_rate": 0.5, "window_s": 60, "cooldown_s": 60},
        },
        "settings": {
            "local_workers": 1,
            "outbound_allow": ["127.0.0.1/32"],
            # A failed delivery waits five minutes for its retry: the test's redelivery is the
            # only second attempt.
            "webhooks": {"backoff_s": 300, "timeout_s": 30},
        },
    }


@pytest.fixture(scope="module")
def ops(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("ops"), _config(sim)) as gateway:
        yield gateway


def test_deployments_page_shows_cooldown_live_and_reloads(
    browser: Browser, ops: Gateway, sim: Sim
) -> None:
    with signed_in(browser, ops.url, ops.master_key) as page:
        page.goto("/ui/deployments")
        sora = page.locator(f"tr[data-deployment='{SORA_ID}']")
        expect(sora.locator("[data-health]")).to_have_attribute("data-health", "healthy")
        expect(page.locator("tr[data-deployment='local-preview']")).to_be_visible()
        config = page.locator("#config")
        expect(config).to_contain_text('"api_key": "[redacted]"')
        assert SIM_KEY not in config.inner_text()

        with ops.http() as http:  # creates that the upstream answers 500, until it cools down

            def cooling() -> bool:
                response = http.post("/v1/videos", json={"model": "sora", "prompt": "x [sim:500]"})
                assert response.status_code >= 500, response.text
                rows = http.get("/health/deployments").json()["deployments"]
                state: str = next(r for r in rows if r["id"] == SORA_ID)["state"]
                return state == "cooling_down"

            wait_for(cooling, interval=0)

        # No reload: the page's own refresh shows it.
        expect(sora.locator("[data-health]")).to_have_attribute("data-health", "cooling_down")
        expect(sora.locator("td.cooldown")).to_contain_text(re.compile(r"\d+s left"))
        expect(sora.locator("td.breaker")).to_have_text("open")
        expect(sora).to_contain_text("upstream")  # the last error's code
        expect(sora).to_contain_text("100%")

        write_config(ops.data_dir, _config(sim, extra=True))
        page.click("#reload")
        expect(page.locator("#flash")).to_have_text(
            "Config reloaded: 1 added (local-extra), 0 changed, 0 removed."
        )
        expect(page.locator("tr[data-deployment='local-extra']")).to_be_visible()
        expect(config).to_contain_text('"id": "local-extra"')
        expect(sora.locator("[data-health]")).to_have_attribute("data-health", "cooling_down")
        shot(page, "deployments")

        write_config(ops.data_dir, {"model_list": [{"model_name": "x", "provider": "nope"}]})
        page.click("#reload")
        expect(page.locator("#flash")).to_contain_text("Reload failed: The config was not reloaded")


@dataclass
class Receiver:
    """A webhook receiver on loopback: records every POST; answers 500 to the first."""

    url: str = ""
    posts: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self) -> list[str]:
        with self.lock:
            return [post["webhook-id"] for post in self.posts]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()

    async def hook(request: Request) -> Response:
        body = await request.body()
        with found.lock:
            found.posts.append({"webhook-id": request.headers.get("webhook-id"), "body": body})
            first = len(found.posts) == 1
        return Response(status_code=500 if first else 200)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    with serve(app) as url:
        found.url = f"{url}/hook"
        yield found


def test_webhooks_page_creates_endpoint_shows_deliveries_and_redelivers(
    browser: Browser, ops: Gateway, receiver: Receiver
) -> None:
    with signed_in(browser, ops.url, ops.master_key) as page:
        page.goto("/ui/webhooks")
        expect(page.locator("#endpoints tbody")).to_contain_text("No endpoints yet")
        page.fill("#wh-url", receiver.url)
        page.fill("#wh-description", "CI receiver")
        page.click("#create-form button[type=submit]")
        expect(page.locator("#secret")).to_contain_text("whsec_")
        endpoint = page.locator("#endpoints tbody tr").first
        expect(endpoint).to_contain_text(receiver.url)
        expect(endpoint).to_contain_text("video.completed, video.failed")
        expect(page.locator("#deliveries tbody")).to_contain_text("No deliveries yet")

        with ops.http() as http:  # a job that completes: one video.completed event
            created = http.post("/v1/videos", json={"model": "local/preview", "prompt": "a hook"})
            assert created.status_code == 200, created.text
            video_id = created.json()["id"]

        delivery = page.locator("#deliveries tbody tr[data-delivery]")
        expect(delivery).to_have_count(1)
        expect(delivery).to_contain_text(video_id)
        expect(delivery).to_contain_text("video.completed")
        expect(delivery.locator(".last-code")).to_have_text("500")  # the receiver's first answer
        expect(delivery).to_have_attribute("data-status", "pending")
        expect(delivery.locator(".attempts")).to_have_text("1")
        assert len(receiver.ids()) == 1
        first_id = receiver.ids()[0]

        delivery.locator("button.redeliver").click()
        wait_for(lambda: len(receiver.ids()) == 2)
        assert receiver.ids() == [first_id, first_id]  # the same event, the same webhook-id
        expect(delivery).to_have_attribute("data-status", "delivered")
        expect(delivery.locator(".last-code")).to_have_text("200")
        expect(delivery.locator(".attempts")).to_have_text("1")  # a fresh schedule's attempt
        expect(page.locator("#flash")).to_contain_text("queued again")
        shot(page, "webhooks")

        # A second endpoint, deleted from the page (the second click confirms).
        page.fill("#wh-url", f"{receiver.url}?spare=1")
        page.click("#create-form button[type=submit]")
        rows = page.locator("#endpoints tbody tr[data-endpoint]")
        expect(rows).to_have_count(2)
        spare = rows.filter(has_text="spare=1")
        spare.locator("button.delete").click()
        expect(spare.locator("button.delete")).to_have_text("Confirm delete")
        spare.locator("button.delete").click()
        expect(rows).to_have_count(1)
        expect(page.locator("#flash")).to_contain_text("deleted")
    with ops.http() as http:
        assert len(http.get("/v1/webhooks").json()["data"]) == 1
    with signed_in(browser, ops.url, ops.new_key()) as page:  # a virtual key: its own only
        page.goto("/ui/webhooks")
        expect(page.locator("#endpoints tbody")).to_contain_text("No endpoints yet")
        expect(page.locator("#deliveries-panel")).to_be_hidden()


def test_requests_page_lists_filters_and_pages(browser: Browser, ops: Gateway) -> None:
    with ops.http() as http:
        for i in range(30):
            assert http.get(f"/v1/videos/video_nope{i}").status_code == 404
        assert http.get("/v1/models").status_code == 200
        assert http.get("/health/deployments").status_code == 200
        with ops.http(ops.new_key(key_alias="ci-viewer")) as viewer:
            assert viewer.get("/v1/videos").status_code == 200
            assert viewer.get("/admin/requests").status_code == 403
        assert (
            http.get("/v1/models", headers={"authorization": "Bearer sk-wrong"}).status_code == 401
        )
        bad = post_video(http, model="local/preview", prompt="x", seconds="x")
        assert bad.status_code == 400
        marker = bad.headers["x-request-id"]

        def logged() -> bool:
            rows = http.get("/admin/requests", params={"request_id": marker}).json()["data"]
            return bool(rows)

        wait_for(logged, interval=0.25)  # rows are written in batches about once a second
        errors = len(
            http.get("/admin/requests", params={"status": "4xx", "limit": 200}).json()["data"]
        )
    with signed_in(browser, ops.url, ops.master_key) as page:
        page.goto("/ui/requests?limit=25")
        rows = page.locator("#requests tbody tr[data-seq]")
        expect(rows.first).to_be_visible()
        expect(page.locator("#requests tbody tr[data-status='200']").first).to_be_visible()
        expect(page.locator("#requests tbody")).to_contain_text("/v1/videos/{id}")
        shot(page, "requests")

        page.fill("input[name=status]", "4xx")
        page.select_option("select[name=limit]", "25")
        page.click("#filters button[type=submit]")
        expect(page).to_have_url(re.compile(r"status=4xx"))
        expect(page.locator("#requests tbody tr[data-status^='2']")).to_have_count(0)
        expect(rows).to_have_count(25)
        statuses = rows.evaluate_all("rows => rows.map(row => row.dataset.status)")
        assert all(s.startswith("4") for s in statuses), statuses
        expect(page.locator("#page-note")).to_contain_text("Page 1")

        page.click("#next-page")  # the older 4xx rows
        expect(page.locator("#page-note")).to_contain_text("Page 2")
        expect(rows).to_have_count(min(errors - 25, 25))
        statuses = rows.evaluate_all("rows => rows.map(row => row.dataset.status)")
        assert all(s.startswith("4") for s in statuses), statuses
        page.click("#prev-page")
        expect(page.locator("#page-note")).to_contain_text("Page 1")

        page.fill("input[name=request_id]", marker)
        page.click("#filters button[type=submit]")
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-status", "400")

        page.click("#clear-filters")  # a time range: nothing was requested in 2099
        page.fill("input[name=after]", "2099-01-01T00:00")
        page.click("#filters button[type=submit]")
        expect(page.locator("#requests tbody")).to_contain_text("No requests match")
        page.fill("input[name=after]", "2000-01-01T00:00")
        page.fill("input[name=before]", "2099-01-01T00:00")
        page.click("#filters button[type=submit]")
        expect(rows.first).to_be_visible()
