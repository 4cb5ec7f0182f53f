"""The minimax provider (against its simulator) in the contract suite."""

from __future__ import annotations

from tests.contract.case import Failure, ProviderCase, keyed, wrong_key
from vidgate.providers.minimax.simulator import SimulatorConfig, create_app

KEY = "sk-api-" + "c0" * 32

CASE = ProviderCase(
    provider="minimax",
    model="MiniMax-Hailuo-2.3",
    upstream=keyed(create_app, SimulatorConfig(api_key=KEY)),
    request={"size": "1366x768", "seconds": "6"},
    invalid=({"seconds": "8"}, "seconds"),
    cancels=False,  # v1 has no cancel or delete (MiniMax-H3, v2, has: test_gateway_minimax.py)
    failure=Failure("moderation_blocked", "sensitive"),
    bad_auth=wrong_key("sk-api-" + "00" * 32),
    retry_after="10",
)
