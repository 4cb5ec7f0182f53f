"""End-user administration: a key's end users (the ``user`` its requests carry), their
overrides, blocks and spend, on LiteLLM's ``/customer/*`` paths and as ``/end_user/*``.

Why both names: LiteLLM's clients and dashboards call ``/customer/new|info|update|list|
block|unblock|delete`` with ``user_id`` / ``user_ids`` / ``end_user_id``; ``/end_user/*`` is
the same set under the name this gateway's docs use (LiteLLM also answers ``/end_user/block``).
Unlike LiteLLM's, an end user here belongs to one key: a virtual key manages its own (naming
another key is a 404), the master key acts for any key it names in ``key``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse

from vidgate.accounting.end_users import (
    MAX_CONFIGURED,
    EndUser,
    EndUserStore,
    Limits,
    parse_limits,
)
from vidgate.accounting.keys import KeyRecord, KeyStore, Principal
from vidgate.api import openapi_models as m
from vidgate.api.auth import principal
from vidgate.api.body import read_fields
from vidgate.api.schema import Param, described, query
from vidgate.api.videos import page_limit
from vidgate.errors import Conflict, InvalidRequest, NotFound

router = APIRouter()
Caller = Depends(principal)
MAX_NAME = 200
MAX_NAMES = 1000
CHANGE_FIELDS = (
    "user_id",
    "end_user",
    "key",
    "max_budget",
    "budget_duration",
    "rpm_limit",
    "max_parallel_requests",
    "blocked",
)
COLUMNS = {"max_parallel_requests": "max_parallel_jobs"}
INFO_NAMES = ("end_user_id", "user_id", "end_user")
"""How ``/customer/info`` may name the end user (LiteLLM's ``end_user_id`` first)."""
Handler = Callable[[Request, Principal], Awaitable[JSONResponse]]


def _store(request: Request) -> EndUserStore:
    store: EndUserStore = request.app.state.jobs.end_users.store
    return store


async def _whose(request: Request, caller: Principal, ref: Any) -> KeyRecord:
    """The key whose end users are meant: the caller's own, or ``key`` for the master key."""
    keys: KeyStore = request.app.state.keys
    if ref is not None and not isinstance(ref, str):
        raise InvalidRequest("'key' must be a key id, alias or key.", param="key")
    if caller.is_admin:
        if not ref:
            raise InvalidRequest(
                "Name the key whose end users these are in 'key' (an id, alias or key): "
                "each key has its own end users.",
                param="key",
            )
        return await keys.find(ref)
    record = await keys.find(ref or caller.key_id)  # by id, alias or the key itself
    if record.id != caller.key_id:
        raise NotFound("No such key.", param="key")
    return record


async def _room(store: EndUserStore, record: KeyRecord, names: list[str], param: str) -> None:
    """400 when adding the rows of ``names`` the key lacks would pass ``MAX_CONFIGURED``."""
    missing, count = await store.unknown(record.id, names)
    if missing and count + len(missing) > MAX_CONFIGURED:
        raise InvalidRequest(
            f"This key has {count} end users and may add at most {MAX_CONFIGURED} through "
            f"these routes; {len(missing)} of '{param}' are new. Delete some with "
            "/customer/delete (end users that send requests are registered regardless).",
            param=param,
            code="end_user_limit_reached",
        )


def _name(value: Any, param: str) -> str:
    if value is None or value == "":
        raise InvalidRequest(
            f"Missing required parameter: '{param}' (the end user's 'user').", param=param
        )
    if not isinstance(value, str):
        raise InvalidRequest(
            f"Invalid value for '{param}': end users are named by strings (the 'user' a "
            "request sends).",
            param=param,
        )
    if len(value) > MAX_NAME:
        raise InvalidRequest(
            f"'{param}' is too long: {len(value)} characters; allowed: at most {MAX_NAME}.",
            param=param,
            code="string_above_max_length",
        )
    return value


def _one_name(fields: Mapping[str, Any], names: tuple[str, ...]) -> str:
    """The end user named by whichever of ``names`` is given (they must agree)."""
    given = {_name(fields[n], n) for n in names if fields.get(n) is not None}
    if len(given) > 1:
        raise InvalidRequest(f"Give the end user once: {', '.join(names)} differ.", param=names[0])
    return given.pop() if given else _name(None, names[0])


def _overrides(body: Mapping[str, Any]) -> dict[str, Any]:
    """The ``end_users`` columns a change sets (a field given as null clears it)."""
    unknown = sorted(set(body) - set(CHANGE_FIELDS))
    if unknown:
        raise InvalidRequest(
            f"Unknown parameter: '{unknown[0]}'. Allowed: {', '.join(CHANGE_FIELDS)}.",
            param=unknown[0],
        )
    limits = parse_limits(body)
    values = {}
    for field in ("max_budget", "budget_duration", "rpm_limit", "max_parallel_requests"):
        if field in body:
            column = COLUMNS.get(field, field)
            values[column] = getattr(limits, column)
    if "blocked" in body:
        if not isinstance(body["blocked"], bool):
            raise InvalidRequest("Invalid value for 'blocked': true or false.", param="blocked")
        values["blocked"] = int(body["blocked"])
    return values


def _public(user: EndUser, defaults: Limits, money: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "object": "end_user",
        "user_id": user.name,
        "key_id": user.key_id,
        "blocked": user.blocked,
        "overrides": user.overrides.public(),
        "limits": user.overrides.over(defaults).public(),
        "spend": round(money.get("spend") or 0.0, 6),
        "reserved": round(money.get("reserved") or 0.0, 6),
        "budget_reset_at": money.get("budget_reset_at"),
        "total_spend": round(money.get("total") or 0.0, 6),
        "created_at": None if user.created_at is None else int(user.created_at),
    }


async def _shown(request: Request, record: KeyRecord, users: list[EndUser]) -> list[dict[str, Any]]:
    defaults = record.principal().end_user_limits
    money = await _store(request).money(users)
    return [_public(u, defaults, money.get(u.budget_id, {})) for u in users]


async def _change(request: Request, caller: Principal, *, new: bool) -> JSONResponse:
    body = await read_fields(request)
    values = _overrides(body)
    name = _one_name(body, ("user_id", "end_user"))
    record = await _whose(request, caller, body.get("key"))
    store = _store(request)
    await _room(store, record, [name], "user_id")
    if new and await store.get(record.id, name) is not None:
        raise Conflict(
            f"End user '{name}' of this key already exists; change it with /customer/update.",
            param="user_id",
        )
    defaults = record.principal().end_user_limits
    user = await store.change(record.id, name, defaults, values)
    [shown] = await _shown(request, record, [user])
    return JSONResponse(shown)


async def new(request: Request, caller: Principal = Caller) -> JSONResponse:
    """Configure an end user before its first request (409 if the key has it already)."""
    return await _change(request, caller, new=True)


async def change(request: Request, caller: Principal = Caller) -> JSONResponse:
    """Set or clear an end user's overrides, or block it (one not seen yet is added)."""
    return await _change(request, caller, new=False)


async def info(request: Request, caller: Principal = Caller) -> JSONResponse:
    """One end user of the key: overrides, limits in force, blocked, spend."""
    query = request.query_params
    name = _one_name(query, INFO_NAMES)
    record = await _whose(request, caller, query.get("key"))
    user = await _store(request).get(record.id, name)
    if user is None:
        raise NotFound(f"No end user '{name}' on this key.", param="end_user_id")
    [shown] = await _shown(request, record, [user])
    return JSONResponse(shown)


async def list_end_users(request: Request, caller: Principal = Caller) -> JSONResponse:
    """The key's end users by name, a page at a time (``after``: the last name seen)."""
    query = request.query_params
    unknown = sorted(set(query) - {"key", "after", "limit"})
    if unknown:
        raise InvalidRequest(
            f"Unknown parameter: '{unknown[0]}'. Allowed: key, after, limit.", param=unknown[0]
        )
    record = await _whose(request, caller, query.get("key"))
    limit = page_limit(query.get("limit"), MAX_NAMES, 100)
    after = query.get("after") or None
    users = await _store(request).page(record.id, after, limit + 1)
    shown = await _shown(request, record, users[:limit])
    last = shown[-1]["user_id"] if shown else None
    return JSONResponse(
        {"object": "list", "data": shown, "has_more": len(users) > limit, "last_id": last}
    )


async def _names(request: Request, caller: Principal) -> tuple[KeyRecord, list[str]]:
    body = await read_fields(request)
    unknown = sorted(set(body) - {"user_ids", "key"})
    if unknown:
        raise InvalidRequest(
            f"Unknown parameter: '{unknown[0]}'. Allowed: user_ids, key.", param=unknown[0]
        )
    names = body.get("user_ids")
    if not isinstance(names, list) or not 1 <= len(names) <= MAX_NAMES:
        raise InvalidRequest(
            f"'user_ids' must be a list of 1 to {MAX_NAMES} end users.", param="user_ids"
        )
    checked = [_name(n, "user_ids") for n in names]
    return await _whose(request, caller, body.get("key")), list(dict.fromkeys(checked))


def _blocker(blocked: bool) -> Handler:
    async def run(request: Request, caller: Principal = Caller) -> JSONResponse:
        record, names = await _names(request, caller)
        await _room(_store(request), record, names, "user_ids")
        defaults = record.principal().end_user_limits
        for name in names:
            await _store(request).change(record.id, name, defaults, {"blocked": int(blocked)})
        return JSONResponse({"user_ids": names, "blocked": blocked})

    run.__doc__ = (
        "Refuse every request of these end users with a 403 (their running jobs go on)."
        if blocked
        else "Serve these end users again."
    )
    return run


async def delete(request: Request, caller: Principal = Caller) -> JSONResponse:
    """Forget these end users' overrides and blocks; their spend stays (a later request
    registers them again under the key's defaults)."""
    record, names = await _names(request, caller)
    await _store(request).forget(record.id, names)
    return JSONResponse({"user_ids": names, "blocked": None})


def _described(body: type[BaseModel] | None, returns: type[BaseModel], *params: Param) -> Any:
    return described(body=body, params=list(params), returns=returns)


_KEY = query("key", "Whose end users: required with the master key; a key sees only its own.")
_NAMES = (
    query("end_user_id", "The end user: the 'user' its requests carry."),
    query("user_id", "Same as 'end_user_id'."),
    query("end_user", "Same as 'end_user_id'."),
)
_ROUTES: tuple[tuple[str, str, Any, Any], ...] = (
    ("new", "POST", new, _described(m.EndUserChange, m.EndUser)),
    ("update", "POST", change, _described(m.EndUserChange, m.EndUser)),
    ("info", "GET", info, _described(None, m.EndUser, *_NAMES, _KEY)),
    (
        "list",
        "GET",
        list_end_users,
        _described(
            None,
            m.EndUserList,
            _KEY,
            query("after", "The last user_id of the previous page."),
            query("limit", f"End users per page, 1 to {MAX_NAMES}.", type="integer"),
        ),
    ),
    ("block", "POST", _blocker(True), _described(m.EndUserNames, m.EndUsersChanged)),
    ("unblock", "POST", _blocker(False), _described(m.EndUserNames, m.EndUsersChanged)),
    ("delete", "POST", delete, _described(m.EndUserNames, m.EndUsersChanged)),
)
for _prefix in ("/customer", "/end_user"):
    for _verb, _method, _handler, _doc in _ROUTES:
        router.add_api_route(f"{_prefix}/{_verb}", _handler, methods=[_method], openapi_extra=_doc)
