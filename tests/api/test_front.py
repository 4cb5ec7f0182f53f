"""The gateway's front layers (``api/front.py``): a route's unexpected exception is answered
once, in the envelope, with the request id, and logged once."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from tests.support import serve, write_config
from vidgate.app import create_app
from vidgate.settings import build_settings


def test_an_unexpected_error_is_answered_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = write_config(tmp_path, {"model_list": []})
    settings = build_settings(data_dir=tmp_path, config_path=config)
    app = create_app(settings)

    async def boom() -> None:
        raise RuntimeError("kaboom")

    app.add_api_route("/boom", boom)
    with (
        caplog.at_level(logging.ERROR, logger="vidgate"),
        serve(app, settings=settings.config.settings) as url,
    ):
        reply = httpx.get(f"{url}/boom", headers={"x-request-id": "req-boom-1"}, timeout=120)
    assert reply.status_code == 500
    assert reply.json()["error"]["type"] == "server_error"
    assert reply.headers["x-request-id"] == "req-boom-1"
    unhandled = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert len(unhandled) == 1, [r.getMessage() for r in caplog.records]
