"""A wire-exact fake of Veo on Vertex AI, its OAuth token endpoint and Cloud Storage.

Endpoints (``{v}`` is ``v1`` or ``v1beta1``; the SDK uses ``v1beta1``, the REST docs ``v1``):

- ``POST /token``: the service-account JWT grant (form ``grant_type``, ``assertion``); the
  RS256 signature is verified against the simulator's key; ``aud`` may be this URL or
  ``https://oauth2.googleapis.com/token`` (what ``google-auth`` signs).
- ``POST /{v}/projects/{p}/locations/{l}/publishers/google/models/{m}:predictLongRunning``
  and ``...:fetchPredictOperation`` (``{"operationName"}``), with ``Authorization: Bearer``;
  express mode (``/{v}/publishers/google/models/...`` with ``x-goog-api-key``) too.
- ``GET /download/storage/v1/b/{bucket}/o/{object}?alt=media``: objects written for
  requests that set ``storageUri``.
- ``GET /__sim__/service_account``: the service-account JSON this simulator accepts (its
  ``token_uri`` points here); ``/__sim__/log``, ``/__sim__/reset``.

``SimulatorConfig.api_key`` is a static credential (like ``gcloud auth print-access-token``
output) accepted as a bearer token and as the express-mode API key; tokens the token
endpoint issued are accepted too. Every ``[sim:...]`` marker of ``simkit`` is honoured, plus
``[sim:op-error]`` (the operation ends with a google.rpc error).
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import av
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vidgate.providers.simkit import (
    KEPT,
    BaseConfig,
    BaseState,
    BaseTask,
    base_url,
    hang,
    markers,
    mp4_bytes,
    mp4_response,
    sim_app,
)
from vidgate.providers.vertex_ai._sim_wire import (
    GOOGLE_TOKEN_AUDIENCE,
    JWT_GRANT,
    MODELS,
    GoogleError,
    Job,
    OAuthError,
    check_create,
    check_media,
    invalid,
    verify_assertion,
)

_API = re.compile(
    r"^(?:projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/)?"
    r"publishers/google/models/(?P<model>[^/:]+):(?P<method>predictLongRunning|fetchPredictOperation)$"
)
_GS = re.compile(r"^gs://([^/]+)/(.+)$")
UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
MISSING_CREDENTIAL = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
FILTERED_REASON = (
    "The prompt could not be submitted. This prompt contains words that violate Vertex AI's "
    "usage guidelines. If you think this was an error, send feedback. Support codes: 17301594"
)
RESPONSE_TYPE = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"


@dataclass
class SimulatorConfig(BaseConfig):
    """How the simulated Vertex project behaves; every field has a default."""

    api_key: str | None = "sim-vertex-token"
    """A static bearer token (and express-mode API key) accepted besides issued tokens."""
    queued_seconds: float = 0.05
    project: str = "sim-project"
    client_email: str = "vidgate-sim@sim-project.iam.gserviceaccount.com"
    private_key_id: str = "sim-key-1"
    private_key_pem: str | None = None
    """The service account's key; generated when neither PEM is given."""
    public_key_pem: str | None = None
    """Verify grants against this public key only (no service-account JSON to hand out)."""
    token_lifetime_s: int = 3600
    allow_all_persons: bool = False
    """The project is allowlisted for ``personGeneration: allow_all``."""


@dataclass
class SimOperation(BaseTask):
    name: str
    job: Job


