"""The runway provider (against its simulator) in the contract suite."""

from __future__ import annotations

from tests.contract.case import Failure, ProviderCase, keyed, wrong_key
from vidgate.providers.runway.simulator import SimulatorConfig, create_app

KEY = "key_" + "c0" * 64

CASE = ProviderCase(
    provider="runway",
    model="gen4.5",
    upstream=keyed(create_app, SimulatorConfig(api_key=KEY)),
    request={"size": "1280x720", "seconds": "2"},
    invalid=({"seconds": "12"}, "seconds"),
    cancels=True,
    failure=Failure("moderation_blocked", "SAFETY.INPUT.TEXT"),
    bad_auth=wrong_key("key_" + "00" * 64),
)
