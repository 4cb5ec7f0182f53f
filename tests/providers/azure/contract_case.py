"""The azure provider (v1 API, Sora 2 deployment) against its simulator in the contract suite.

The legacy jobs API (Sora 1) is covered end to end in ``test_gateway_azure.py``.
"""

from __future__ import annotations

from tests.contract.case import Failure, ProviderCase, keyed, wrong_key
from vidgate.providers.azure.simulator import SimulatorConfig, create_app

KEY = "azure-contract-key"

CASE = ProviderCase(
    provider="azure",
    model="sora-2",
    upstream=keyed(create_app, SimulatorConfig(api_key=KEY), options={"api": "v1"}),
    request={"size": "1280x720", "seconds": "4"},
    invalid=({"seconds": "16"}, "seconds"),
    cancels=True,
    follow_ups=frozenset({"remix"}),
    failure=Failure("moderation_blocked", "moderation system"),
    bad_auth=wrong_key("azure-wrong-key-0123456789"),
)
