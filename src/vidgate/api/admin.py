"""Key administration on LiteLLM-compatible paths (``/key/generate``, ``/key/info``, ...).

All routes need the master key, except ``/key/info`` without a ``key`` parameter, which
lets any key see itself. The raw key is returned once, by ``/key/generate``; afterwards
keys are shown by id, alias and a four-character hint.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse

from vidgate.accounting.keys import MASTER_ID, KeyStore, Principal, parse_expiry
from vidgate.api.auth import admin, principal
from vidgate.api.body import read_fields
from vidgate.errors import InvalidRequest

router = APIRouter()


def _keys(request: Request) -> KeyStore:
    keys: KeyStore = request.app.state.keys
    return keys


def _models(request: Request, body: dict[str, Any]) -> list[str] | None:
    models = body.get("models")
    if models in (None, []):
        return None
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise InvalidRequest("'models' must be a list of model names.", param="models")
    known = request.app.state.live.table.groups
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


@router.post("/key/generate")
async def generate(request: Request, _: Principal = Depends(admin)) -> JSONResponse:
    body = await read_fields(request, allow_empty=True)
    alias = body.get("key_alias", body.get("alias"))
    if alias is not None and not isinstance(alias, str):
        raise InvalidRequest("'key_alias' must be a string.", param="key_alias")
    key, record = await _keys(request).generate(
        alias=alias,
        models=_models(request, body),
        expires_at=parse_expiry(body.get("duration"), body.get("expires"), time.time()),
        metadata=_metadata(body),
    )
    return JSONResponse({"key": key, **record.public()})


@router.get("/key/info")
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
    return JSONResponse({"key_id": record.id, "info": record.public()})


@router.get("/key/list")
async def list_keys(request: Request, _: Principal = Depends(admin)) -> JSONResponse:
    records = await _keys(request).list()
    return JSONResponse({"keys": [r.public() for r in records], "total_count": len(records)})


@router.post("/key/update")
async def update(request: Request, _: Principal = Depends(admin)) -> JSONResponse:
    body = await read_fields(request)
    ref = body.get("key")
    if not isinstance(ref, str) or not ref:
        raise InvalidRequest("Missing required parameter: 'key'.", param="key")
    values: dict[str, Any] = {}
    if "key_alias" in body:
        values["alias"] = body["key_alias"]
    if "models" in body:
        values["models"] = _models(request, body)
    if "metadata" in body:
        values["metadata"] = _metadata(body)
    if "duration" in body or "expires" in body:
        values["expires_at"] = parse_expiry(body.get("duration"), body.get("expires"), time.time())
    record = await _keys(request).update(ref, values)
    return JSONResponse(record.public())


@router.post("/key/delete")
async def delete(request: Request, _: Principal = Depends(admin)) -> JSONResponse:
    body = await read_fields(request)
    refs = list(body.get("keys") or []) + list(body.get("key_aliases") or [])
    if not refs or not all(isinstance(r, str) for r in refs):
        raise InvalidRequest("Give the keys to delete in 'keys' (or 'key_aliases').", param="keys")
    revoked = [(await _keys(request).revoke(ref)).id for ref in refs]
    return JSONResponse({"deleted_keys": revoked})
