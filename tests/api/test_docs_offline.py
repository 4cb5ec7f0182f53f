"""``/docs`` works offline: the page and everything it loads come from the gateway itself.

The browser side (Swagger UI renders the operations, with every other origin blocked) is
``tests/ui/test_browser_docs.py``.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx

from tests.support import Gateway

CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


class _References(HTMLParser):
    """Every URL the page makes the browser load: scripts, stylesheets, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        url = values.get("src") if tag in ("script", "img", "iframe") else None
        url = values.get("href") if tag == "link" else url
        if tag == "script" and url is None:
            self.inline_scripts += 1
        if url is not None:
            self.urls.append(url)


def _page(client: httpx.Client) -> tuple[httpx.Response, _References]:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    found = _References()
    found.feed(response.text)
    return response, found


def _directives(csp: str) -> dict[str, list[str]]:
    parts = (part.split() for part in csp.split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


def test_the_page_loads_only_same_origin_assets(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.url, timeout=120) as client:  # no key: a public page
        _, page = _page(client)
        assert page.inline_scripts == 0
        assert len(page.urls) >= 3  # bundle, our init.js, stylesheet
        for url in page.urls:
            assert urlsplit(url).scheme == "" and urlsplit(url).netloc == "", url
            assert url.startswith("/docs/static/"), url
        for url in page.urls:
            asset = client.get(urljoin(gateway.url, url))
            assert asset.status_code == 200, url
            expected = next(v for ext, v in CONTENT_TYPES.items() if url.endswith(ext))
            assert expected in asset.headers["content-type"], (url, asset.headers)
            assert asset.headers["x-content-type-options"] == "nosniff"
            assert asset.content


def test_the_initialisation_reads_our_document_and_nothing_else(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.url, timeout=120) as client:
        _, page = _page(client)
        init = next(url for url in page.urls if url.endswith("/init.js"))
        script = client.get(init).text
        assert "SwaggerUIBundle(" in script and "openapi.json" in script
        assert "validatorUrl: null" in script  # no badge from validator.swagger.io
        assert "http://" not in script and "https://" not in script
        assert client.get("/openapi.json").status_code == 200


def test_the_page_has_a_csp_without_inline_script(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.url, timeout=120) as client:
        response, _ = _page(client)
    csp = _directives(response.headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    for directive in ("connect-src", "style-src", "img-src", "font-src"):
        assert all(not source.startswith("http") for source in csp[directive]), directive
    assert response.headers["x-content-type-options"] == "nosniff"


def test_redoc_and_the_cdn_pages_are_gone(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.url, timeout=120) as client:
        assert client.get("/redoc").status_code == 404
        assert client.get("/docs/oauth2-redirect").status_code == 404
        assert "/docs" not in client.get("/openapi.json").json()["paths"]
