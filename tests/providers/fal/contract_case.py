"""The fal provider (against its simulator) in the contract suite."""

from __future__ import annotations

from tests.contract.case import Failure, ProviderCase, keyed, wrong_key
from vidgate.providers.fal.simulator import SimulatorConfig, create_app

KEY = "c0ffee00-0000-4000-8000-000000000000:" + "c0" * 16

CASE = ProviderCase(
    provider="fal",
    model="fal-ai/luma-dream-machine/ray-2-flash",
    upstream=keyed(create_app, SimulatorConfig(api_key=KEY)),
    request={"size": "960x540", "seconds": "5"},
    invalid=({"seconds": "7"}, "seconds"),
    cancels=True,
    failure=Failure("moderation_blocked", "content checker"),
    bad_auth=wrong_key("fa1fa1fa-0000-4000-8000-000000000000:" + "00" * 16),
)
