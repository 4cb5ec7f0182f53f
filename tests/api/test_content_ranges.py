"""``Range`` on ``GET /v1/videos/{id}/content`` (every variant, local and S3 stores), over HTTP.

Whatever the header, the answer is the whole asset (200: a malformed header, another unit or
several ranges are ignored, as RFC 9110 allows), the one range asked for (206), or a 416 in
the OpenAI envelope with ``Content-Range: bytes */<size>`` — never plain text, never a 5xx.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import LOCAL_FAST
from tests.scaleout.services import s3_server
from tests.support import Gateway, running_gateway, wait_for

BUCKET = "vidgate-ranges"
VARIANTS = ("video", "thumbnail", "spritesheet")
Expect = Callable[[int], tuple[int, int] | str]
"""Given the asset size: ``(first, last)`` for a 206, ``"whole"`` or ``"416"``."""


@dataclass
class Served:
    gw: Gateway
    video_id: str
    whole: dict[str, bytes]


def _s3_config(endpoint: str) -> dict[str, Any]:
    storage = {
        "endpoint_url": endpoint,
        "region": "us-east-1",
        "access_key_id": "testing",
        "secret_access_key": "testing",
        "addressing_style": "path",
    }
    return {**LOCAL_FAST, "storage_url": f"s3://{BUCKET}/ranges", "storage": storage}


@pytest.fixture(scope="module", params=["local", "s3"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    with ExitStack() as stack:
        config = LOCAL_FAST
        if request.param == "s3":
            config = _s3_config(stack.enter_context(s3_server(BUCKET)))
        gw = stack.enter_context(running_gateway(tmp_path_factory.mktemp("gw"), config))
        http = stack.enter_context(gw.http())
        body = {"prompt": "ranges", "seconds": "1", "size": "320x180"}
        video_id = http.post("/v1/videos", json=body).json()["id"]
        status = wait_for(
            lambda: (
                (s := http.get(f"/v1/videos/{video_id}").json()["status"]) != "queued"
                and s != "in_progress"
                and s
            ),
            timeout=120,
        )
        assert status == "completed"
        whole = {}
        for variant in VARIANTS:
            response = http.get(f"/v1/videos/{video_id}/content", params={"variant": variant})
            assert response.status_code == 200, response.text
            whole[variant] = response.content
        yield Served(gw, video_id, whole)


CASES: dict[str, Expect] = {
    "bytes=abc": lambda n: "whole",
    "bytes=5-2": lambda n: "whole",
    "bytes=99999999-": lambda n: "416",
    "items=0-1": lambda n: "whole",
    "bytes=0-1,3-4": lambda n: "whole",
    "bytes=-0": lambda n: "416",
    "": lambda n: "whole",
    "bytes=": lambda n: "whole",
    "bytes=-": lambda n: "whole",
    "bytes": lambda n: "whole",
    "=0-1": lambda n: "whole",
    "bytes=1-2-3": lambda n: "whole",
    "bytes=0x10-20": lambda n: "whole",
    "bytes=-1-": lambda n: "whole",
    "bytes=0-99999999999999999999999999": lambda n: (0, n - 1),
    "bytes=99999999999999999999999999-": lambda n: "416",
    "bytes=" + "9" * 5000 + "-": lambda n: "416",
    "bytes=-" + "9" * 5000: lambda n: (0, n - 1),
    "bytes=-99999999999999999999": lambda n: (0, n - 1),
    "bytes=10-19": lambda n: (10, 19),
    "Bytes=10-19": lambda n: (10, 19),
    "bytes=0-0": lambda n: (0, 0),
    "bytes=-10": lambda n: (n - 10, n - 1),
    "bytes=10-": lambda n: (10, n - 1),
    "bytes=0-1,": lambda n: (0, 1),
}


def _check(response: httpx.Response, expected: tuple[int, int] | str, whole: bytes) -> None:
    size = len(whole)
    assert response.status_code < 500, response.text
    if expected == "416":
        assert response.status_code == 416, response.text
        assert response.headers["content-range"] == f"bytes */{size}"
        assert response.headers["content-type"] == "application/json"
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["code"] == "range_not_satisfiable"
    elif expected == "whole":
        assert response.status_code == 200, response.text
        assert response.content == whole and "content-range" not in response.headers
    else:
        assert isinstance(expected, tuple)
        first, last = expected
        assert response.status_code == 206, response.text
        assert response.headers["content-range"] == f"bytes {first}-{last}/{size}"
        assert response.content == whole[first : last + 1]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("header", list(CASES), ids=lambda h: repr(h[:40]))
def test_range_header(served: Served, variant: str, header: str) -> None:
    whole = served.whole[variant]
    assert 100 < len(whole) < 99_999_999
    with served.gw.http() as http:
        response = http.get(
            f"/v1/videos/{served.video_id}/content",
            params={"variant": variant},
            headers={"Range": header},
        )
    _check(response, CASES[header](len(whole)), whole)


def test_range_at_the_end_and_past_it(served: Served) -> None:
    whole = served.whole["video"]
    size = len(whole)
    with served.gw.http() as http:
        url = f"/v1/videos/{served.video_id}/content"
        _check(http.get(url, headers={"Range": f"bytes={size - 1}-"}), (size - 1, size - 1), whole)
        _check(http.get(url, headers={"Range": f"bytes={size}-"}), "416", whole)
        _check(http.get(url, headers={"Range": f"bytes={size}-{size + 5}"}), "416", whole)
        head = http.head(url, headers={"Range": f"bytes={size}-"})
        assert head.status_code == 416 and head.headers["content-range"] == f"bytes */{size}"


def test_if_range_of_another_version_sends_it_all(served: Served) -> None:
    whole = served.whole["video"]
    with served.gw.http() as http:
        url = f"/v1/videos/{served.video_id}/content"
        stale = {"Range": "bytes=99999999-", "If-Range": '"another-version"'}
        _check(http.get(url, headers=stale), "whole", whole)
        etag = http.get(url).headers["etag"]
        current = {"Range": "bytes=10-19", "If-Range": etag}
        _check(http.get(url, headers=current), (10, 19), whole)
