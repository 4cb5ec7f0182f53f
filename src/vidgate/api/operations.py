"""Operator routes (master key): deployment health, config reload and a job's full record.

``/health/deployments`` shows what the router sees — breaker state, cooldown end, the last
error, create latency, running jobs and rate use per deployment — never credentials or
upstream URLs. ``/jobs/{id}`` shows a job's routing history (every create attempt, with its
deployment, error and latency) for any owner.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse

from vidgate.accounting.keys import Principal
from vidgate.api.auth import admin
from vidgate.api.schema import described
from vidgate.errors import InvalidRequest, NotFound
from vidgate.jobs.store import Job
from vidgate.routing.router import Router
from vidgate.settings import ConfigError

router = APIRouter()
Admin = Depends(admin)


def _router(request: Request) -> Router:
    routing: Router = request.app.state.router
    return routing


@router.get("/health/deployments", openapi_extra=described())
async def deployment_health(request: Request, _caller: Principal = Admin) -> JSONResponse:
    rows = _router(request).status()
    healthy = sum(1 for row in rows if row["healthy"])
    return JSONResponse(
        {"healthy_count": healthy, "unhealthy_count": len(rows) - healthy, "deployments": rows}
    )


@router.post("/config/reload", openapi_extra=described())
async def reload_config(request: Request, _caller: Principal = Admin) -> JSONResponse:
    try:
        summary = request.app.state.reload()
    except ConfigError as exc:
        raise InvalidRequest(
            f"The config was not reloaded; the running config stays in force.\n{exc}",
            param="config",
            code="invalid_config",
        ) from None
    return JSONResponse({"reloaded": True, **summary.as_dict()})


@router.get("/jobs/{video_id}", openapi_extra=described())
async def job_record(video_id: str, request: Request, _caller: Principal = Admin) -> JSONResponse:
    job: Job | None = await request.app.state.jobs.store.get(video_id)
    if job is None:
        raise NotFound(f"No video found with id '{video_id}'.", param="video_id")
    return JSONResponse(_record(job))


def _record(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "owner_key_id": job.owner_key_id,
        "end_user": job.end_user,
        "model": job.model,
        "deployment_id": job.deployment_id,
        "provider": job.provider,
        "upstream_model": job.upstream_model,
        "operation": job.operation,
        "status": job.status,
        "phase": job.phase,
        "error": {"code": job.error_code, "message": job.error_message} if job.error_code else None,
        "attempts": job.attempts or [],
        "reserved_usd": job.reserved_usd,
        "cost_usd": job.cost_usd,
        "budget_ids": job.budget_ids or [],
        "created_at": job.created_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "deleted_at": job.deleted_at,
    }
