"""Fixtures the provider gateway tests share (``test_gateway_*.py``).

A gateway module defines its module-scoped ``sim`` (:func:`tests.support.serve_sim`) and
``gw`` (:func:`tests.support.running_gateway`), and ``leak_secrets``: what must never reach a
client (keys, the simulator's host, upstream ids). ``http`` and ``client`` talk to ``gw``
through a :class:`~tests.support.Recorder`, checked for those after every test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

import httpx
import httpx2
import openai
import pytest

from tests.support import Gateway, Recorder

Secrets = Callable[[], Iterable[str | re.Pattern[str]]]


@pytest.fixture
def leak_secrets() -> Secrets:
    """Read after the test (so it sees the upstream ids the test made); modules override it."""
    return lambda: ()


@pytest.fixture
def recorder(leak_secrets: Secrets) -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    assert recorder.seen, "the test made no gateway calls through the recorded clients"
    assert recorder.leaks(leak_secrets()) == [], "upstream ids, hosts or keys leaked to a client"


@pytest.fixture
def http(gw: Gateway, recorder: Recorder) -> Iterator[httpx.Client]:
    """Raw httpx to the gateway (master key), every response recorded."""
    with gw.http() as client:
        client.event_hooks = {"response": [recorder.record]}
        yield client


@pytest.fixture
def client(gw: Gateway, recorder: Recorder) -> Iterator[openai.OpenAI]:
    """The official openai SDK (master key, no retries), every response recorded."""
    with httpx2.Client(event_hooks={"response": [recorder.record]}, timeout=120) as transport:
        sdk = gw.sdk().with_options(http_client=transport)
        assert sdk.max_retries == 0
        yield sdk
