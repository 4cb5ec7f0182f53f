"""The console's sign-in, session cookie, CSRF and page headers, through real HTTP."""

from __future__ import annotations

import httpx
import pytest

from tests.support import Gateway, post_video, wait_for


def console(gw: Gateway) -> httpx.Client:
    """A browser-like client: no key header, cookies kept, redirects not followed."""
    return httpx.Client(base_url=gw.url, timeout=120, headers={"accept": "text/html"})


def sign_in(client: httpx.Client, key: str) -> httpx.Response:
    return client.post("/ui/signin", data={"key": key, "next": "/ui/jobs"})


def csrf_of(client: httpx.Client) -> str:
    page = client.get("/ui/jobs")
    assert page.status_code == 200, page.text
    marker = '<meta name="csrf-token" content="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def test_root_sends_browsers_to_the_console_and_api_clients_a_404(gateway: Gateway) -> None:
    with console(gateway) as client:
        assert client.get("/").headers["location"] == "/ui/"
        assert client.get("/ui/").headers["location"] == "/ui/jobs"
        page = client.get("/ui/jobs")
        assert page.status_code == 303
        assert page.headers["location"] == "/ui/signin?next=/ui/jobs"
    plain = httpx.get(f"{gateway.url}/", headers={"accept": "application/json"})
    assert plain.status_code == 404 and plain.json()["error"]["code"] == "not_found"


def test_sign_in_sets_a_strict_http_only_cookie_and_never_echoes_the_key(
    gateway: Gateway,
) -> None:
    with console(gateway) as client:
        answer = sign_in(client, gateway.master_key)
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/jobs"
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("vidgate_session=")
        lowered = cookie.lower()
        assert "httponly" in lowered and "samesite=strict" in lowered and "path=/" in lowered
        assert "secure" not in lowered  # plain HTTP on loopback
        assert gateway.master_key not in cookie
        page = client.get("/ui/jobs")
        assert page.status_code == 200 and gateway.master_key not in page.text
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "<script>" not in page.text  # every script is a file under /ui/static


def test_a_wrong_key_is_refused_on_the_form(gateway: Gateway) -> None:
    with console(gateway) as client:
        answer = sign_in(client, "sk-vg-not-a-key")
        assert answer.status_code == 401
        assert "Incorrect API key" in answer.text and "set-cookie" not in answer.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},  # a sandboxed frame
        {"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
        {"sec-fetch-site": "same-site"},
    ],
)
def test_a_sign_in_posted_from_another_site_is_refused(
    gateway: Gateway, headers: dict[str, str]
) -> None:
    with console(gateway) as client:
        answer = client.post("/ui/signin", data={"key": gateway.master_key}, headers=headers)
        assert answer.status_code == 403 and "set-cookie" not in answer.headers


def test_a_browser_saying_same_origin_signs_in_behind_a_proxy(gateway: Gateway) -> None:
    """A proxy that rewrites Host (or terminates TLS) makes Origin look foreign; the browser's
    own Sec-Fetch-Site is believed."""
    with console(gateway) as client:
        answer = client.post(
            "/ui/signin",
            data={"key": gateway.master_key},
            headers={"origin": "https://gateway.example", "sec-fetch-site": "same-origin"},
        )
        assert answer.status_code == 303 and "set-cookie" in answer.headers


def test_signing_in_again_ends_the_earlier_session(gateway: Gateway) -> None:
    with console(gateway) as client:
        sign_in(client, gateway.master_key)
        first = client.cookies["vidgate_session"]
        sign_in(client, gateway.master_key)
        assert client.cookies["vidgate_session"] != first
    stale = httpx.get(f"{gateway.url}/v1/videos", cookies={"vidgate_session": first})
    assert stale.status_code == 401


def test_the_sign_in_page_brings_the_browser_back_with_its_query(gateway: Gateway) -> None:
    with console(gateway) as client:
        page = client.get("/ui/jobs?status=failed&q=fox")
        assert page.headers["location"] == "/ui/signin?next=/ui/jobs%3Fstatus%3Dfailed%26q%3Dfox"
        answer = client.post(
            "/ui/signin", data={"key": gateway.master_key, "next": "/ui/jobs?status=failed"}
        )
        assert answer.headers["location"] == "/ui/jobs?status=failed"


def test_the_cookie_calls_the_api_and_changes_need_the_csrf_token(gateway: Gateway) -> None:
    key = gateway.new_key(alias="cookie-user")
    with console(gateway) as client:
        sign_in(client, key)
        listed = client.get("/v1/videos")
        assert listed.status_code == 200 and listed.json()["object"] == "list"
        assert listed.headers["cache-control"] == "private, no-store"  # no cache keeps it
        body = {"model": "local/preview", "prompt": "a cookie", "seconds": "4", "size": "320x180"}
        refused = client.post("/v1/videos", json=body)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "csrf_failed"
        made = client.post("/v1/videos", json=body, headers={"x-csrf-token": csrf_of(client)})
        assert made.status_code == 200, made.text
        video_id = made.json()["id"]
        wait_for(lambda: client.get(f"/v1/videos/{video_id}").json()["status"] == "completed")
        thumb = client.get(f"/v1/videos/{video_id}/content", params={"variant": "thumbnail"})
        assert thumb.headers.get_list("cache-control") == ["private, max-age=86400"]
        assert client.get("/key/list").status_code == 403  # a virtual key's session: no admin


def test_sign_out_ends_the_session_everywhere(gateway: Gateway) -> None:
    with console(gateway) as client:
        sign_in(client, gateway.master_key)
        token = client.cookies["vidgate_session"]
        assert client.post("/ui/signout", data={"csrf": "wrong"}).status_code == 403
        assert client.get("/v1/videos").status_code == 200
        out = client.post("/ui/signout", data={"csrf": csrf_of(client)})
        assert out.status_code == 303 and out.headers["location"] == "/ui/signin"
    replayed = httpx.get(f"{gateway.url}/v1/videos", cookies={"vidgate_session": token})
    assert replayed.status_code == 401


def test_revoking_a_key_ends_its_console_session(gateway: Gateway) -> None:
    key = gateway.new_key(alias="soon-revoked")
    with console(gateway) as client:
        sign_in(client, key)
        assert client.get("/ui/jobs").status_code == 200
        with gateway.http() as admin:
            assert admin.post("/key/delete", json={"keys": [key]}).status_code == 200
        assert client.get("/ui/jobs").status_code == 303
        assert client.get("/v1/videos").status_code == 401


def test_admin_pages_are_the_master_keys(gateway: Gateway) -> None:
    key = gateway.new_key(alias="not-admin")
    with console(gateway) as client:
        sign_in(client, key)
        page = client.get("/ui/keys")
        assert page.status_code == 403 and 'href="/ui/keys"' not in page.text
        assert client.get("/ui/nonsense").status_code == 404
    with gateway.http() as admin:
        assert post_video(admin, prompt="x").status_code == 200


def test_the_cookie_is_secure_when_the_console_is_served_over_https(gateway: Gateway) -> None:
    """Behind a TLS proxy on loopback (uvicorn trusts its ``X-Forwarded-Proto``)."""
    with console(gateway) as client:
        answer = client.post(
            "/ui/signin",
            data={"key": gateway.master_key},
            headers={"x-forwarded-proto": "https"},
        )
        assert answer.status_code == 303
        assert "secure" in answer.headers["set-cookie"].lower()


def test_replies_to_a_bearer_key_stay_cacheable_as_before(gateway: Gateway) -> None:
    with gateway.http() as http:
        assert "cache-control" not in http.get("/v1/videos").headers
