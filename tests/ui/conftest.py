"""The console's fixtures: one Chromium per test session, and a gateway that serves the local
renderer and one provider simulator (OpenAI's, priced like sora-2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.support import Gateway, Sim, quick, running_gateway, serve_sim
from tests.ui.browser import UI_TIMEOUT_MS, chromium
from vidgate.providers.openai import simulator as openai_sim

SIM_KEY = "sk-console-sim"


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """``expect`` waits as long as the pages may take on a busy machine (not its 5 s)."""
    expect.set_options(timeout=UI_TIMEOUT_MS)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one test module. Not for the whole session: Playwright's sync API runs an
    event loop on this thread while it is open, and later tests that start their own
    (``asyncio.run``, async tests) would find it running."""
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    config = quick(openai_sim.SimulatorConfig(api_key=SIM_KEY), job_seconds=1.5)
    with serve_sim(openai_sim.create_app(config)) as served:
        yield served


def sora_deployment(sim: Sim, **fields: Any) -> dict[str, Any]:
    """The ``sora`` deployment on the simulator (``fields``: more, or overrides)."""
    return {
        "model_name": "sora",
        "provider": "openai",
        "model": "sora-2",
        "api_base": f"{sim.url}/v1",
        "api_key": SIM_KEY,
        "poll_interval_s": 0.1,
        **fields,
    }


@pytest.fixture(scope="module")
def console(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway with ``sora`` (the simulator, $0.10 a second) and ``local/preview`` (free),
    webhooks allowed to reach loopback (the tests' receivers)."""
    local = {"model_name": "local/preview", "provider": "local", "model": "preview"}
    config = {
        "model_list": [sora_deployment(sim), local],
        "settings": {"local_workers": 1, "outbound_allow": ["127.0.0.1/32"]},
    }
    with running_gateway(tmp_path_factory.mktemp("console"), config) as gateway:
        yield gateway
