"""The openai provider (against its simulator) in the contract suite."""

from __future__ import annotations

from tests.contract.case import FOLLOW_UPS, Failure, ProviderCase, keyed, wrong_key
from vidgate.providers.openai.simulator import SimulatorConfig, create_app

KEY = "sk-contract"

CASE = ProviderCase(
    provider="openai",
    model="sora-2",
    upstream=keyed(create_app, SimulatorConfig(api_key=KEY, poll_after_ms=50), "/v1"),
    request={"size": "1280x720", "seconds": "4"},
    invalid=({"size": "1920x1080"}, "size"),
    cancels=True,
    follow_ups=frozenset(FOLLOW_UPS),
    faults=frozenset({"fail", "429", "500", "unknown-status", "poll-429"}),
    failure=Failure("moderation_blocked", "Blocked by the moderation system."),
    bad_auth=wrong_key("sk-not-the-upstream-key-0123456789"),
)
