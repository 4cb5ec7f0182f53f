"""What ``test_fuzz.py`` found: each request here answered 500 (and dropped the keep-alive
connection) before its fix; now each is a 400 naming the field, or a plain success.

- JSON *text* where an object goes (``metadata``, ``parameters``: multipart can only send
  text) was decoded without limits: 100,000-deep nesting and 5,000-digit integers raised.
- Digit strings went to ``int()``: ``"²"`` passes ``str.isdigit()`` but not ``int()``, and
  5,000 digits pass neither Python's int-string limit (``limit``, ``seconds``, ``width``).
- ``/key/update`` with only budget fields ran an UPDATE without SET; a list as ``key_alias``
  reached the database; ``/key/delete`` iterated a number.
- A ``start`` of 5,000 digits became ``inf`` and broke the report's JSON.
- An error message quoting a lone surrogate the client sent could not be encoded.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import Gateway

HUGE = "9" * 5000
DEEP = "[" * 100_000 + "]" * 100_000
BASE = '"prompt": "a", "model": "local/preview", "seconds": 1, "size": "320x180"'


def _envelope(response: httpx.Response, status: int, param: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text[:300]
    error: dict[str, Any] = response.json()["error"]
    assert isinstance(error["message"], str) and isinstance(error["type"], str)
    assert error["param"] == param, error
    return error


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        (f'"metadata": "{DEEP}"', "metadata"),
        (f'"metadata": "{{\\"a\\": {HUGE}}}"', "metadata.a"),
        (f'"parameters": "{DEEP}"', "parameters"),
        (f'"seconds": "{HUGE}"', "seconds"),
        ('"size": null, "width": "\\u00b2", "height": "720"', "width"),
        (f'"size": null, "width": "{HUGE}", "height": "720"', "width"),
        ('"images": {"\\u00b2": "https://example.com/a.png"}', "images[0]"),
    ],
)
def test_create_fields_that_answered_500(gateway: Gateway, fields: str, param: str) -> None:
    body = "{" + BASE + ", " + fields + "}"
    with gateway.http() as client:
        response = client.post(
            "/v1/videos", content=body, headers={"Content-Type": "application/json"}
        )
        _envelope(response, 400, param)
        assert client.get("/health").status_code == 200  # the same connection still answers


@pytest.mark.parametrize("seed", ['"99999999999999999999"', "1e300"])
def test_integers_in_strings_and_floats_keep_the_64_bit_bound(gateway: Gateway, seed: str) -> None:
    """As a JSON integer past 64 bits is refused, so is the same number as text or a float
    (they made jobs with a seed no upstream takes)."""
    body = "{" + BASE + f', "seed": {seed}' + "}"
    with gateway.http() as client:
        response = client.post(
            "/v1/videos", content=body, headers={"Content-Type": "application/json"}
        )
        _envelope(response, 400, "seed")


def test_multipart_metadata_text_is_checked_like_json(gateway: Gateway) -> None:
    with gateway.http() as client:
        for text, param in ((DEEP, "metadata"), (f'{{"a": {HUGE}}}', "metadata.a")):
            form = {"prompt": "a", "model": "local/preview", "metadata": text}
            response = client.post("/v1/videos", data=form)  # a form, as multipart
            _envelope(response, 400, param)


def test_a_lone_surrogate_in_a_json_string_field_is_refused(gateway: Gateway) -> None:
    """Refused where it is decoded, naming the field; error bodies stay ASCII on the wire."""
    form = {"prompt": "a", "model": "local/preview", "metadata": '{"\\ud800": 1}'}
    with gateway.http() as client:
        response = client.post("/v1/videos", data=form)  # a form, as multipart
        error = _envelope(response, 400, "metadata")
        assert "lone surrogate" in error["message"]
        response.content.decode("ascii")  # escaped on the wire


@pytest.mark.parametrize(
    ("url", "param"),
    [
        ("/v1/videos?limit=%C2%B2", "limit"),
        (f"/v1/videos?limit={HUGE}", "limit"),
        ("/spend/logs?limit=%C2%B2", "limit"),
        (f"/spend/logs?limit={HUGE}", "limit"),
        (f"/spend/report?start={HUGE}", "start"),
        (f"/spend/report?end=-{HUGE}", "end"),
    ],
)
def test_query_values_that_answered_500(gateway: Gateway, url: str, param: str) -> None:
    with gateway.http() as client:
        error = _envelope(client.get(url), 400, param)
        assert f"'{param}'" in error["message"]


def test_key_update_with_only_budget_fields(gateway: Gateway) -> None:
    with gateway.http() as client:
        key_id = client.post("/key/generate", json={}).json()["key_id"]
        response = client.post("/key/update", json={"key": key_id, "max_budget": 5})
        assert response.status_code == 200, response.text
        assert response.json()["max_budget"] == 5
        assert client.get("/key/info", params={"key": key_id}).json()["info"]["max_budget"] == 5
        bad = client.post("/key/update", json={"key": key_id, "key_alias": []})
        _envelope(bad, 400, "key_alias")


@pytest.mark.parametrize(
    "body",
    [{"keys": 5}, {"keys": True}, {"keys": ["nope"], "key_aliases": 4.5}, {"keys": {"a": 1}}],
)
def test_key_delete_refuses_what_is_not_a_list(gateway: Gateway, body: dict[str, Any]) -> None:
    with gateway.http() as client:
        _envelope(client.post("/key/delete", json=body), 400, "keys")


def test_idempotency_key_fits_its_column(gateway: Gateway) -> None:
    """The key is stored in a 255-character column: PostgreSQL refuses longer (a 500 there);
    now every database answers 400 naming the header."""
    body = {"prompt": "a", "model": "local/preview", "seconds": 1, "size": "320x180"}
    with gateway.http() as client:
        long = client.post("/v1/videos", json=body, headers={"Idempotency-Key": "k" * 256})
        error = _envelope(long, 400, "Idempotency-Key")
        assert "255" in error["message"]
        fits = client.post("/v1/videos", json=body, headers={"Idempotency-Key": "k" * 255})
        assert fits.status_code == 200, fits.text
