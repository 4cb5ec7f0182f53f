"""An in-memory simulator of Veo on the Gemini Developer API (generativelanguage v1beta).

Why this exists: the gemini adapter, the contract suite and offline development need an
upstream that speaks the documented wire format without network access or cost. It is an
independent implementation (it never imports the provider's spec or adapter) and the
official ``google-genai`` SDK works against it.

Routes (API key in ``x-goog-api-key`` or ``?key=``):

- ``POST /v1beta/models/{model}:predictLongRunning`` → ``{"name": "models/{m}/operations/{id}"}``
- ``GET /v1beta/models/{model}/operations/{id}`` → the operation: ``{"name"}`` while queued,
  ``{"name", "done": false}`` while running (no progress field), then ``done: true`` with
  ``response.generateVideoResponse.generatedSamples[].video.uri``, or ``error``, or the RAI
  fields. Sample URIs point back at this simulator.
- ``GET /v1beta/files/{id}:download?alt=media`` → 302 to a signed storage URL
  (``/sim-storage/{id}?sig=``, no key needed) that serves a real MP4 of the requested size and
  duration. Extensions (Veo 3.1, ``video.uri`` of an earlier result) last the source plus 7 s.

Errors use Google's envelope ``{"error": {"code", "message", "status", "details"?}}``: a
missing key is 403 ``PERMISSION_DENIED``, a wrong key 400 ``INVALID_ARGUMENT`` with an
``ErrorInfo`` reason ``API_KEY_INVALID`` (as the real API answers), unknown models and
operations 404 ``NOT_FOUND``, quota 429 ``RESOURCE_EXHAUSTED`` with a ``RetryInfo`` delay.
Vertex-only fields (``seed``, ``generateAudio``, ``storageUri``, ``gcsUri``...) are 400s.

Fault markers in the prompt: ``[sim:fail]`` (RAI-filtered: done without samples),
``[sim:op-error]`` (done with a google.rpc error, code 13), ``[sim:429]``, ``[sim:500]``,
``[sim:unknown-status]`` (an undocumented ``metadata.state`` while running),
``[sim:malformed]`` (first poll answers truncated JSON), ``[sim:poll-429]`` (first poll is
a 429), ``[sim:slow]`` (10x longer), ``[sim:hang]`` (the create answers only after
``hang_seconds``; a caller that gives up first ends the wait and no operation is made).

``app.state.sim`` is the :class:`SimState`; ``GET /__sim__/log`` lists requests and
``POST /__sim__/reset`` clears everything.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from vidgate.providers.gemini._sim_request import MODELS, Plan, SimError, check, invalid
from vidgate.providers.simkit import (
    BaseConfig,
    BaseState,
    BaseTask,
    base_url,
    hang,
    markers,
    mp4_response,
    sim_app,
)

RESPONSE_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
METADATA_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningMetadata"
RAI_REASON = (
    "We encountered an issue with your prompt. It may violate our policies. "
    "If you think this was an error, send feedback. Support codes: 64151117"
)
_FILE_URI = re.compile(r"files/([a-z0-9]+)")
_ID_CHARS = string.ascii_lowercase + string.digits


@dataclass
class SimulatorConfig(BaseConfig):
    """Knobs of the simulated upstream."""

    api_key: str | None = "sim-gemini-key"
    file_ttl_seconds: float = 2 * 86400
    retry_delay_s: int = 1


@dataclass
class SimJob(BaseTask):
    """One operation; its state follows the clock."""

    name: str
    model: str
    prompt: str
    request: dict[str, Any]
    plan: Plan
    file_ids: tuple[str, ...]

    def succeeded(self) -> bool:
        done = self.timeline.phase()[0] == "done"
        return done and not self.markers & {"fail", "op-error"}


@dataclass
class SimState(BaseState[SimulatorConfig]):
    """Everything the simulator remembers; exposed as ``app.state.sim``."""

    jobs: dict[str, SimJob] = field(default_factory=dict)
    files: dict[str, SimJob] = field(default_factory=dict)
    auth: list[tuple[str, str]] = field(default_factory=list)
    """``(path, "header" | "query")`` of every authenticated call (never the key itself)."""
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(16))

    def authorize(self, request: Request) -> None:
        expected = self.config.api_key
        header = request.headers.get("x-goog-api-key")
        given = header or request.query_params.get("key")
        if expected is None:
            return
        if not given:
            raise SimError(
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API.",
            )
        if not hmac.compare_digest(given.encode(), expected.encode()):
            message = "API key not valid. Please pass a valid API key."
            info = {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
            raise SimError(400, "INVALID_ARGUMENT", message, [info])
        self.auth.append((request.url.path, "header" if header else "query"))

    def signature(self, file_id: str) -> str:
        return hmac.new(self.secret, file_id.encode(), hashlib.sha256).hexdigest()[:32]

    def source(self, uri: str) -> tuple[int, int, int]:
        """(width, height, seconds) of a finished video this simulator made."""
        match = _FILE_URI.search(uri)
        job = self.files.get(match[1]) if match else None
        if job is None or not job.succeeded():
            raise invalid("The `video.uri` does not refer to a video generated by Veo.")
        return job.plan.width, job.plan.height, job.plan.seconds


def _new_id(length: int = 12) -> str:
    return "".join(secrets.choice(_ID_CHARS) for _ in range(length))


_QUOTA_METRIC = "generativelanguage.googleapis.com/predict_long_running_requests"


def rate_limited(delay_s: int) -> SimError:
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": _QUOTA_METRIC,
                    "quotaId": "PredictLongRunningRequestsPerMinutePerProjectPerModel",
                }
            ],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay_s}s"},
    ]
    message = (
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
    )
    return SimError(429, "RESOURCE_EXHAUSTED", message, details)


def _model_not_found(model: str, method: str) -> SimError:
    return SimError(
        404,
        "NOT_FOUND",
        f"models/{model} is not found for API version v1beta, or is not supported for "
        f"{method}. Call ListModels to see the list of available models and their supported "
        "methods.",
    )


async def _read_json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise invalid("Invalid JSON payload received. Unexpected token.") from exc


async def predict_long_running(request: Request) -> Response:
    sim = SimState.of(request)
    sim.authorize(request)
    model = request.path_params["model"]
    if model not in MODELS:
        raise _model_not_found(model, "predictLongRunning")
    body = await _read_json(request)
    instances = body.get("instances") if isinstance(body, dict) else None
    first = instances[0] if isinstance(instances, list) and instances else None
    prompt = first.get("prompt") if isinstance(first, dict) else None
    found = markers(prompt if isinstance(prompt, str) else "")
    if "hang" in found and not await hang(request, sim.config.hang_seconds):
        return Response(status_code=499)  # the caller is gone; nobody reads this
    if "429" in found:
        raise rate_limited(sim.config.retry_delay_s)
    if "500" in found:
        raise SimError(
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting",
        )
    plan = check(model, body, sim.source)
    job = SimJob(
        name=f"models/{model}/operations/{_new_id()}",
        model=model,
        prompt=prompt if isinstance(prompt, str) else "",
        request=body,
        plan=plan,
        timeline=sim.config.timeline(found),
        markers=found,
        file_ids=tuple(_new_id() for _ in range(plan.samples)),
    )
    sim.jobs[job.name] = job
    sim.files.update(dict.fromkeys(job.file_ids, job))
    return JSONResponse({"name": job.name})


def _operation(job: SimJob, base: str) -> dict[str, Any]:
    phase, _ = job.timeline.phase()
    body: dict[str, Any] = {"name": job.name}
    if phase == "queued":
        return body  # `done` is absent while pending
    if phase == "running":
        body["done"] = False
        if "unknown-status" in job.markers:
            body["metadata"] = {"@type": METADATA_TYPE, "state": "RENDERING"}
        return body
    body["done"] = True
    if "op-error" in job.markers:
        body["error"] = {"code": 13, "message": "Video generation failed. Please try again."}
        return body
    if "fail" in job.markers:
        result: dict[str, Any] = {
            "raiMediaFilteredCount": 1,
            "raiMediaFilteredReasons": [RAI_REASON],
        }
    else:
        samples = [
            {"video": {"uri": f"{base}/v1beta/files/{file_id}:download?alt=media"}}
            for file_id in job.file_ids
        ]
        result = {"generatedSamples": samples}
    body["response"] = {"@type": RESPONSE_TYPE, "generateVideoResponse": result}
    return body


async def get_operation(request: Request) -> Response:
    sim = SimState.of(request)
    sim.authorize(request)
    model, op_id = request.path_params["model"], request.path_params["operation"]
    job = sim.jobs.get(f"models/{model}/operations/{op_id}")
    if job is None:
        raise SimError(404, "NOT_FOUND", "Requested entity was not found.")
    fault = job.poll_fault()
    if fault == "poll-429":
        raise rate_limited(sim.config.retry_delay_s)
    if fault == "malformed":
        return Response(f'{{"name": "{job.name}", "do', media_type="application/json")
    return JSONResponse(_operation(job, base_url(request)))


async def download_file(request: Request) -> Response:
    sim = SimState.of(request)
    sim.authorize(request)
    file_id = request.path_params["file"]
    if request.query_params.get("alt") != "media":
        raise invalid("files:download requires alt=media.")
    job = sim.files.get(file_id)
    if job is None or not job.succeeded():
        raise SimError(404, "NOT_FOUND", "Requested entity was not found.")
    finished = job.timeline.started + job.timeline.duration_s
    if time.monotonic() - finished > sim.config.file_ttl_seconds:
        raise SimError(404, "NOT_FOUND", "Requested entity was not found.")
    base = base_url(request)
    return RedirectResponse(f"{base}/sim-storage/{file_id}?sig={sim.signature(file_id)}", 302)


async def storage_object(request: Request) -> Response:
    """The signed storage URL the download redirects to: no API key, a signature instead."""
    sim = SimState.of(request)
    file_id = request.path_params["file"]
    job = sim.files.get(file_id)
    sig = request.query_params.get("sig", "")
    if job is None or not hmac.compare_digest(sig, sim.signature(file_id)):
        return Response("AccessDenied", status_code=403, media_type="text/plain")
    plan = job.plan
    return await mp4_response(plan.width, plan.height, plan.seconds, sim.config.fps)


async def not_found(request: Request) -> Response:
    raise SimError(404, "NOT_FOUND", f"The requested URL {request.url.path} was not found.")


async def _sim_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SimError)
    return JSONResponse(exc.body(), status_code=exc.code)


API_PATH = "/v1beta"  # a deployment's api_base: the simulator's URL plus this


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """The simulator as an ASGI app."""
    state = SimState(config or SimulatorConfig())
    routes = [
        Route("/v1beta/models/{model}:predictLongRunning", predict_long_running, methods=["POST"]),
        Route("/v1beta/models/{model}/operations/{operation}", get_operation),
        Route("/v1beta/files/{file}:download", download_file),
        Route("/sim-storage/{file}", storage_object),
        Route("/{path:path}", not_found, methods=["GET", "POST", "DELETE", "PATCH", "PUT"]),
    ]
    return sim_app(state, routes, exception_handlers={SimError: _sim_error})
