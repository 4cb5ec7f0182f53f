"""The replicate provider (against its simulator) in the contract suite."""

from __future__ import annotations

from tests.contract.case import Failure, ProviderCase, keyed, wrong_key
from vidgate.providers.replicate.simulator import SimulatorConfig, create_app

KEY = "r8_" + "c0" * 20

CASE = ProviderCase(
    provider="replicate",
    model="bytedance/seedance-2.0",
    upstream=keyed(create_app, SimulatorConfig(api_key=KEY), "/v1"),
    request={"size": "854x480", "seconds": "4"},
    invalid=({"seconds": "20"}, "seconds"),
    cancels=True,
    failure=Failure("moderation_blocked", "E005"),
    bad_auth=wrong_key("r8_" + "00" * 20),
)
