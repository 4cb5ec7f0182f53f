"""The gemini provider (Veo on the Gemini Developer API, against its simulator) in the
contract suite."""

from __future__ import annotations

from tests.contract.case import Failure, ProviderCase, keyed, wrong_key
from vidgate.providers.gemini.simulator import SimulatorConfig, create_app

KEY = "AIza-sim-gemini-contract"

CASE = ProviderCase(
    provider="gemini",
    model="veo-3.1-fast-generate-preview",
    upstream=keyed(create_app, SimulatorConfig(api_key=KEY), "/v1beta"),
    request={"size": "1280x720", "seconds": "4"},
    invalid=({"seconds": "5"}, "seconds"),
    cancels=False,
    failure=Failure("content_filtered", "Support codes"),
    bad_auth=wrong_key("AIza-not-the-upstream-key"),
    follow_ups=frozenset({"extend"}),
    auth_hides=("API key not valid",),
)
