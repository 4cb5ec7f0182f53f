"""Every CLI test runs in an empty working directory (client commands read the master key
from ``./.vidgate`` when run beside a gateway) with no VIDGATE_* client settings."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _clean_cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("VIDGATE_API_KEY", "VIDGATE_BASE_URL", "VIDGATE_DATA_DIR", "VIDGATE_MASTER_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
