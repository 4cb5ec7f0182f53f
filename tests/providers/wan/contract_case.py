"""The wan provider (DashScope, against its simulator) in the contract suite."""

from __future__ import annotations

from tests.contract.case import Failure, ProviderCase, keyed, wrong_key
from vidgate.providers.wan.simulator import SimulatorConfig, create_app

KEY = "sk-" + "c0" * 16

CASE = ProviderCase(
    provider="wan",
    model="wan2.5-t2v-preview",
    upstream=keyed(create_app, SimulatorConfig(api_key=KEY), "/api/v1"),
    request={"size": "832x480", "seconds": "5"},
    invalid=({"seconds": "7"}, "seconds"),
    cancels=True,
    failure=Failure("moderation_blocked", "DataInspectionFailed"),
    bad_auth=wrong_key("sk-" + "00" * 16),
    retry_after=None,  # DashScope documents no Retry-After
)
