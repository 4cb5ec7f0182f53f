"""The luma provider (against its simulator) in the contract suite."""

from __future__ import annotations

from tests.contract.case import Failure, ProviderCase, keyed, wrong_key
from vidgate.providers.luma.simulator import SimulatorConfig, create_app

KEY = "luma-contract-key"

CASE = ProviderCase(
    provider="luma",
    model="ray-flash-2",
    upstream=keyed(create_app, SimulatorConfig(api_key=KEY), "/dream-machine/v1"),
    request={"size": "960x540", "seconds": "5"},
    invalid=({"seconds": "4"}, "seconds"),
    cancels=True,
    failure=Failure("content_policy_violation", "advanced moderation"),
    bad_auth=wrong_key("luma-wrong-key-0123456789"),
    follow_ups=frozenset({"extend"}),
)