@dataclass
class SimState(BaseState[SimulatorConfig]):
    """Everything the simulator knows; ``app.state.sim``. ``reset`` forgets calls, operations
    and objects; issued tokens stay valid."""

    private_pem: str | None = None
    public_key: rsa.RSAPublicKey | None = None
    tokens: dict[str, float] = field(default_factory=dict, metadata=KEPT)
    operations: dict[str, SimOperation] = field(default_factory=dict)
    objects: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    """Cloud Storage objects, ``bucket/name`` → (width, height, seconds)."""
    calls: list[dict[str, Any]] = field(default_factory=list)
    """Creates (base64 elided), polls, token grants and downloads, with their auth."""

    def __post_init__(self) -> None:
        self.private_pem, self.public_key = _keys(self.config)

    def service_account(self, base_url: str) -> dict[str, Any] | None:
        if self.private_pem is None:
            return None
        cfg = self.config
        return {
            "type": "service_account",
            "project_id": cfg.project,
            "private_key_id": cfg.private_key_id,
            "private_key": self.private_pem,
            "client_email": cfg.client_email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": f"{base_url}/token",
            "universe_domain": "googleapis.com",
        }

    def token_valid(self, token: str) -> bool:
        if self.config.api_key and secrets.compare_digest(token, self.config.api_key):
            return True
        expiry = self.tokens.get(token)
        return expiry is not None and expiry > time.time()

    def start(self, project: str, location: str, job: Job, found: frozenset[str]) -> SimOperation:
        name = (
            f"projects/{project}/locations/{location}/publishers/google/models/{job.model}"
            f"/operations/{uuid.uuid4()}"
        )
        timeline = self.config.timeline(found)
        operation = SimOperation(name=name, job=job, timeline=timeline, markers=found)
        self.operations[name] = operation
        return operation


