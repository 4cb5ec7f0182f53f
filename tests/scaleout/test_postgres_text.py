"""Client text PostgreSQL cannot store is a 400 naming the field, never a 500.

SQLite stores any text of any length, so only a real PostgreSQL shows these (the fuzz of
``tests/api/test_fuzz.py`` run against one found each): a NUL in an id, cursor or filter
from the URL (``invalid byte sequence for encoding "UTF8": 0x00``), and text longer than its
column (``value too long for type character varying(200)``): ``user``, key aliases, team and
user ids, ``Idempotency-Key``. A request log row with a NUL in its path, or a 10-letter
method, made the whole batch of rows around it fail to insert.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LOCAL_FAST
from tests.scaleout.services import Postgres, postgres_server
from tests.support import Gateway, running_gateway, wait_for

pytestmark = pytest.mark.scaleout

LONG = "n" * 201
CREATE = {"prompt": "a", "model": "local/preview", "seconds": 1, "size": "320x180"}
V2 = {"prompt": "a", "model": "local/preview", "duration": 1, "size": "320x180"}


@pytest.fixture(scope="module")
def pg() -> Iterator[Postgres]:
    with postgres_server() as server:
        server.create_database("texts")
        yield server


@pytest.fixture(scope="module")
def gateway(pg: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    config: dict[str, Any] = {**json.loads(json.dumps(LOCAL_FAST)), "database_url": pg.url("texts")}
    with running_gateway(tmp_path_factory.mktemp("pg-texts"), config) as gw:
        yield gw


def _refused(response: httpx.Response, param: str | None) -> None:
    assert response.status_code == 400, response.text[:300]
    assert response.json()["error"]["param"] == param


@pytest.mark.parametrize(
    ("url", "param"),
    [
        ("/v1/videos/a%00b", None),
        ("/v1/videos/%00/content", None),
        ("/jobs/%00", None),
        ("/v1/videos?after=a%00b", "after"),
        ("/spend/logs?model=a%00b", "model"),
        ("/spend/report?team_id=%00", "team_id"),
        ("/key/info?key=%00", "key"),
        ("/team/info?team_id=%00", "team_id"),
        ("/v2/video/generations?generation_ids=a,%00", "generation_ids"),
    ],
)
def test_a_nul_in_the_url_is_refused(gateway: Gateway, url: str, param: str | None) -> None:
    with gateway.http() as client:
        _refused(client.get(url), param)
        assert client.get("/v1/videos").status_code == 200  # the connection survived


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/videos", {**CREATE, "user": LONG}, "user"),
        ("/v2/video/generations", {**V2, "user": LONG}, "user"),
        ("/key/generate", {"key_alias": LONG}, "key_alias"),
        ("/key/generate", {"team_id": LONG}, "team_id"),
        ("/key/generate", {"user_id": LONG}, "user_id"),
        ("/team/new", {"team_id": LONG}, "team_id"),
        ("/user/new", {"user_id": LONG}, "user_id"),
    ],
)
def test_text_longer_than_its_column_is_refused(
    gateway: Gateway, path: str, body: dict[str, Any], param: str
) -> None:
    with gateway.http() as client:
        _refused(client.post(path, json=body), param)
        fits = {k: v[:200] if v == LONG else v for k, v in body.items()}
        assert client.post(path, json=fits).is_success  # 200 characters are stored


def test_idempotency_key_longer_than_its_column_is_refused(gateway: Gateway) -> None:
    with gateway.http() as client:
        long = client.post("/v1/videos", json=CREATE, headers={"Idempotency-Key": "k" * 256})
        _refused(long, "Idempotency-Key")
        fits = client.post("/v1/videos", json=CREATE, headers={"Idempotency-Key": "k" * 255})
        assert fits.status_code == 200, fits.text


def test_request_logs_keep_rows_with_odd_paths_and_methods(gateway: Gateway, pg: Postgres) -> None:
    with gateway.http() as client:
        assert client.get("/v1/videos/odd%00path").status_code == 400
        assert client.request("MKCALENDAR", "/v1/videos").status_code == 405
        marker = client.get("/v1/videos", headers={"X-Request-ID": "req-after-odd-ones"})
        assert marker.status_code == 200

    def logged(where: str) -> int:
        return int(pg.psql("texts", f"SELECT count(*) FROM request_logs WHERE {where}"))

    wait_for(lambda: logged("request_id = 'req-after-odd-ones'") == 1, timeout=60)
    assert logged("route = '/v1/videos/odd%00path'") == 1
    assert logged("method = 'MKCALEND'") == 1
