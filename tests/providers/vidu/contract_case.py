"""The vidu provider (against its simulator) in the contract suite."""

from __future__ import annotations

from tests.contract.case import Failure, ProviderCase, keyed, wrong_key
from vidgate.providers.vidu.simulator import SimulatorConfig, create_app

KEY = "vda_" + "c0" * 24

CASE = ProviderCase(
    provider="vidu",
    model="viduq2",
    upstream=keyed(create_app, SimulatorConfig(api_key=KEY), "/ent/v2"),
    request={"size": "1280x720", "seconds": "2"},
    invalid=({"seconds": "12"}, "seconds"),
    cancels=True,
    failure=Failure("moderation_blocked", "CreationPolicyViolation"),
    bad_auth=wrong_key("vda_" + "00" * 24),
)
