"""The xai provider (against its simulator) in the contract suite."""

from __future__ import annotations

from tests.contract.case import Failure, ProviderCase, keyed, wrong_key
from vidgate.providers.xai.simulator import SimulatorConfig, create_app

KEY = "xai-contract-key"
BAD_KEY = "xai-not-the-key-98765"

CASE = ProviderCase(
    provider="xai",
    model="grok-imagine-video",
    upstream=keyed(create_app, SimulatorConfig(api_key=KEY), "/v1"),
    request={"size": "854x480", "seconds": "2"},
    invalid=({"seconds": "20"}, "seconds"),
    cancels=False,
    failure=Failure("content_moderated", "content moderation"),
    bad_auth=wrong_key(BAD_KEY),
    auth_hides=("console.x.ai", BAD_KEY[:2] + "***"),
)
