"""The seedance provider (against its simulator) in the contract suite."""

from __future__ import annotations

from tests.contract.case import Failure, ProviderCase, keyed, wrong_key
from vidgate.providers.seedance.simulator import SimulatorConfig, create_app

KEY = "ark-" + "c0ffee" * 6

CASE = ProviderCase(
    provider="seedance",
    model="doubao-seedance-1-0-lite-t2v-250428",
    upstream=keyed(create_app, SimulatorConfig(api_key=KEY), "/api/v3"),
    request={"size": "864x480", "seconds": "3"},
    invalid=({"seconds": "2"}, "seconds"),
    cancels=True,
    failure=Failure("moderation_blocked", "OutputVideoSensitiveContentDetected"),
    bad_auth=wrong_key("ark-" + "0000" * 8),
)
