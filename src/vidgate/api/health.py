"""Liveness for load balancers and the CLI; no auth, no secrets."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from vidgate import __version__
from vidgate.api import openapi_models as m
from vidgate.api.schema import described

router = APIRouter()


@router.get("/health", openapi_extra=described(returns=m.Health, errors=False))
async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "version": __version__})
