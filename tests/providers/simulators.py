"""What the simulator test modules (``tests/providers/*/test_simulator.py``) share.

A simulator module declares ``SIMULATOR`` (a :class:`SimSetup`): its ``create_app``, its
config and its auth. ``tests/providers/conftest.py`` then serves the simulator once per
module (``sim_app``; ``sim``, a :class:`tests.support.Sim`; ``base_url``), resets it for each
test that asks for ``state`` (``POST /__sim__/reset``, and the config put back as declared),
and gives ``http``: a plain client of the simulator with the provider's auth, after that reset.
"""

from __future__ import annotations

import copy
import dataclasses
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import av
import httpx


@dataclass(frozen=True)
class SimSetup:
    """A provider's simulator, as its test module runs it."""

    simulator: Callable[[Any], Any]
    """The simulator's ``create_app``."""
    config: Any
    """Its ``SimulatorConfig``. The app gets a copy; a test may change ``state.config``, and
    the next test's ``state`` puts back what this one says."""
    headers: Mapping[str, str] | Callable[[], Mapping[str, str]] = field(default_factory=dict)
    """``http``'s headers (the provider's auth), or what makes them for each test (a fresh
    signed token)."""
    path: str = ""
    """Where ``http`` points: the simulator's URL plus this."""

    def app(self) -> Any:
        """The simulator's app, with its own copy of :attr:`config`."""
        return self.simulator(copy.deepcopy(self.config))

    def restore(self, state: Any) -> None:
        """Put ``state.config`` back as :attr:`config` declares it."""
        for spec in dataclasses.fields(self.config):
            declared = getattr(self.config, spec.name)
            if getattr(state.config, spec.name) != declared:
                setattr(state.config, spec.name, copy.deepcopy(declared))

    def client(self, url: str) -> httpx.Client:
        """A client of the simulator at ``url``: :attr:`path`, with :attr:`headers`."""
        headers = self.headers() if callable(self.headers) else self.headers
        return httpx.Client(base_url=f"{url}{self.path}", headers=dict(headers), timeout=30)


def decoded_shape(data: bytes) -> tuple[int, int, float]:
    """Width, height and length (s) of an MP4 given as bytes, decoded: its frames counted
    over its frame rate (:func:`tests.support.video_shape` reads the container's duration)."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        rate = float(stream.average_rate or 24)
        return stream.codec_context.width, stream.codec_context.height, frames / rate
