"""Fixtures the provider tests share: gateway modules (``test_gateway_*.py``) and simulator
modules (``test_simulator.py``).

A gateway module declares ``SETUP`` (a :class:`tests.support.GatewaySetup`); ``sim`` and
``gw`` start its simulator and a gateway in front of it, once per module. ``http`` and
``client`` talk to ``gw`` through a :class:`~tests.support.Recorder`, checked after every
test for ``leak_secrets``: the deployment key, the simulator's host and the upstream's ids.

A simulator module declares ``SIMULATOR`` (a :class:`tests.providers.simulators.SimSetup`);
``sim_app``, ``sim`` and ``base_url`` serve its simulator once per module, ``state`` resets
it for a test, and ``http`` is a plain client of it with the provider's auth.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.providers.simulators import SimSetup
from tests.support import Gateway, GatewaySetup, Recorder, Secrets, Sim, serve_sim


def simulator(request: pytest.FixtureRequest) -> SimSetup | None:
    """The module's ``SIMULATOR``; ``None`` in a gateway module."""
    setup: SimSetup | None = getattr(request.module, "SIMULATOR", None)
    return setup


@pytest.fixture(scope="module")
def gateway_setup(request: pytest.FixtureRequest) -> GatewaySetup:
    setup: GatewaySetup = request.module.SETUP
    return setup


@pytest.fixture(scope="module")
def sim_app(request: pytest.FixtureRequest) -> Any:
    """The simulator's app, as the module's ``SIMULATOR`` or ``SETUP`` makes it."""
    setup: SimSetup | GatewaySetup = simulator(request) or request.module.SETUP
    return setup.app()


@pytest.fixture(scope="module")
def sim(sim_app: Any) -> Iterator[Sim]:
    with serve_sim(sim_app) as running:
        yield running


@pytest.fixture(scope="module")
def base_url(sim: Sim) -> str:
    return sim.url


@pytest.fixture
def state(request: pytest.FixtureRequest, sim: Sim) -> Any:
    """The simulator's state, reset: ``POST /__sim__/reset``, and its config as declared."""
    httpx.post(f"{sim.url}/__sim__/reset", timeout=30).raise_for_status()
    setup = simulator(request)
    assert setup is not None, "state resets the simulator of a module with SIMULATOR"
    setup.restore(sim.state)
    return sim.state


@pytest.fixture(scope="module")
def gw(
    gateway_setup: GatewaySetup, sim: Sim, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp(f"gw-{gateway_setup.provider}")
    with gateway_setup.gateway(sim.url, data_dir) as gateway:
        yield gateway


@pytest.fixture
def leak_secrets(gateway_setup: GatewaySetup, sim: Sim) -> Secrets:
    return gateway_setup.secrets(sim)


@pytest.fixture
def recorder(leak_secrets: Secrets) -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    assert recorder.seen, "the test made no gateway calls through the recorded clients"
    assert recorder.leaks(leak_secrets()) == [], "upstream ids, hosts or keys leaked to a client"


@pytest.fixture
def http(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    """A gateway module's: a client of ``gw``, through ``recorder``. A simulator module's: a
    client of the simulator (``SIMULATOR.client``), after ``state`` has reset it."""
    setup = simulator(request)
    if setup is None:
        gw: Gateway = request.getfixturevalue("gw")
        recorder: Recorder = request.getfixturevalue("recorder")
        with recorder.http(gw) as client:
            yield client
    else:
        request.getfixturevalue("state")
        with setup.client(request.getfixturevalue("base_url")) as client:
            yield client


@pytest.fixture
def client(gw: Gateway, recorder: Recorder) -> Iterator[openai.OpenAI]:
    with recorder.sdk(gw) as sdk:
        yield sdk
