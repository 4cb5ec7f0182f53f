"""Fixtures the provider gateway tests share (``test_gateway_*.py``).

A gateway module declares ``SETUP`` (a :class:`tests.support.GatewaySetup`); ``sim`` and
``gw`` start its simulator and a gateway in front of it, once per module. ``http`` and
``client`` talk to ``gw`` through a :class:`~tests.support.Recorder`, checked after every
test for ``leak_secrets``: the deployment key, the simulator's host and the upstream's ids.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.support import Gateway, GatewaySetup, Recorder, Secrets, Sim, serve_sim


@pytest.fixture(scope="module")
def gateway_setup(request: pytest.FixtureRequest) -> GatewaySetup:
    setup: GatewaySetup = request.module.SETUP
    return setup


@pytest.fixture(scope="module")
def sim(gateway_setup: GatewaySetup) -> Iterator[Sim]:
    with serve_sim(gateway_setup.app()) as running:
        yield running


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
def http(gw: Gateway, recorder: Recorder) -> Iterator[httpx.Client]:
    with recorder.http(gw) as client:
        yield client


@pytest.fixture
def client(gw: Gateway, recorder: Recorder) -> Iterator[openai.OpenAI]:
    with recorder.sdk(gw) as sdk:
        yield sdk
