"""``GET /config`` (master key): the configuration in force, every secret masked.

What it shows is what the gateway runs with, not the file on disk: the deployments of the
live routing table (a reload's too, and those registered from the environment), the router
settings in force, and the ``settings:``, database, storage and webhook sections read at
start (a reload does not change them). Secrets are masked twice over: a field whose name
says secret (``api_key``, ``secret``, ``password``, ``token``, ``credential``, ``*_key``...)
shows ``[redacted]`` whatever its value, and every other string passes through the process's
one redactor (``vidgate.redact.REDACTOR``: the known credentials, key- and token-shaped
strings, URL passwords and signed query strings).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse

from vidgate.accounting.keys import Principal
from vidgate.api import openapi_models as m
from vidgate.api.auth import admin
from vidgate.api.schema import described
from vidgate.redact import REDACTED, REDACTOR, SECRET_OPTION
from vidgate.routing.router import Router
from vidgate.settings import Settings
from vidgate.values import Deployment

router = APIRouter()

_NOT_NAMES = ("model_aliases",)
"""Mappings whose keys are names chosen by the operator, not field names."""


@router.get("/config", openapi_extra=described(returns=m.RunningConfig))
async def running_config(request: Request, _caller: Principal = Depends(admin)) -> JSONResponse:
    """The configuration in force, secrets masked."""
    settings: Settings = request.app.state.settings
    routing: Router = request.app.state.router
    table = routing.live.table
    config = settings.config
    shown: dict[str, Any] = {
        "object": "config",
        "config_path": str(settings.config_path) if settings.config_path else None,
        "default_model": table.default_model,
        "model_aliases": dict(config.model_aliases),
        "model_list": [_deployment(d) for d in table.by_id.values()],
        "router": routing.settings.model_dump(mode="json"),
        "settings": config.settings.model_dump(mode="json"),
        "database_url": settings.database_url,
        "redis_url": settings.redis_url,
        "storage_url": settings.storage_url,
        "storage": config.storage.model_dump(mode="json"),
        "webhooks": [endpoint.model_dump(mode="json") for endpoint in config.webhooks],
    }
    return JSONResponse(mask(shown))


def _deployment(deployment: Deployment) -> dict[str, Any]:
    pricing = deployment.pricing
    return {
        "id": deployment.id,
        "model_name": deployment.model_name,
        "provider": deployment.provider,
        "model": deployment.model,
        "api_base": deployment.api_base,
        "api_key": deployment.api_key,
        "weight": deployment.weight,
        "rpm": deployment.rpm,
        "max_concurrent_jobs": deployment.max_concurrent_jobs,
        "max_concurrent_polls": deployment.max_concurrent_polls,
        "poll_interval_s": deployment.poll_interval_s,
        "timeout_s": deployment.timeout_s,
        "idempotent_submit": deployment.idempotent_submit,
        "options": _plain(dict(deployment.options)),
        "pricing": _plain(dataclasses.asdict(pricing)) if pricing is not None else None,
    }


def _plain(value: Any) -> Any:
    """``value`` as JSON types (mappings and sequences of the config's values)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def mask(value: Any, name: str = "") -> Any:
    """``value`` with every field named like a secret replaced by ``[redacted]`` (kept
    ``null`` when unset, so the page still says whether one is configured) and every other
    string passed through ``REDACTOR``."""
    if name and SECRET_OPTION.search(name) and value not in (None, "", [], {}):
        return REDACTED
    if isinstance(value, dict):
        if name in _NOT_NAMES:
            return {REDACTOR(str(k)): mask(v) for k, v in value.items()}
        return {str(k): mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, name) for v in value]
    if isinstance(value, str):
        return REDACTOR(value)
    return value
