"""Virtual keys: admin API, hashing at rest, isolation between keys, revocation, expiry."""

from __future__ import annotations

import sqlite3
import time

import openai
import pytest

from tests.support import Gateway, wait_for


def test_generate_info_list_update_delete(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    with gw.http() as admin:
        created = admin.post(
            "/key/generate",
            json={"key_alias": "team-a", "duration": "1h", "metadata": {"team": "a"}},
        ).json()
        key = created["key"]
        assert key.startswith("sk-vg-") and created["key_alias"] == "team-a"
        assert created["expires"] == pytest.approx(time.time() + 3600, abs=5)
        info = admin.get("/key/info", params={"key": key}).json()
        assert info["key_id"] == created["key_id"] and key not in str(info)
        assert info["info"]["key_hint"].endswith(key[-4:])
        listed = admin.get("/key/list").json()
        assert listed["total_count"] == 1 and key not in str(listed)
        assert listed["keys"][0]["spend"] == 0 and listed["keys"][0]["max_budget"] is None
        updated = admin.post("/key/update", json={"key": "team-a", "models": ["local/preview"]})
        assert updated.json()["models"] == ["local/preview"]
        admin.post("/key/update", json={"key": "team-a", "max_budget": 5})
        assert admin.get("/key/list").json()["keys"][0]["max_budget"] == 5
        bad_model = admin.post("/key/update", json={"key": "team-a", "models": ["nope"]})
        assert bad_model.status_code == 400 and bad_model.json()["error"]["param"] == "models"
    with gw.http(key) as own:
        assert own.get("/key/info").json()["key_id"] == created["key_id"]
        assert own.get("/key/list").status_code == 403
        assert own.post("/key/generate", json={}).status_code == 403
    with gw.http() as admin:
        deleted = admin.post("/key/delete", json={"keys": [key]}).json()
        assert deleted["deleted_keys"] == [created["key_id"]]
    with pytest.raises(openai.AuthenticationError):
        gw.sdk(key).videos.list()


def test_keys_are_stored_hashed(fresh_gateway: Gateway) -> None:
    key = fresh_gateway.new_key(key_alias="hashed")
    with sqlite3.connect(fresh_gateway.data_dir / "vidgate.db") as db:
        rows = db.execute("SELECT * FROM api_keys").fetchall()
    assert rows and key not in repr(rows)


def test_isolation_between_keys(fresh_gateway: Gateway) -> None:
    alice, bob = fresh_gateway.new_key(), fresh_gateway.new_key()
    a, b = fresh_gateway.sdk(alice), fresh_gateway.sdk(bob)
    video = a.videos.create_and_poll(
        prompt="alice's", seconds="1", size="320x180", poll_interval_ms=50
    )
    assert video.status == "completed"
    for call in (
        lambda: b.videos.retrieve(video.id),
        lambda: b.videos.download_content(video.id),
        lambda: b.videos.remix(video.id, prompt="steal"),
        lambda: b.videos.delete(video.id),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    with fresh_gateway.http(bob) as http:
        edit = http.post("/v1/videos/edits", json={"prompt": "x", "video": {"id": video.id}})
        assert edit.status_code == 404
        assert http.get("/v1/videos", params={"after": video.id}).status_code == 400
    assert [v.id for v in b.videos.list()] == []
    assert [v.id for v in a.videos.list()] == [video.id]
    assert a.videos.retrieve(video.id).id == video.id


def test_model_restriction(fresh_gateway: Gateway) -> None:
    key = fresh_gateway.new_key(models=["local/preview"])
    assert [m.id for m in fresh_gateway.sdk(key).models.list().data] == ["local/preview"]
    with fresh_gateway.http() as admin:
        admin.post("/key/update", json={"key": key, "models": []})


def test_expired_key_is_401(fresh_gateway: Gateway) -> None:
    key = fresh_gateway.new_key(duration="1s")
    fresh_gateway.sdk(key).videos.list()

    def rejected() -> bool:
        try:
            fresh_gateway.sdk(key).videos.list()
        except openai.AuthenticationError as exc:
            return "expired" in str(exc)
        return False

    wait_for(rejected)


def test_revoked_key_is_401_immediately(fresh_gateway: Gateway) -> None:
    key = fresh_gateway.new_key()
    fresh_gateway.sdk(key).videos.list()  # cached as valid now
    with fresh_gateway.http() as admin:
        admin.post("/key/delete", json={"keys": [key]})
    with pytest.raises(openai.AuthenticationError, match="revoked"):
        fresh_gateway.sdk(key).videos.list()


def test_key_info_shows_the_budgets_a_hold_meets(fresh_gateway: Gateway) -> None:
    """A key sees its own, its team's and its user's budgets (spend, reserved, left) in
    /key/info, though /team/info and /user/info are the master key's."""
    with fresh_gateway.http() as admin:
        admin.post("/team/new", json={"team_id": "studio", "max_budget": 20})
        admin.post("/user/new", json={"user_id": "ana"})
    key = fresh_gateway.new_key(max_budget=5, team_id="studio", user_id="ana")
    with fresh_gateway.http(key) as own:
        info = own.get("/key/info").json()["info"]
        assert own.get("/team/info", params={"team_id": "studio"}).status_code == 403
    assert [(b["budget"], b["name"], b["max_budget"], b["left"]) for b in info["budgets"]] == [
        ("key", info["key_id"], 5, 5),
        ("team", "studio", 20, 20),
        ("user", "ana", None, None),
    ]
