"""Webhook endpoint routes: register, list, retrieve, delete, rotate the signing secret, and
inspect deliveries.

Every endpoint belongs to the key that created it, and every lookup is scoped to the
caller: another key's endpoint id is a 404. Endpoints of the master key are global (they
receive every key's events), as are those from the config file, which the API lists but
does not delete or rotate. A signing secret is returned once, by the create or the rotate
that made it; listings name secrets by id and hint only.
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
from vidgate.webhooks.config import EVENT_TYPES, MAX_SECRETS, url_problem
from vidgate.webhooks.service import Webhooks
from vidgate.webhooks.store import Endpoint, WebhookStore

router = APIRouter()
Caller = Depends(principal)
MAX_ENDPOINTS_PER_KEY = 20
MAX_DESCRIPTION = 500
_FIELDS = ("url", "events", "description")
KEEP_PREVIOUS_S = 86_400
"""How long a rotated-out secret keeps signing unless the rotate says otherwise: 24 h."""
MAX_KEEP_PREVIOUS_S = 30 * 86_400


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
    _not_configured(endpoint, "remove it there")
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


@router.post(
    "/webhooks/{webhook_id}/rotate",
    openapi_extra=described(
        body=m.WebhookRotate, body_required=False, returns=m.WebhookEndpointCreated
    ),
)
async def rotate_secret(
    webhook_id: str, request: Request, caller: Principal = Caller
) -> JSONResponse:
    """A new signing secret (shown once); the one it replaces keeps signing beside it for
    ``previous_expires_in`` seconds (default 24 h; 0 stops it at once)."""
    body = await read_fields(request, allow_empty=True)
    unknown = sorted(set(body) - {"previous_expires_in"})
    if unknown:
        raise InvalidRequest(
            f"Unknown parameter: '{unknown[0]}'. Allowed: previous_expires_in.",
            param=unknown[0],
        )
    keep = _keep_previous(body.get("previous_expires_in"))
    endpoint = await _owned(request, caller, webhook_id)
    _not_configured(endpoint, "list the new secret under 'secrets:' there")
    outcome, rotated = await _store(request).rotate(endpoint.id, keep, time.time())
    if outcome == "full":
        raise InvalidRequest(
            f"Webhook '{webhook_id}' already has {MAX_SECRETS} active secrets; remove a "
            f"previous one first (DELETE /v1/webhooks/{webhook_id}/secrets/<secret id>) or "
            "rotate with previous_expires_in=0.",
            param="webhook_id",
            code="too_many_secrets",
        )
    if rotated is None:  # deleted meanwhile
        raise NotFound(f"No webhook endpoint found with id '{webhook_id}'.", param="webhook_id")
    return JSONResponse({**rotated.public(), "secret": rotated.secret})


@router.delete(
    "/webhooks/{webhook_id}/secrets/{secret_id}",
    openapi_extra=described(returns=m.WebhookEndpoint),
)
async def remove_secret(
    webhook_id: str, secret_id: str, request: Request, caller: Principal = Caller
) -> JSONResponse:
    """Stop signing with a previous secret now, before its expiry."""
    endpoint = await _owned(request, caller, webhook_id)
    _not_configured(endpoint, "remove the secret there")
    outcome, changed = await _store(request).remove_secret(endpoint.id, secret_id, time.time())
    if outcome == "current":
        raise InvalidRequest(
            f"Secret '{secret_id}' is the endpoint's current secret; rotate first "
            f"(POST /v1/webhooks/{webhook_id}/rotate), then remove it.",
            param="secret_id",
            code="current_secret",
        )
    if changed is None or outcome == "missing":
        raise NotFound(
            f"No active secret with id '{secret_id}' on webhook '{webhook_id}'.",
            param="secret_id",
        )
    return JSONResponse(changed.public())


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


def _not_configured(endpoint: Endpoint, instead: str) -> None:
    if endpoint.source == "config":
        raise InvalidRequest(
            f"Webhook '{endpoint.id}' comes from the config file; {instead}.",
            param="webhook_id",
            code="configured_webhook",
        )


def _keep_previous(value: Any) -> float:
    if value is None:
        return KEEP_PREVIOUS_S
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 12:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        value = -1
    if not 0 <= value <= MAX_KEEP_PREVIOUS_S:
        raise InvalidRequest(
            f"Invalid value for 'previous_expires_in': allowed is a whole number of seconds "
            f"from 0 (the previous secret stops signing at once) to {MAX_KEEP_PREVIOUS_S} "
            f"(30 days); default {KEEP_PREVIOUS_S} (24 h).",
            param="previous_expires_in",
        )
    return float(value)


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
