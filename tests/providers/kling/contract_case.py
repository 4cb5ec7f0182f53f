"""The kling provider (against its simulator) in the contract suite."""

from __future__ import annotations

from typing import Any

from tests.contract.case import Failure, ProviderCase, keyed
from vidgate.providers.kling.simulator import SimulatorConfig, create_app

ACCESS_KEY = "ak-contract-0123456789"
SECRET_KEY = "sk-contract-9876543210"


def wrong_secret(fields: dict[str, Any]) -> dict[str, Any]:
    """The right access key, signed with the wrong secret."""
    return fields | {"options": {"secret_key": "sk-not-the-secret-000"}}


CASE = ProviderCase(
    provider="kling",
    model="kling-v2-1",
    upstream=keyed(
        create_app,
        SimulatorConfig(api_key=f"{ACCESS_KEY}:{SECRET_KEY}"),
        key=ACCESS_KEY,
        secrets=(SECRET_KEY,),
        options={"secret_key": SECRET_KEY},
    ),
    request={"size": "1280x720", "seconds": "5"},
    invalid=({"seconds": "8"}, "seconds"),
    cancels=False,
    failure=Failure("moderation_blocked", "risk control", omits=("SUCCEED",)),
    bad_auth=wrong_secret,
)
