"""A simulator of OpenAI's moderation API (``POST /v1/moderations``), for the gateway's
moderation check (``jobs/moderation.py``) in tests and offline (``vidgate simulate
moderation``).

Why: the check must be tested over real HTTP against something that speaks the documented
wire format — the official ``openai`` SDK's ``client.moderations.create`` reads its answers
— and can be made to flag, fail or hang at will. Like every simulator it is an independent
implementation of the format and imports nothing of the gateway but the simulator kit.

Request: bearer auth; JSON ``{"input": ..., "model": ...}``, where ``input`` is a string, a
list of strings (one result each) or a list of ``{"type": "text", "text"}`` /
``{"type": "image_url", "image_url": {"url"}}`` parts (one result for them all). Answer:
``{"id": "modr-...", "model", "results": [{"flagged", "categories", "category_scores",
"category_applied_input_types"}]}`` with the thirteen categories of ``omni-moderation``.

A text is flagged for a category when it holds one of the category's words
(``SimulatorConfig.words``, case-insensitive) or a ``[mod:flag=<category>]`` marker. Other
markers, anywhere in the input: ``[mod:500]`` answers 500, ``[mod:429]`` 429,
``[mod:malformed]`` a 200 that is not the documented shape, ``[mod:hang]`` answers only
after ``hang_seconds``. ``fail_status`` (every call answers it) and ``delay_s`` (every call
waits) do the same for all calls. ``state.inputs`` keeps every input judged, for tests.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vidgate.providers.simkit import BaseConfig, BaseState, Guard, hang, key_check, sim_app

CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
MODELS = ("omni-moderation-latest", "omni-moderation-2024-09-26", "text-moderation-latest")
_FLAG = re.compile(r"\[mod:flag=([a-z/\-]+)\]")
_MARKER = re.compile(r"\[mod:([a-z0-9]+)\]")


def _default_words() -> dict[str, tuple[str, ...]]:
    return {
        "violence": ("massacre", "bloodbath"),
        "violence/graphic": ("bloodbath",),
        "harassment": ("worthless idiot",),
        "self-harm": ("hurt myself",),
    }


@dataclass
class SimulatorConfig(BaseConfig):
    api_key: str | None = "sk-mod-sim"
    words: dict[str, tuple[str, ...]] = field(default_factory=_default_words)
    """Category -> words or phrases that flag it."""
    fail_status: int | None = None
    """Answer every call with this HTTP status (an error body)."""
    delay_s: float = 0.0
    """Wait this long before every answer."""


@dataclass
class SimState(BaseState[SimulatorConfig]):
    inputs: list[list[str]] = field(default_factory=list)
    """The texts of every input judged, in order."""


def _error(
    status: int, message: str, code: str | None = None, param: str | None = None
) -> Response:
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


def _texts(value: Any) -> tuple[list[list[str]], str | None]:
    """The input as groups of texts (one group per result), or why it is not valid."""
    if isinstance(value, str):
        return [[value]], None
    if not isinstance(value, list) or not value:
        return [], "'input' must be a string or a non-empty array."
    if all(isinstance(item, str) for item in value):
        return [[item] for item in value], None
    texts = []
    for item in value:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "text" and isinstance(item.get("text"), str):
            texts.append(item["text"])
        elif kind != "image_url" or not isinstance(item.get("image_url"), dict):
            return [], "Each 'input' item must be a string, a text part or an image_url part."
    return [texts], None


def _result(texts: list[str], words: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    joined = " ".join(texts).lower()
    flagged = {name for name in CATEGORIES if any(w.lower() in joined for w in words.get(name, ()))}
    flagged |= {name for name in _FLAG.findall(joined) if name in CATEGORIES}
    return {
        "flagged": bool(flagged),
        "categories": {name: name in flagged for name in CATEGORIES},
        "category_scores": {name: 0.97 if name in flagged else 0.0002 for name in CATEGORIES},
        "category_applied_input_types": {name: ["text"] for name in CATEGORIES},
    }


async def moderations(request: Request) -> Response:
    state = SimState.of(request)
    config = state.config
    try:
        body = json.loads(await request.body())
    except ValueError:
        return _error(400, "We could not parse the JSON body of your request.")
    if not isinstance(body, dict) or "input" not in body:
        return _error(400, "Missing required parameter: 'input'.", param="input")
    model = body.get("model") or MODELS[0]
    if model not in MODELS:
        return _error(404, f"The model '{model}' does not exist.", "model_not_found", "model")
    groups, problem = _texts(body["input"])
    if problem:
        return _error(400, problem, param="input")
    markers = set(_MARKER.findall(" ".join(t for g in groups for t in g)))
    if config.delay_s > 0:
        await asyncio.sleep(config.delay_s)
    if "hang" in markers and not await hang(request, config.hang_seconds):
        return Response(status_code=499)
    if config.fail_status is not None:
        return _error(config.fail_status, "The server had an error processing your request.")
    for status in (500, 429):
        if str(status) in markers:
            return _error(status, "The server had an error processing your request.")
    if "malformed" in markers:
        return JSONResponse({"id": "modr-x", "outcome": "unknown"})
    state.inputs.extend(groups)
    return JSONResponse(
        {
            "id": "modr-" + secrets.token_hex(12),
            "model": model,
            "results": [_result(texts, config.words) for texts in groups],
        }
    )


def _unauthorized(_given: str | None) -> Response:
    return _error(401, "Incorrect API key provided.", "invalid_api_key")


def create_app(config: SimulatorConfig | None = None) -> Any:
    """The simulator's ASGI app; ``app.state.sim`` is its :class:`SimState`."""
    state = SimState(config or SimulatorConfig())
    guard = key_check(lambda: state.config.api_key, _unauthorized)
    routes = [Route("/v1/moderations", moderations, methods=["POST"])]
    return sim_app(state, routes, [Middleware(Guard, check=guard, under=("/v1",))])
