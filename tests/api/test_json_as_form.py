"""A JSON body sent with a form's Content-Type (curl -d without -H) is told how to fix it.

curl's ``-d '{...}'`` sends ``application/x-www-form-urlencoded`` unless told otherwise; the
body then parses as one form field named like the document. Every route that reads a body
answers a 400 saying to set ``Content-Type: application/json`` instead of reporting an
unknown field (``/v1/videos``) or ignoring the body (``/key/generate``, whose fields are all
optional, made a key without its alias and limits).
"""

from __future__ import annotations

import json

import pytest

from tests.support import Gateway

FORM = {"Content-Type": "application/x-www-form-urlencoded"}  # what curl -d sends


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/videos", {"prompt": "a red fox in the snow", "seconds": 4, "size": "1280x720"}),
        ("/v2/video/generations", {"model": "local/preview", "prompt": "a fox & a hare"}),
        ("/key/generate", {"key_alias": "ci", "max_budget": 5}),
        ("/v1/video/generations", {"model": "local/preview", "prompt": "x=1"}),
    ],
)
def test_json_sent_as_form_gets_the_header_to_set(
    gateway: Gateway, path: str, body: dict[str, object]
) -> None:
    with gateway.http() as http:
        before = http.get("/key/list").json()
        response = http.post(path, content=json.dumps(body), headers=FORM)
        after = http.get("/key/list").json()
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_content_type"
    assert "-H 'Content-Type: application/json'" in error["message"]
    assert after == before  # nothing was made of it


def test_real_form_fields_still_work(gateway: Gateway) -> None:
    with gateway.http() as http:
        response = http.post("/key/generate", data={"key_alias": "form-made"})
    assert response.status_code == 200, response.text
    assert response.json()["key_alias"] == "form-made"
