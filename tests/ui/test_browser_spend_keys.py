"""The Spend and Keys pages in a real browser: a key made on the Keys page spends, sees its
own spend, budget and jobs only, and is shut out of the console once revoked there."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.support import Gateway, wait_for
from tests.ui.browser import shot, signed_in


def _video(gw: Gateway, key: str, **body: Any) -> str:
    with gw.http(key) as client:
        response = client.post("/v1/videos", json={"prompt": "a paper kite over a lake", **body})
        assert response.status_code == 200, response.text
        return str(response.json()["id"])


def _completed(gw: Gateway, key: str, video_id: str) -> None:
    with gw.http(key) as client:

        def status() -> str | None:
            found = str(client.get(f"/v1/videos/{video_id}").json()["status"])
            assert found != "failed", found
            return found if found == "completed" else None

        wait_for(status)


def _new_key(gw: Gateway, **body: Any) -> dict[str, Any]:
    with gw.http() as client:
        response = client.post("/key/generate", json=body)
        assert response.status_code == 200, response.text
        created: dict[str, Any] = response.json()
        return created


def _loaded(page: Page, path: str) -> None:
    page.goto(path)
    expect(page.locator("body[data-loaded=true]")).to_be_attached()


def test_key_made_on_the_keys_page_sees_its_spend_and_budget(
    browser: Browser, console: Gateway
) -> None:
    with signed_in(browser, console.url, console.master_key) as admin:
        _loaded(admin, "/ui/keys")
        form = admin.locator("#create-key")
        form.locator("[name=key_alias]").fill("kite-studio")
        form.locator("[name=max_budget]").fill("5")
        form.locator("[name=rpm_limit]").fill("60")
        form.locator("[name=max_parallel_requests]").fill("2")
        form.locator("[name=models]").select_option(["sora", "local/preview"])
        shot(admin, "keys")
        form.locator("button[type=submit]").click()
        secret = admin.locator(".secret-box .secret")
        expect(secret).to_contain_text("sk-vg-")
        key = secret.inner_text().strip()
        row = admin.locator("#keys-table tbody tr", has_text="kite-studio")
        expect(row).to_contain_text("$0.00 of $5.00")
        expect(row.locator(".tag", has_text="sora")).to_have_count(1)
        expect(row.locator(".tag", has_text="local/preview")).to_have_count(1)
        shot(admin, "keys-created")
    video_id = _video(console, key, model="sora", seconds="4", size="1280x720")
    _completed(console, key, video_id)
    with signed_in(browser, console.url, key) as page:
        _loaded(page, "/ui/spend")
        expect(page.locator('#totals [data-stat="spend"] .value')).to_have_text("$0.40")
        expect(page.locator('#by-day rect.bar[data-value="0.4"]')).to_have_count(1)
        model_bar = page.locator('#breakdowns [data-group="model"] rect.bar')
        expect(model_bar).to_have_attribute("data-label", "sora")
        budget = page.locator('#budgets [data-budget^="key:"]')
        expect(budget).to_contain_text("spent $0.40 of $5.00")
        expect(budget).to_contain_text("left $4.60")
        expect(budget.locator("meter")).to_have_attribute("value", "0.4")
        page.locator("#group-by").select_option("model")
        csv_link = page.locator("#csv")
        expect(page.locator("#report-group")).to_have_text("model")
        expect(page.locator("#report-table tbody tr")).to_have_text([re.compile("sora")])
        href = csv_link.get_attribute("href")
        assert href is not None and "group_by=model" in href and "format=csv" in href
        exported = page.request.get(href)
        assert exported.status == 200
        assert exported.headers["content-type"].startswith("text/csv")
        assert "sora" in exported.text() and "0.4" in exported.text()
        with console.http(key) as client:  # the API, not the page, scopes a key to itself
            assert client.get("/spend/report", params={"key": "master"}).status_code == 403
    with signed_in(browser, console.url, console.master_key) as admin:
        _loaded(admin, "/ui/spend")
        expect(
            admin.locator('#budgets [data-budget^="key:"]', has_text="kite-studio")
        ).to_contain_text("spent $0.40 of $5.00")
        expect(admin.locator('#breakdowns [data-group="key"] rect.bar').first).to_have_attribute(
            "data-label", "kite-studio"
        )
        shot(admin, "spend")


def test_a_key_sees_only_its_own_jobs(browser: Browser, console: Gateway) -> None:
    created = _new_key(console, key_alias="own-jobs", models=["local/preview"])
    preview = {"model": "local/preview", "seconds": "2", "size": "320x180"}
    master_job = _video(console, console.master_key, **preview)
    own_job = _video(console, created["key"], **preview)
    with signed_in(browser, console.url, created["key"]) as page:
        page.goto("/ui/jobs")
        rows = page.locator("#jobs-table tbody tr[data-id]")
        expect(page.locator(f'#jobs-table tbody tr[data-id="{own_job}"]')).to_have_count(1)
        expect(rows).to_have_count(1)
        expect(page.locator(f'#jobs-table tbody tr[data-id="{master_job}"]')).to_have_count(0)


def test_revoking_on_the_keys_page_signs_the_key_out(browser: Browser, console: Gateway) -> None:
    created = _new_key(console, key_alias="to-revoke")
    with (
        signed_in(browser, console.url, created["key"]) as page,
        signed_in(browser, console.url, console.master_key) as admin,
    ):
        _loaded(admin, "/ui/keys")
        row = admin.locator(f'#keys-table tbody tr[data-id="{created["key_id"]}"]')
        admin.once("dialog", lambda dialog: dialog.accept())
        row.locator("button.revoke").click()
        expect(admin.locator("#flash")).to_contain_text("revoked")
        expect(row).to_have_count(0)
        admin.locator("#show-revoked").check()
        expect(row).to_contain_text("revoked")
        page.goto("/ui/spend")
        expect(page).to_have_url(f"{console.url}/ui/signin?next=/ui/spend")
        assert page.request.get("/v1/videos").status == 401  # the session's cookie


def test_edit_a_key_and_give_it_a_team_on_the_keys_page(browser: Browser, console: Gateway) -> None:
    created = _new_key(console, key_alias="to-edit", max_budget=1)
    with signed_in(browser, console.url, console.master_key) as admin:
        _loaded(admin, "/ui/keys")
        teams = admin.locator('[data-owner="team"]')
        teams.locator("[name=team_id]").fill("studio")
        teams.locator("[name=max_budget]").fill("20")
        teams.locator("button[type=submit]").click()
        studio = teams.locator('tbody tr[data-id="studio"]')
        expect(studio).to_contain_text("$0.00 of $20.00")
        row = admin.locator(f'#keys-table tbody tr[data-id="{created["key_id"]}"]')
        row.locator("button.edit").click()
        dialog = admin.locator("#edit-dialog")
        expect(dialog.locator("[name=max_budget]")).to_have_value("1")
        dialog.locator("[name=max_budget]").fill("7.5")
        dialog.locator("[name=rpm_limit]").fill("30")
        dialog.locator("[name=team_id]").fill("studio")
        dialog.locator("[name=models]").select_option(["local/preview"])
        dialog.locator("button[type=submit]").click()
        expect(row).to_contain_text("$0.00 of $7.50")
        expect(studio.locator("td.num")).to_have_text("1")
    with console.http() as client:
        info = client.get("/key/info", params={"key": created["key_id"]}).json()["info"]
    assert (info["max_budget"], info["rpm_limit"], info["team_id"], info["models"]) == (
        7.5,
        30,
        "studio",
        ["local/preview"],
    )
    with signed_in(browser, console.url, created["key"]) as page:
        _loaded(page, "/ui/spend")
        expect(page.locator('#budgets [data-budget="team:studio"]')).to_contain_text(
            "spent $0.00 of $20.00"
        )
        shot(page, "spend-virtual-key")
