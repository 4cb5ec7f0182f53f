"""``GET /v1/videos``'s filters (vidgate's): a key narrows its own list by status, model,
end user, prompt text and creation time, never reaching another key's jobs."""

from __future__ import annotations

import time

from tests.support import Gateway, post_video, wait_for

BODY = {"model": "local/preview", "size": "320x180", "seconds": "1"}


def listed(gw: Gateway, key: str, **params: str) -> list[str]:
    with gw.http(key) as http:
        response = http.get("/v1/videos", params=params)
    assert response.status_code == 200, response.text
    return [video["id"] for video in response.json()["data"]]


def test_filters_narrow_the_callers_own_videos(gateway: Gateway) -> None:
    mine, other = gateway.new_key(), gateway.new_key()
    ids = {}
    with gateway.http(mine) as http:
        for name, user in (("harbour at dawn", "ann"), ("desert ROAD", "bob")):
            made = post_video(http, prompt=name, user=user, **BODY)
            assert made.status_code == 200, made.text
            ids[name] = made.json()["id"]
    with gateway.http(other) as http:
        assert post_video(http, prompt="harbour at dawn", user="ann", **BODY).status_code == 200
    assert listed(gateway, mine, q="HARBOUR") == [ids["harbour at dawn"]]
    assert listed(gateway, mine, user="bob") == [ids["desert ROAD"]]
    with gateway.http(mine) as http:  # the Video object says whose and where (vidgate's keys)
        video = http.get(f"/v1/videos/{ids['desert ROAD']}").json()
    assert (video["user"], video["provider"]) == ("bob", "local")
    assert listed(gateway, mine, q=ids["desert ROAD"]) == [ids["desert ROAD"]]
    assert sorted(listed(gateway, mine, model="local/preview")) == sorted(ids.values())
    assert listed(gateway, mine, model="sora") == []
    assert listed(gateway, mine, created_after=str(int(time.time()) + 3600)) == []
    wait_for(lambda: len(listed(gateway, mine, status="completed")) == 2)
    assert listed(gateway, mine, status="running") == []
    first = listed(gateway, mine, q="a", limit="1")
    assert listed(gateway, mine, q="a", limit="1", after=first[0]) != first


def test_a_bad_filter_is_a_400_naming_it(gateway: Gateway) -> None:
    with gateway.http() as http:
        status = http.get("/v1/videos", params={"status": "done"}).json()["error"]
        assert status["param"] == "status" and "running" in status["message"]
        when = http.get("/v1/videos", params={"created_before": "yesterday"}).json()["error"]
        assert when["param"] == "created_before"


def test_the_master_key_reads_any_keys_video_but_lists_its_own(gateway: Gateway) -> None:
    key = gateway.new_key()
    with gateway.http(key) as http:
        made = post_video(http, prompt="a key's own video", **BODY)
    video_id = made.json()["id"]
    with gateway.http() as admin:
        wait_for(lambda: admin.get(f"/v1/videos/{video_id}").json()["status"] == "completed")
        assert admin.get(f"/v1/videos/{video_id}/content").status_code == 200
        assert video_id not in [v["id"] for v in admin.get("/v1/videos").json()["data"]]
    other = gateway.new_key()
    with gateway.http(other) as http:
        assert http.get(f"/v1/videos/{video_id}").status_code == 404
        assert http.get(f"/v1/videos/{video_id}/content").status_code == 404
