"""Key administration on LiteLLM-compatible paths (``/key/generate``, ``/key/info``, ...).

All routes need the master key, except ``/key/info`` without a ``key`` parameter, which
lets any key see itself. The raw key is returned once, by ``/key/generate``; afterwards
keys are shown by id, alias and a four-character hint.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse

from vidgate.accounting.budgets import BudgetStore, budget_fields
from vidgate.accounting.budgets import public as public_budget
from vidgate.accounting.end_users import key_defaults
from vidgate.accounting.keys import MASTER_ID, KeyStore, Principal, parse_expiry
from vidgate.accounting.ledger import budget_ids, budget_row
from vidgate.api import openapi_models as m
from vidgate.api.auth import admin, principal
from vidgate.api.body import read_fields
from vidgate.api.schema import described, query
from vidgate.errors import InvalidRequest, NotFound

router = APIRouter()
MAX_LIMIT = 1_000_000_000
MAX_NAME = 200
"""Largest ``rpm_limit`` / ``max_parallel_requests`` (the columns are 32-bit on PostgreSQL)."""


def _keys(request: Request) -> KeyStore:
    keys: KeyStore = request.app.state.keys
    return keys


def _models(request: Request, body: dict[str, Any]) -> list[str] | None:
    models = body.get("models")
    if models in (None, []):
        return None
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise InvalidRequest("'models' must be a list of model names.", param="models")
    table = request.app.state.live.table
    known = table.groups
    models = [table.resolve(m) for m in models]  # aliases grant their group
    unknown = [m for m in models if m not in known]
    if unknown:
        raise InvalidRequest(
            f"Unknown model(s) in 'models': {', '.join(unknown)}. "
            f"Known: {', '.join(sorted(known))}.",
            param="models",
        )
    return list(models)


def _metadata(body: dict[str, Any]) -> dict[str, Any]:
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise InvalidRequest("'metadata' must be an object.", param="metadata")
    return metadata


def _fits(value: str | None, param: str) -> None:
    """Aliases, team and user ids are stored in columns of ``MAX_NAME`` characters."""
    if value is not None and len(value) > MAX_NAME:
        raise InvalidRequest(
            f"'{param}' is too long: {len(value)} characters; allowed: at most {MAX_NAME}.",
            param=param,
            code="string_above_max_length",
        )


def _limits(body: dict[str, Any]) -> dict[str, Any]:
    """Key columns: ``team_id``, ``user_id``, ``rpm_limit``, ``max_parallel_requests``."""
    limits: dict[str, Any] = {}
    for name in ("team_id", "user_id"):
        if name in body:
            value = body[name]
            if value is not None and (not isinstance(value, str) or not value):
                raise InvalidRequest(f"'{name}' must be a non-empty string.", param=name)
            _fits(value, name)
            limits[name] = value
    for name, column in (
        ("rpm_limit", "rpm_limit"),
        ("max_parallel_requests", "max_parallel_jobs"),
    ):
        if name in body:
            value = body[name]
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT
            ):
                raise InvalidRequest(
                    f"Invalid value for '{name}': an integer from 1 to {MAX_LIMIT}, or null.",
                    param=name,
                )
            limits[column] = value
    if "drop_params" in body:
        limits["drop_params"] = _drop_params(body["drop_params"])
    if "end_user_limits" in body:  # defaults for the key's end users (api/end_users.py)
        limits["end_user_limits"] = key_defaults(body["end_user_limits"])
    return limits


def _drop_params(value: Any) -> int | None:
    """A key's ``drop_params``: true, false, or null (the gateway's setting)."""
    if value is not None and not isinstance(value, bool):
        raise InvalidRequest(
            f"Invalid value for 'drop_params': {value!r}. Allowed: true, false, or null "
            "(the gateway's setting).",
            param="drop_params",
        )
    return None if value is None else int(value)


def _budgets(request: Request) -> BudgetStore:
    store: BudgetStore = request.app.state.budgets
    return store


@router.post(
    "/key/generate",
    openapi_extra=described(body=m.KeyGenerate, body_required=False, returns=m.KeyGenerated),
)
async def generate(request: Request, _: Principal = Depends(admin)) -> JSONResponse:
    body = await read_fields(request, allow_empty=True)
    alias = body.get("key_alias", body.get("alias"))
    if alias is not None and not isinstance(alias, str):
        raise InvalidRequest("'key_alias' must be a string.", param="key_alias")
    _fits(alias, "key_alias")
    fields = budget_fields(body)
    now = time.time()
    key, record = await _keys(request).generate(
        alias=alias,
        models=_models(request, body),
        expires_at=parse_expiry(body.get("duration"), body.get("expires"), now),
        metadata=_metadata(body),
        limits=_limits(body),
        budget=budget_row("", fields.get("max_budget"), fields.get("budget_duration"), now),
    )
    budget = await _budgets(request).get(f"key:{record.id}")
    return JSONResponse({"key": key, **record.public(), **public_budget(budget)})


@router.get(
    "/key/info",
    openapi_extra=described(
        params=[query("key", "A key id, alias or key (master key only); default: the caller.")],
        returns=m.KeyInfo,
    ),
)
async def info(request: Request, caller: Principal = Depends(principal)) -> JSONResponse:
    ref = request.query_params.get("key")
    if ref is None and not caller.is_admin:
        ref = caller.key_id
    if ref is None:
        return JSONResponse({"key_id": MASTER_ID, "info": {"key_id": MASTER_ID, "admin": True}})
    if not caller.is_admin:
        record = await _keys(request).find(ref)
        if record.id != caller.key_id:
            raise InvalidRequest("A key may only look up itself.", param="key")
    record = await _keys(request).find(ref)
    budget = await _budgets(request).get(f"key:{record.id}")
    held = await _budgets(request).balances(budget_ids(record.id, record.team_id, record.user_id))
    return JSONResponse(
        {
            "key_id": record.id,
            "info": {**record.public(), **public_budget(budget), "budgets": held},
        }
    )


@router.get("/key/list", openapi_extra=described(returns=m.KeyList))
async def list_keys(request: Request, _: Principal = Depends(admin)) -> JSONResponse:
    records = await _keys(request).list()
    found = await _budgets(request).many([f"key:{r.id}" for r in records])
    keys = [{**r.public(), **public_budget(found.get(f"key:{r.id}"))} for r in records]
    return JSONResponse({"keys": keys, "total_count": len(records)})


@router.post("/key/update", openapi_extra=described(body=m.KeyUpdate, returns=m.Key))
async def update(request: Request, _: Principal = Depends(admin)) -> JSONResponse:
    body = await read_fields(request)
    ref = body.get("key")
    if not isinstance(ref, str) or not ref:
        raise InvalidRequest("Missing required parameter: 'key'.", param="key")
    values: dict[str, Any] = {}
    if "key_alias" in body:
        if body["key_alias"] is not None and not isinstance(body["key_alias"], str):
            raise InvalidRequest("'key_alias' must be a string or null.", param="key_alias")
        _fits(body["key_alias"], "key_alias")
        values["alias"] = body["key_alias"]
    if "models" in body:
        values["models"] = _models(request, body)
    if "metadata" in body:
        values["metadata"] = _metadata(body)
    if "duration" in body or "expires" in body:
        values["expires_at"] = parse_expiry(body.get("duration"), body.get("expires"), time.time())
    values.update(_limits(body))
    fields = budget_fields(body)
    record = await _keys(request).update(ref, values)
    budget_id = f"key:{record.id}"
    if await _budgets(request).get(budget_id) is None:  # a key older than budgets
        await _budgets(request).create(budget_id, {})
    budget = await _budgets(request).change(budget_id, fields)
    return JSONResponse({**record.public(), **public_budget(budget)})


@router.post("/key/delete", openapi_extra=described(body=m.KeyDelete, returns=m.KeysDeleted))
async def delete(request: Request, _: Principal = Depends(admin)) -> JSONResponse:
    body = await read_fields(request)
    keys, aliases = body.get("keys") or [], body.get("key_aliases") or []
    refs = [*keys, *aliases] if isinstance(keys, list) and isinstance(aliases, list) else []
    if not refs or not all(isinstance(r, str) for r in refs):
        raise InvalidRequest("Give the keys to delete in 'keys' (or 'key_aliases').", param="keys")
    revoked = [(await _keys(request).revoke(ref)).id for ref in refs]
    return JSONResponse({"deleted_keys": revoked})


# --- team and user budgets (keys join them with team_id / user_id) -------------------------


def _owner_routes(
    kind: str,
    new_body: type[BaseModel],
    update_body: type[BaseModel],
    returns: type[BaseModel],
) -> None:
    param = f"{kind}_id"

    async def new(request: Request, _: Principal = Depends(admin)) -> JSONResponse:
        body = await read_fields(request, allow_empty=True)
        name = body.get(param) or f"{kind}_{secrets.token_hex(6)}"
        if not isinstance(name, str):
            raise InvalidRequest(f"'{param}' must be a string.", param=param)
        _fits(name, param)
        row = await _budgets(request).create(f"{kind}:{name}", budget_fields(body))
        return JSONResponse({param: name, **public_budget(row)})

    async def info(request: Request, _: Principal = Depends(admin)) -> JSONResponse:
        name = request.query_params.get(param)
        row = await _budgets(request).get(f"{kind}:{name}") if name else None
        if row is None:
            raise NotFound(f"No {kind} '{name}'.", param=param)
        return JSONResponse({param: name, **public_budget(row)})

    async def change(request: Request, _: Principal = Depends(admin)) -> JSONResponse:
        body = await read_fields(request)
        name = body.get(param)
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"Missing required parameter: '{param}'.", param=param)
        row = await _budgets(request).change(f"{kind}:{name}", budget_fields(body))
        return JSONResponse({param: name, **public_budget(row)})

    new_doc = described(body=new_body, body_required=False, returns=returns)
    info_doc = described(params=[query(param, f"The {kind}'s id.", required=True)], returns=returns)
    router.add_api_route(f"/{kind}/new", new, methods=["POST"], openapi_extra=new_doc)
    router.add_api_route(f"/{kind}/info", info, methods=["GET"], openapi_extra=info_doc)
    router.add_api_route(
        f"/{kind}/update",
        change,
        methods=["POST"],
        openapi_extra=described(body=update_body, returns=returns),
    )


_owner_routes("team", m.TeamNew, m.TeamUpdate, m.Team)
_owner_routes("user", m.UserNew, m.UserUpdate, m.User)
