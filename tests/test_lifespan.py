"""The app's lifespan stops what it started: after a clean stop, and after a start that
failed part-way (a Redis nobody answers, the last thing started before recovery)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.conftest import LOCAL_FAST
from tests.support import free_port, write_config
from vidgate.app import create_app
from vidgate.settings import build_settings


def app_for(data_dir: Path, **config: object) -> FastAPI:
    path = write_config(data_dir, {**LOCAL_FAST, **config})
    return create_app(build_settings(data_dir=data_dir, config_path=path))


def other_tasks() -> set[asyncio.Task[object]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


def gateway_threads() -> set[threading.Thread]:
    """The database's reader and writer threads, the heartbeat, the media workers' feeders."""
    return {t for t in threading.enumerate() if t.name.startswith("vidgate-") and t.is_alive()}


async def test_a_clean_stop_leaves_nothing_running(tmp_path: Path) -> None:
    before = gateway_threads()
    app = app_for(tmp_path)
    async with app.router.lifespan_context(app):
        assert other_tasks()  # poller, lease upkeep, webhook sender, request log, retention
        assert gateway_threads() - before  # the database's threads, the heartbeat
    assert other_tasks() == set()
    assert gateway_threads() - before == set()


async def test_a_start_that_fails_part_way_stops_what_it_started(tmp_path: Path) -> None:
    before = gateway_threads()
    app = app_for(tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0")  # nobody listens
    with pytest.raises(Exception, match=r"(?i)connect"):
        async with app.router.lifespan_context(app):
            pytest.fail("the gateway started without its Redis")
    # the webhook sender and the request log writer had started: both were stopped
    assert other_tasks() == set()
    # the database had been opened and migrated: it was disposed (its threads ended)
    assert gateway_threads() - before == set()
