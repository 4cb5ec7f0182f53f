"""Shared fixtures: a gateway on the embedded default (local renderer) per test module."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Gateway, running_gateway

os.environ.pop("VIDGATE_MASTER_KEY", None)
os.environ.pop("VIDGATE_CONFIG", None)
os.environ.pop("VIDGATE_DATABASE_URL", None)

LOCAL_FAST = {
    "model_list": [{"model_name": "local/preview", "provider": "local", "model": "preview"}],
    "settings": {"local_workers": 2},
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("gw"), LOCAL_FAST) as gw:
        yield gw


@pytest.fixture
def fresh_gateway(tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(tmp_path / "gw", LOCAL_FAST) as gw:
        yield gw
