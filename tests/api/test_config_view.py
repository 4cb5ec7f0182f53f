"""``GET /config``: the configuration in force, for the master key, with no secret in it."""

from __future__ import annotations

from pathlib import Path

from tests.support import running_gateway, write_config

UPSTREAM_KEY = "sk-config-view-upstream-0123456789"
OPTION_TOKEN = "tok-config-view-option-secret"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
STORAGE_SECRET = "storage-config-view-secret-key"
URL_PASSWORD = "urlpass-config-view"
SIGNATURE = "sigvalue-config-view-0123"

AUTH_HEADER = "Basic dXNlcjpwYXNz"  # a header an operator might pass upstream


def _config(extra_name: str | None = None) -> dict[str, object]:
    sora = {
        "model_name": "sora",
        "provider": "openai",
        "model": "sora-2",
        "id": "sora-a",
        "api_base": f"http://user:{URL_PASSWORD}@127.0.0.1:9/v1?sig={SIGNATURE}",
        "api_key": UPSTREAM_KEY,
        "options": {
            "access_token": OPTION_TOKEN,
            "style": "plain",
            "headers": {"Authorization": AUTH_HEADER},
        },
    }
    models = [sora, {"model_name": "local/preview", "provider": "local", "model": "preview"}]
    if extra_name:
        models.append({"model_name": extra_name, "provider": "local", "model": "preview"})
    return {
        "model_list": models,
        "router": {"cooldown": {"min_requests": 3, "cooldown_s": 12}},
        "storage": {"secret_access_key": STORAGE_SECRET},
        "webhooks": [{"url": "https://hooks.example.com/in", "secret": WEBHOOK_SECRET}],
        "settings": {"outbound_allow": ["127.0.0.1/32"]},
    }


def test_config_in_force_with_every_secret_masked(tmp_path: Path) -> None:
    with running_gateway(tmp_path, _config()) as gw:
        key = gw.new_key()
        with gw.http(key) as http:
            refused = http.get("/config")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "admin_only"
        with gw.http() as http:
            response = http.get("/config")
            assert response.status_code == 200, response.text
            text = response.text
            shown = response.json()
            for secret in (
                UPSTREAM_KEY, OPTION_TOKEN, WEBHOOK_SECRET, STORAGE_SECRET, URL_PASSWORD,
                SIGNATURE, gw.master_key, AUTH_HEADER,
            ):  # fmt: skip
                assert secret not in text, secret
            sora = next(d for d in shown["model_list"] if d["id"] == "sora-a")
            assert sora["api_key"] == "[redacted]"
            assert sora["options"] == {
                "access_token": "[redacted]",
                "style": "plain",
                "headers": {"Authorization": "[redacted]"},
            }
            assert "127.0.0.1:9/v1?sig=[redacted]" in sora["api_base"]
            assert shown["storage"]["secret_access_key"] == "[redacted]"
            assert shown["webhooks"][0]["secret"] == "[redacted]"
            assert shown["webhooks"][0]["url"] == "https://hooks.example.com/in"
            assert shown["router"]["cooldown"]["cooldown_s"] == 12
            assert shown["settings"]["outbound_allow"] == ["127.0.0.1/32"]
            local = next(d for d in shown["model_list"] if d["model_name"] == "local/preview")
            assert local["api_key"] is None  # unset stays null: the page says none is set

            write_config(gw.data_dir, _config(extra_name="extra"))  # what a reload puts in force
            assert http.post("/config/reload").status_code == 200
            names = [d["model_name"] for d in http.get("/config").json()["model_list"]]
            assert "extra" in names
