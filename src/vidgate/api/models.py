"""``GET /models``: the public model names the caller's key may use, OpenAI list shape, each
with its list price (per second, by resolution tier) next to what it takes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse

from vidgate.accounting.keys import Principal
from vidgate.api import openapi_models as m
from vidgate.api.auth import principal
from vidgate.api.schema import described
from vidgate.routing.config import DeploymentTable
from vidgate.values import Deployment, OptionSpec, Pricing

router = APIRouter()


@router.get("/models", openapi_extra=described(returns=m.ModelList))
async def list_models(request: Request, caller: Principal = Depends(principal)) -> JSONResponse:
    table: DeploymentTable = request.app.state.live.table
    started = int(request.app.state.started_at)
    price_of: Callable[[Deployment], Pricing | None] = request.app.state.price_of
    data = []
    names = [(name, name) for name in sorted(table.groups)]
    names += sorted(table.aliases.items())
    for name, group_name in names:
        group = table.groups[group_name]
        if not caller.may_use(group_name):
            continue
        caps = group[0].capabilities
        data.append(
            {
                "id": name,
                "alias_for": None if name == group_name else group_name,
                "object": "model",
                "created": started,
                "owned_by": group[0].provider,
                "description": caps.description,
                "default": name == table.default_model,
                "pricing": _price(price_of(group[0])),
                "capabilities": {
                    "operations": sorted(caps.operations),
                    "seconds": list(caps.seconds),
                    "default_seconds": caps.default_seconds,
                    "sizes": list(caps.sizes),
                    "default_size": caps.default_size,
                    "fps": list(caps.fps),
                    "input_reference": "first_frame" in caps.image_roles,
                    "seed": caps.seed,
                    "image_roles": sorted(caps.image_roles),
                    "options": {name: spec.allowed() for name, spec in caps.options.items()},
                    "option_fields": {name: _field(spec) for name, spec in caps.options.items()},
                    "any_options": caps.any_options,
                },
            }
        )
    return JSONResponse({"object": "list", "data": data})


def _price(pricing: Pricing | None) -> dict[str, Any] | None:
    """A price in USD per second by tier (a price billed in credits or units, converted)."""
    if pricing is None:
        return None

    def usd(table: Mapping[str, float]) -> dict[str, float]:
        return {tier: round(rate * pricing.usd_per_unit, 6) for tier, rate in table.items()}

    audio = pricing.per_second_audio
    return {
        "usd_per_second": usd(pricing.per_second),
        "usd_per_second_with_audio": usd(audio) if audio else None,
        "billed_in": pricing.unit,
        "source": pricing.source,
    }


def _field(spec: OptionSpec) -> dict[str, Any]:
    """An option as a form field: its kind and the values or range it allows (the console's
    playground builds its inputs from these)."""
    return {
        "kind": spec.kind,
        "choices": list(spec.choices),
        "minimum": spec.minimum,
        "maximum": spec.maximum,
        "max_length": spec.max_length,
        "description": spec.description,
    }