def _keys(config: SimulatorConfig) -> tuple[str | None, rsa.RSAPublicKey]:
    if config.private_key_pem:
        key = serialization.load_pem_private_key(config.private_key_pem.encode(), None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return config.private_key_pem, key.public_key()
    if config.public_key_pem:
        public = serialization.load_pem_public_key(config.public_key_pem.encode())
        assert isinstance(public, rsa.RSAPublicKey)
        return None, public
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, key.public_key()


# --- OAuth token endpoint --------------------------------------------------------------


async def token_endpoint(request: Request) -> Response:
    sim = SimState.of(request)
    form = await request.form()
    grant, assertion = form.get("grant_type"), form.get("assertion")
    if grant != JWT_GRANT:
        raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {grant}")
    if not isinstance(assertion, str) or not assertion:
        raise OAuthError("invalid_request", "Missing required parameter: assertion")
    audiences = {GOOGLE_TOKEN_AUDIENCE, f"{base_url(request)}/token"}
    assert sim.public_key is not None
    claims = verify_assertion(
        assertion, sim.public_key, sim.config.client_email, audiences, time.time()
    )
    token = "ya29.sim-" + secrets.token_urlsafe(32)
    lifetime = sim.config.token_lifetime_s
    sim.tokens[token] = time.time() + lifetime
    sim.calls.append({"kind": "token", "claims": claims, "content_type": _ctype(request)})
    return JSONResponse({"access_token": token, "expires_in": lifetime - 1, "token_type": "Bearer"})


def _ctype(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0]


async def service_account(request: Request) -> Response:
    info = SimState.of(request).service_account(base_url(request))
    if info is None:
        return JSONResponse({"error": "configured with a public key only"}, status_code=404)
    return JSONResponse(info)


# --- Vertex AI -------------------------------------------------------------------------


def _authenticate(request: Request, sim: SimState, project: str | None) -> str:
    """The credential used; raises the Google 400/401/403 the real API answers."""
    api_key = request.headers.get("x-goog-api-key")
    if api_key is not None:
        if not sim.config.api_key or not secrets.compare_digest(api_key, sim.config.api_key):
            raise GoogleError(400, "API key not valid. Please pass a valid API key.")
        return "api-key"
    header = request.headers.get("authorization")
    challenge = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
    if not header:
        raise GoogleError(401, MISSING_CREDENTIAL, headers=challenge)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not sim.token_valid(token.strip()):
        raise GoogleError(401, UNAUTHENTICATED, headers=challenge)
    if project is not None and project != sim.config.project:
        raise GoogleError(
            403,
            f"Permission 'aiplatform.endpoints.predict' denied on resource "
            f"'//aiplatform.googleapis.com/projects/{project}' (or it may not exist).",
        )
    return header


async def vertex_api(request: Request) -> Response:
    sim = SimState.of(request)
    version, rest = request.path_params["version"], request.path_params["rest"]
    match = _API.match(rest) if version in ("v1", "v1beta1") else None
    if match is None:
        raise GoogleError(404, f"The requested URL /{version}/{rest} was not found.")
    credential = _authenticate(request, sim, match["project"])
    model = match["model"]
    if model not in MODELS:
        raise GoogleError(
            404,
            f"Publisher Model `projects/{match['project'] or sim.config.project}/locations/"
            f"{match['location'] or 'global'}/publishers/google/models/{model}` was not found or "
            "your project does not have access to it. Please ensure you are using a valid model "
            "version.",
        )
    body = await _json(request)
    if match["method"] == "predictLongRunning":
        project = match["project"] or sim.config.project
        location = match["location"] or "global"
        return await _predict(request, sim, body, (project, location, model), credential)
    return await _fetch(request, sim, body, model, credential)


async def _json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise invalid("Invalid JSON payload received.") from None


async def _predict(
    request: Request, sim: SimState, body: Any, where: tuple[str, str, str], credential: str
) -> Response:
    project, location, model = where
    instance = _instance(body)
    found = markers(instance.get("prompt") if isinstance(instance.get("prompt"), str) else "")
    if "hang" in found and not await hang(request, sim.config.hang_seconds):
        return Response(status_code=499)  # the caller left; nothing was created
    if "429" in found:
        raise _quota_exceeded(model)
    if "500" in found:
        raise GoogleError(500, "Internal error encountered.")
    job = check_create(model, body, allow_all_persons=sim.config.allow_all_persons)
    if "video" in instance:
        width, height, seconds = await _source_clip(sim, instance["video"])
        job = dataclasses.replace(job, width=width, height=height, seconds=seconds + 7)
    operation = sim.start(project, location, job, found)
    sim.calls.append(
        {"kind": "create", "model": model, "body": _elide(body), "authorization": credential}
    )
    return JSONResponse({"name": operation.name})


def _instance(body: Any) -> dict[str, Any]:
    instances = body.get("instances") if isinstance(body, dict) else None
    if isinstance(instances, list) and instances and isinstance(instances[0], dict):
        return instances[0]
    return {}


async def _source_clip(sim: SimState, video: Any) -> tuple[int, int, int]:
    """(width, height, seconds) of an extension's input video, bytes or gs:// object."""
    data = check_media(video, "video", frozenset({"video/mp4"}))
    if data is None:
        match = _GS.match(video["gcsUri"])
        clip = sim.objects.get(f"{match[1]}/{match[2]}") if match else None
        if clip is None:
            raise invalid(f"Unable to read video from {video['gcsUri']}.")
        width, height, seconds = clip
    else:
        probed = await run_in_threadpool(_probe, data)
        if probed is None:
            raise invalid("The input video could not be decoded.")
        width, height, seconds = probed
    if not 1 <= seconds <= 30:
        raise invalid("The input video must be 1 to 30 seconds long.")
    return width, height, seconds


def _probe(data: bytes) -> tuple[int, int, int] | None:
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.video[0]
            frames = len(list(container.decode(stream)))
            rate = float(stream.average_rate or 24)
            width, height = stream.codec_context.width, stream.codec_context.height
            return width, height, max(1, round(frames / rate))
    except Exception:
        return None


def _quota_exceeded(model: str) -> GoogleError:
    return GoogleError(
        429,
        "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model "
        f"with base model: {model}. Please submit a quota increase request.",
        details=[{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}],
    )


async def _fetch(
    request: Request, sim: SimState, body: Any, model: str, credential: str
) -> Response:
    name = body.get("operationName") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name:
        raise invalid("operationName is required.")
    operation = sim.operations.get(name)
    if operation is None or operation.job.model != model:
        raise GoogleError(404, f"Operation {name} not found.")
    fault = operation.poll_fault()
    sim.calls.append({"kind": "poll", "name": name, "authorization": credential})
    if fault == "poll-429":
        raise _quota_exceeded(model)
    if fault == "malformed":
        return Response('{"name": "' + name[:20], media_type="application/json")
    phase, _ = operation.timeline.phase()
    if phase != "done":
        if "unknown-status" in operation.markers:
            metadata = {"@type": "type.googleapis.com/sim.Undocumented", "state": "WARMING_UP"}
            return JSONResponse({"name": name, "done": False, "metadata": metadata})
        return JSONResponse({"name": name})
    return JSONResponse(await _finished(sim, operation))


async def _finished(sim: SimState, operation: SimOperation) -> dict[str, Any]:
    name, job, found = operation.name, operation.job, operation.markers
    if "op-error" in found:
        error = {"code": 13, "message": "Video generation failed due to an internal error."}
        return {"name": name, "done": True, "error": error}
    response: dict[str, Any] = {"@type": RESPONSE_TYPE, "raiMediaFilteredCount": 0}
    if "fail" in found:
        response |= {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [FILTERED_REASON]}
        return {"name": name, "done": True, "response": response}
    if job.storage_uri:
        prefix = job.storage_uri.rstrip("/") + "/" + name.rsplit("/", 1)[-1]
        uris = [f"{prefix}/sample_{i}.mp4" for i in range(job.samples)]
        for uri in uris:
            sim.objects[uri.removeprefix("gs://")] = (job.width, job.height, job.seconds)
        response["videos"] = [{"gcsUri": uri, "mimeType": "video/mp4"} for uri in uris]
    else:
        fps = sim.config.fps
        data = await run_in_threadpool(mp4_bytes, job.width, job.height, job.seconds, fps)
        encoded = base64.b64encode(data).decode()
        video = {"bytesBase64Encoded": encoded, "mimeType": "video/mp4"}
        response["videos"] = [video] * job.samples
    return {"name": name, "done": True, "response": response}


def _elide(value: Any) -> Any:
    """A request body for the call log, with base64 payloads replaced by their length."""
    if isinstance(value, dict):
        return {
            k: f"<{len(v)} base64 chars>"
            if k == "bytesBase64Encoded" and isinstance(v, str)
            else _elide(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_elide(v) for v in value]
    return value


# --- Cloud Storage ---------------------------------------------------------------------


def _gcs_error(code: int, message: str, reason: str) -> JSONResponse:
    error = {
        "code": code,
        "message": message,
        "errors": [{"message": message, "domain": "global", "reason": reason}],
    }
    return JSONResponse({"error": error}, status_code=code)


async def gcs_object(request: Request) -> Response:
    sim = SimState.of(request)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not sim.token_valid(token.strip()):
        return _gcs_error(401, "Invalid Credentials", "authError")
    bucket, name = request.path_params["bucket"], request.path_params["object"]
    clip = sim.objects.get(f"{bucket}/{name}")
    if clip is None:
        return _gcs_error(404, f"No such object: {bucket}/{name}", "notFound")
    sim.calls.append({"kind": "gcs", "object": f"{bucket}/{name}", "authorization": header})
    if request.query_params.get("alt") != "media":
        meta = {
            "kind": "storage#object",
            "bucket": bucket,
            "name": name,
            "contentType": "video/mp4",
        }
        return JSONResponse(meta)
    return await mp4_response(*clip, sim.config.fps)


# --- app -------------------------------------------------------------------------------


async def _google_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GoogleError)
    return exc.response()


async def _oauth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return exc.response()


API_PATH = "/v1"  # a deployment's api_base: the simulator's URL plus this


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """The simulator as an ASGI app; its state is ``app.state.sim``."""
    state = SimState(config or SimulatorConfig())
    routes = [
        Route("/__sim__/service_account", service_account, methods=["GET"]),
        Route("/token", token_endpoint, methods=["POST"]),
        Route("/download/storage/v1/b/{bucket}/o/{object:path}", gcs_object, methods=["GET"]),
        Route("/storage/v1/b/{bucket}/o/{object:path}", gcs_object, methods=["GET"]),
        Route("/{version}/{rest:path}", vertex_api, methods=["POST"]),
    ]
    handlers = {GoogleError: _google_error, OAuthError: _oauth_error}
    return sim_app(state, routes, exception_handlers=handlers)
