"""Webhook endpoint routes: register, list, retrieve, delete, and inspect deliveries.

Every endpoint belongs to the key that created it, and every lookup is scoped to the
caller: another key's endpoint id is a 404. Endpoints of the master key are global (they
receive every key's events), as are those from the config file, which the API lists but
does not delete. The signing secret is returned once, by the create.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse

from vidgate.accounting.keys import Principal
from vidgate.api import openapi_models as m
from vidgate.api.auth import principal
from vidgate.api.body import read_fields
from vidgate.api.schema import described, page
from vidgate.api.videos import page_limit
from vidgate.errors import Conflict, InvalidRequest, NotFound
from vidgate.netpolicy import OutboundPolicy
from vidgate.webhooks.config import EVENT_TYPES, url_problem
from vidgate.webhooks.service import Webhooks
from vidgate.webhooks.store import Endpoint, WebhookStore

router = APIRouter()
Caller = Depends(principal)
MAX_ENDPOINTS_PER_KEY = 20
MAX_DESCRIPTION = 500
_FIELDS = ("url", "events", "description")


def _store(request: Request) -> WebhookStore:
    webhooks: Webhooks = request.app.state.webhooks
    return webhooks.store


@router.post(
    "/webhooks",
    openapi_extra=described(body=m.WebhookCreate, returns=m.WebhookEndpointCreated),
)
async def create_endpoint(request: Request, caller: Principal = Caller) -> JSONResponse:
    body = await read_fields(request)
    unknown = sorted(set(body) - set(_FIELDS))
    if unknown:
        raise InvalidRequest(
            f"Unknown parameter: '{unknown[0]}'. Allowed: {', '.join(_FIELDS)}.",
            param=unknown[0],
        )
    url = _url(body.get("url"), request.app.state.webhooks.policy)
    events = _events(body.get("events"))
    description = _description(body.get("description"))
    store = _store(request)
    if await store.count_owned(caller.key_id) >= MAX_ENDPOINTS_PER_KEY:
        raise InvalidRequest(
            f"A key may register at most {MAX_ENDPOINTS_PER_KEY} webhook endpoints; "
            "delete one first.",
            param="url",
            code="too_many_webhooks",
        )
    endpoint = await store.create(caller.key_id, url, events, description)
    return JSONResponse({**endpoint.public(), "secret": endpoint.secret})


@router.get("/webhooks", openapi_extra=described(returns=m.WebhookEndpointList))
async def list_endpoints(request: Request, caller: Principal = Caller) -> JSONResponse:
    found = await _store(request).list_owned(caller.key_id)
    data = [endpoint.public() for endpoint in found]
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": False,
        }
    )


@router.get("/webhooks/{webhook_id}", openapi_extra=described(returns=m.WebhookEndpoint))
async def retrieve_endpoint(
    webhook_id: str, request: Request, caller: Principal = Caller
) -> JSONResponse:
    return JSONResponse((await _owned(request, caller, webhook_id)).public())


@router.delete("/webhooks/{webhook_id}", openapi_extra=described(returns=m.WebhookEndpointDeleted))
async def delete_endpoint(
    webhook_id: str, request: Request, caller: Principal = Caller
) -> JSONResponse:
    endpoint = await _owned(request, caller, webhook_id)
    if endpoint.source == "config":
        raise InvalidRequest(
            f"Webhook '{webhook_id}' comes from the config file; remove it there.",
            param="webhook_id",
            code="configured_webhook",
        )
    await _store(request).delete(endpoint.id)
    return JSONResponse({"id": endpoint.id, "object": "webhook_endpoint.deleted", "deleted": True})


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    openapi_extra=described(
        params=page("The last delivery id of the previous page."), returns=m.WebhookDeliveryList
    ),
)
async def list_deliveries(
    webhook_id: str, request: Request, caller: Principal = Caller
) -> JSONResponse:
    endpoint = await _owned(request, caller, webhook_id)
    store = _store(request)
    query = request.query_params
    limit = page_limit(query.get("limit"))
    order = query.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise InvalidRequest(
            f"Invalid value for 'order': '{order}'. Allowed: asc, desc.", param="order"
        )
    after_seq = None
    after = query.get("after")
    if after:
        after_seq = await store.find_delivery_seq(endpoint.id, after)
        if after_seq is None:
            raise InvalidRequest(f"No delivery found with id '{after}'.", param="after")
    rows = await store.list_deliveries(
        endpoint.id, after_seq=after_seq, limit=limit + 1, descending=order == "desc"
    )
    data = [delivery.public() for delivery in rows[:limit]]
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(rows) > limit,
        }
    )


async def _owned(request: Request, caller: Principal, webhook_id: str) -> Endpoint:
    endpoint = await _store(request).get_owned(webhook_id, caller.key_id)
    if endpoint is None:
        raise NotFound(f"No webhook endpoint found with id '{webhook_id}'.", param="webhook_id")
    return endpoint


def _url(value: Any, policy: OutboundPolicy) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(
            "Missing required parameter: 'url' (an http:// or https:// URL).", param="url"
        )
    problem = url_problem(value, policy)
    if problem:
        raise InvalidRequest(
            f"Invalid value for 'url': {problem}. Allowed: an http:// or https:// URL "
            "without user name or password, on a public address or one the operator allows "
            "(settings.outbound_allow).",
            param="url",
        )
    return value


def _events(value: Any) -> list[str]:
    allowed = ", ".join(EVENT_TYPES)
    if value is None:
        return list(EVENT_TYPES)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(
            f"'events' must be a non-empty list of event types. Allowed: {allowed}.",
            param="events",
        )
    unknown = [v for v in value if v not in EVENT_TYPES]
    if unknown:
        raise InvalidRequest(
            f"Invalid value for 'events': '{unknown[0]}'. Allowed: {allowed}.", param="events"
        )
    return list(dict.fromkeys(value))


def _description(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise InvalidRequest(
            f"'description' must be a string of at most {MAX_DESCRIPTION} characters.",
            param="description",
        )
    return value


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    openapi_extra=described(returns=m.WebhookDelivery),
)
async def redeliver(
    webhook_id: str, delivery_id: str, request: Request, caller: Principal = Caller
) -> JSONResponse:
    """Send one delivery again: the same event (same ``webhook-id``), due now, with a fresh
    retry schedule."""
    endpoint = await _owned(request, caller, webhook_id)
    if endpoint.disabled_at is not None:
        raise InvalidRequest(
            f"Webhook '{webhook_id}' is disabled ({endpoint.disabled_reason}).",
            param="webhook_id",
            code="webhook_disabled",
        )
    outcome, delivery = await _store(request).redeliver(endpoint.id, delivery_id, time.time())
    if outcome == "missing":
        raise NotFound(f"No delivery found with id '{delivery_id}'.", param="delivery_id")
    if delivery is None:
        raise Conflict(
            f"Delivery '{delivery_id}' is being sent right now; retry once it is done.",
            param="delivery_id",
            code="delivery_in_flight",
        )
    webhooks: Webhooks = request.app.state.webhooks
    webhooks.sender.wake()
    return JSONResponse(delivery.public())
