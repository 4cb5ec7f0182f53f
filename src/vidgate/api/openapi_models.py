"""Pydantic models that describe request bodies and replies in ``/openapi.json`` — only that.

The routes parse bodies themselves (``api/body.py``, ``request/parse.py``, ``api/extended.py``)
so that every rejection is a 400 naming the field the client sent; these models never
validate a request. They mirror what the parsers accept, so clients and code generators can
read the API, and ``tests/api/test_fuzz.py`` draws the fields it attacks from them: a field
added here is fuzzed, and a field accepted by a parser but missing here is a documentation
bug. ``extra="forbid"`` marks bodies whose parser rejects unknown fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from vidgate.accounting.budgets import MAX_BUDGET_USD
from vidgate.accounting.keys import MAX_UNIX_TIME
from vidgate.accounting.spend import GROUP_BY
from vidgate.values import OptionKind
from vidgate.webhooks.config import EVENT_TYPES

_Strict = ConfigDict(extra="forbid")
KEY_LIMIT_MAX = 1_000_000_000
"""``api/admin.py``'s ``MAX_LIMIT`` (which imports this module; a test keeps them equal)."""
Binary = bytes
"""A file part of a multipart body (``format: binary`` in the schema)."""


# --- errors -------------------------------------------------------------------------------


class ErrorObject(BaseModel):
    message: str = Field(description="What went wrong, naming the field and allowed values.")
    type: str = Field(description="invalid_request_error, authentication_error, ...")
    param: str | None = Field(description="The field or parameter at fault, as sent.")
    code: str | None = Field(description="A machine-readable code, e.g. invalid_value.")


class ErrorResponse(BaseModel):
    """The OpenAI error envelope every error of the gateway is sent in."""

    error: ErrorObject


# --- images and videos given to a create ----------------------------------------------------


class ImageReference(BaseModel):
    """Exactly one of ``image_url`` (an https URL or a ``data:`` URI) or ``file_id``."""

    model_config = _Strict
    image_url: str | None = Field(None, examples=["https://example.com/first.png"])
    file_id: str | None = None


class ChatImageUrl(BaseModel):
    url: str


class ImageObject(BaseModel):
    """An image as other gateways send it: ``{url}``, ``{image_url}`` (a string or the
    chat-style ``{url}``) or ``{file_id}``."""

    url: str | None = None
    image_url: str | ChatImageUrl | None = None
    file_id: str | None = None


Image = str | ImageObject
"""A URL, a ``data:`` URI, bare base64 PNG/JPEG/WebP bytes, or an image object."""


class VideoReference(BaseModel):
    """An earlier video of the same key, by id."""

    model_config = _Strict
    id: str = Field(examples=["video_0123456789abcdef0123456789abcdef"])


class Options(BaseModel):
    """Provider options, checked against the chosen model (``GET /v1/models``); the keys
    below mean the same for every provider, others are passed to the model that takes them."""

    model_config = ConfigDict(extra="allow")
    negative_prompt: str | None = None
    audio: bool | None = Field(None, description="Generate audio, where the model can.")
    last_frame: str | ImageReference | None = None
    reference_images: list[str | ImageReference] | None = None
    model: str | None = Field(None, description="May repeat 'model'; never another model.")


class ContentItem(BaseModel):
    """A Seedance-style ``content`` item: the prompt, or an image with an optional role."""

    type: Literal["text", "image_url"]
    text: str | None = None
    image_url: Image | None = None
    role: Literal["first_frame", "last_frame", "reference_image"] | None = None


# --- POST /v1/videos and its operations ------------------------------------------------------


class _Common(BaseModel):
    model_config = _Strict
    prompt: str = Field(min_length=1, examples=["A paper boat drifting down a rainy street"])
    metadata: Options | None = None
    user: str | None = Field(None, description="Your end user's id, for spend reports.")
    parameters: dict[str, Any] | None = Field(
        None, description="Provider options, as 'metadata' (aggregator gateways' name)."
    )
    mode: str | None = Field(None, description="Provider mode, same as 'metadata.mode'.")
    n: Literal[1] | Literal["1"] | None = Field(None, description="Only 1 video per request.")
    response_format: Literal["url"] | None = None
    drop_params: bool | None = Field(
        None,
        description="Drop fields the model does not take instead of a 400 (named in "
        "x-vidgate-dropped-params); default: the key's, else the gateway's setting.",
    )


class VideoCreate(_Common):
    """OpenAI's create body plus the extended fields aggregator gateways document."""

    prompt: str | None = Field(  # type: ignore[assignment]
        None,
        min_length=1,
        examples=["A paper boat drifting down a rainy street"],
        description="Required, unless a 'content' text item gives it.",
    )
    model: str | None = Field(None, examples=["sora-2"], description="See GET /v1/models.")
    seconds: int | str | None = Field(None, examples=["4"])
    size: str | None = Field(None, examples=["1280x720"], description="WIDTHxHEIGHT.")
    resolution: str | None = Field(None, examples=["720p"], description="720p, 1080p, 4k.")
    aspect_ratio: str | None = Field(None, examples=["16:9"], description="W:H.")
    input_reference: ImageReference | None = Field(None, description="The first frame.")
    images: list[Image] | None = Field(None, description="Images whose roles the model picks.")
    seed: int | None = None
    fps: int | None = None
    duration: int | str | None = Field(None, description="Same as 'seconds' ('seconds' wins).")
    width: int | str | None = Field(None, description="With 'height': the size in pixels.")
    height: int | str | None = None
    image: Image | None = Field(None, description="The first frame, as 'input_reference'.")
    content: list[ContentItem] | None = None


class VideoCreateForm(VideoCreate):
    """The create body as ``multipart/form-data``: images as files; objects as JSON text or
    bracket keys (``input_reference[image_url]``)."""

    input_reference: Binary | ImageReference | None = None  # type: ignore[assignment]
    images: list[Binary | str] | None = None  # type: ignore[assignment]
    image: Binary | str | None = None  # type: ignore[assignment]


class VideoRemix(_Common):
    """A new video from a completed one, by a new prompt."""

    seconds: int | str | None = Field(
        None,
        examples=["8"],
        description="The source's length (the default) or, where the model's remix can set "
        "one, another length.",
    )
    duration: int | str | None = Field(None, description="Same as 'seconds'.")


class VideoEdit(_Common):
    video: VideoReference
    model: str | None = None


class VideoExtend(VideoEdit):
    seconds: int | str = Field(description="How many seconds to add.")
    duration: int | str | None = Field(None, description="Same as 'seconds'.")


class VideoEditForm(VideoEdit):
    video: Binary | VideoReference  # type: ignore[assignment]


class VideoExtendForm(VideoExtend):
    video: Binary | VideoReference  # type: ignore[assignment]


# --- replies ------------------------------------------------------------------------------


class VideoError(BaseModel):
    code: str
    message: str


class VideoUsage(BaseModel):
    duration_seconds: float | None
    cost_usd: float | None


class VideoProvenance(BaseModel):
    c2pa: bool = Field(
        description="The archived video holds a C2PA manifest store (Content Credentials) in a "
        "top-level uuid box; vidgate serves it byte for byte, so the manifest still verifies. "
        "The signature is not checked here."
    )


class Video(BaseModel):
    """OpenAI's Video object, plus ``usage``, ``task_id``, ``url``, ``user`` and ``provider``."""

    id: str
    object: Literal["video"]
    model: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int
    created_at: int
    completed_at: int | None
    expires_at: int | None
    prompt: str | None
    size: str
    seconds: str
    remixed_from_video_id: str | None
    error: VideoError | None
    usage: VideoUsage
    task_id: str = Field(description="The id again, for clients of older gateways.")
    url: str | None = Field(description="The gateway's content URL once completed.")
    user: str | None = Field(description="The end user the create named ('user'), if any.")
    provider: str = Field(description="The provider serving the job (after any failover).")
    provenance: VideoProvenance | None = Field(
        description="What the archived file carries; null until it is archived."
    )
    dropped_params: list[str] = Field(
        description="Fields the deployment that took the job dropped under drop_params, as "
        "sent (also in x-vidgate-dropped-params); empty when none."
    )


class VideoList(BaseModel):
    object: Literal["list"]
    data: list[Video]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VideoDeleted(BaseModel):
    id: str
    object: Literal["video.deleted"]
    deleted: bool


class EstimateReason(BaseModel):
    """Why the create would not be admitted now."""

    code: Literal[
        "model_not_allowed", "insufficient_quota", "rate_limit_exceeded", "end_user_blocked"
    ]
    message: str
    budget: Literal["key", "team", "user", "end_user"] | None = None
    retry_after_s: float | None = None


class EstimateBudget(BaseModel):
    budget: Literal["key", "team", "user"]
    max_budget: float | None
    spend: float
    reserved: float = Field(description="Held by this budget's running jobs.")
    left: float | None = Field(description="What a new hold may take; null without a limit.")


class EstimateLimits(BaseModel):
    rpm_limit: int | None
    rpm_used: int
    max_parallel_jobs: int | None
    running: int


class EstimateEndUserBudget(BaseModel):
    max_budget: float | None
    spend: float
    reserved: float
    left: float | None


class EstimateEndUser(BaseModel):
    """The end user (``user``) of the request: its effective limits and use of them."""

    user: str
    max_budget: float | None
    budget_duration: str | None
    rpm_limit: int | None
    max_parallel_requests: int | None
    rpm_used: int
    running: int
    wait_s: float
    blocked: bool
    budget: EstimateEndUserBudget


class VideoEstimate(BaseModel):
    """A dry run of a create: no job, no hold on the budget, no upstream call."""

    object: Literal["video.estimate"]
    model: str = Field(description="The model group asked for (or the default).")
    candidates: list[str] = Field(
        description="The model groups that could serve it, in the order a create tries them."
    )
    seconds: str | None
    size: str | None
    dropped_params: list[str] = Field(
        description="What a create would drop under drop_params, on the first placement."
    )
    estimated_cost_usd: float = Field(
        description="What a create would hold on the budgets now (0 when unpriced)."
    )
    priced: bool
    admitted: bool
    reasons: list[EstimateReason]
    budgets: list[EstimateBudget]
    limits: EstimateLimits
    end_user: EstimateEndUser | None = Field(
        description="The end user's admission; null without 'user' (or for the master key)."
    )


# --- compatibility surfaces ----------------------------------------------------------------


class Keyframe(BaseModel):
    type: Literal["image"]
    url: Image


class Keyframes(BaseModel):
    model_config = _Strict
    frame0: Keyframe | None = None
    frame1: Keyframe | None = None


class V2GenerationCreate(BaseModel):
    """aimlapi's ``/v2`` create; other fields are vendor options, passed to the model."""

    model_config = ConfigDict(extra="allow")
    model: str | None = Field(
        None, examples=["google/veo3"], description="Required, except on a vendor path."
    )
    prompt: str = Field(min_length=1, examples=["A paper boat drifting down a rainy street"])
    duration: int | str | None = Field(None, examples=[5], description="Seconds; '5s' too.")
    aspect_ratio: str | None = None
    resolution: str | None = None
    size: str | None = None
    seed: int | None = None
    user: str | None = None
    image_url: Image | None = Field(None, description="The first frame.")
    first_frame_image: Image | None = None
    last_image_url: Image | None = Field(None, description="The last frame.")
    last_frame_image: Image | None = None
    tail_image_url: Image | None = None
    keyframes: Keyframes | None = None
    generate_audio: bool | None = None
    negative_prompt: str | None = None
    generation_type: Literal["video"] | None = None
    metadata: Options | None = None
    drop_params: bool | None = Field(None, description="As on POST /v1/videos.")


class TaskCreate(VideoCreate):
    """new-api's create: ``input_reference`` may also be a URL or base64 image string."""

    input_reference: str | ImageReference | None = None  # type: ignore[assignment]


# --- replies of the compatibility surfaces ---------------------------------------------------

V2Status = Literal["queued", "generating", "completed", "error"]
"""aimlapi's statuses for vidgate's queued, in_progress, completed and failed."""


class V2GenerationCreated(BaseModel):
    """aimlapi's create answer (HTTP 201)."""

    id: str = Field(examples=["video_0123456789abcdef0123456789abcdef"])
    generation_id: str = Field(description="The id again: the vidgate video id.")
    status: V2Status = Field(description="A replayed Idempotency-Key may find it further on.")
    model: str = Field(description="The vidgate model group that runs the job.")
    created_at: int


class V2Video(BaseModel):
    url: str = Field(description="The gateway's content URL; the owner's key fetches it.")
    duration: float


class V2GenerationError(BaseModel):
    name: str = Field(description="vidgate's error code.")
    message: str


class V2Usage(BaseModel):
    cost_usd: float | None = Field(description="The final charge; null while running.")
    duration_seconds: float | None


class V2Meta(BaseModel):
    usage: V2Usage


class V2Generation(BaseModel):
    """A generation as aimlapi's poll answers it."""

    id: str
    generation_id: str
    model: str
    status: V2Status
    progress: int
    created_at: int
    completed_at: int | None
    video: V2Video | None = Field(description="null until completed.")
    duration: float = Field(description="Measured once completed; the requested seconds before.")
    error: V2GenerationError | None = Field(description="Once failed.")
    meta: V2Meta


class V2GenerationPoll(RootModel[V2Generation | list[V2Generation]]):
    """One generation for ``generation_id``; a list, in order, for ``generation_ids``."""


class TaskProperties(BaseModel):
    input: Literal[""]
    upstream_model_name: str = Field(description="The vidgate model name, as the next one.")
    origin_model_name: str


class TaskDto(BaseModel):
    """new-api's ``TaskDto`` for a job (``docs/compat-newapi.md``)."""

    id: int = Field(description="The job's sequence number.")
    created_at: int
    updated_at: int
    task_id: str = Field(description="The video id.")
    platform: str = Field(description="The vidgate provider that runs the job.")
    user_id: Literal[0]
    group: Literal[""]
    channel_id: Literal[0]
    quota: int = Field(description="Held, then charged, in quota units (500000 per USD).")
    action: Literal[
        "textGenerate", "generate", "firstTailGenerate", "referenceGenerate", "remixGenerate"
    ]
    status: Literal["SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS", "FAILURE"]
    fail_reason: str = Field(
        description="The error on FAILURE; the content URL on SUCCESS; empty otherwise."
    )
    result_url: str | None = Field(None, description="The content URL; on SUCCESS only.")
    submit_time: int
    start_time: int = Field(description="Unix seconds; 0 while unset, as finish_time.")
    finish_time: int
    progress: str = Field(pattern=r"^[0-9]{1,3}%$", examples=["100%"])
    properties: TaskProperties
    data: Video


class TaskFetched(BaseModel):
    """new-api's poll answer."""

    code: Literal["success"]
    message: Literal[""]
    data: TaskDto


# --- administration -------------------------------------------------------------------------


class _Budget(BaseModel):
    max_budget: float | None = Field(
        None, ge=0, le=MAX_BUDGET_USD, description="USD per period; null: none."
    )
    budget_duration: str | None = Field(None, examples=["30d"], description="12h, 1d, 30d.")


class EndUserLimitsBody(_Budget):
    """An end user's limits: key defaults, or one end user's overrides (null: not set)."""

    model_config = _Strict
    rpm_limit: int | None = Field(None, ge=1, le=KEY_LIMIT_MAX, description="Creates per minute.")
    max_parallel_requests: int | None = Field(
        None, ge=1, le=KEY_LIMIT_MAX, description="Jobs in flight."
    )


class EndUserChange(_Budget):
    """``/customer/new`` and ``/customer/update``: overrides for one end user (a field
    left out keeps its value; null clears it, and the key's default applies)."""

    user_id: str | None = Field(
        None, min_length=1, max_length=200, description="The end user (the 'user' it sends)."
    )
    end_user: str | None = Field(None, min_length=1, max_length=200, description="= user_id.")
    rpm_limit: int | None = Field(None, ge=1, le=KEY_LIMIT_MAX, description="Creates per minute.")
    max_parallel_requests: int | None = Field(
        None, ge=1, le=KEY_LIMIT_MAX, description="Jobs in flight."
    )
    blocked: bool | None = None
    key: str | None = Field(None, description="Whose end user (master key only).")


class EndUserNames(BaseModel):
    """``/customer/block``, ``/customer/unblock``, ``/customer/delete``."""

    user_ids: list[str] = Field(min_length=1, max_length=1000)
    key: str | None = Field(None, description="Whose end users (master key only).")


class _KeyFields(_Budget):
    key_alias: str | None = None
    models: list[str] | None = Field(None, description="Models the key may use; none: all.")
    duration: str | None = Field(None, examples=["30d"], description="Lifetime: 30s, 12h, 30d.")
    expires: float | None = Field(None, ge=0, le=MAX_UNIX_TIME, description="Unix seconds.")
    metadata: dict[str, Any] | None = None
    team_id: str | None = Field(None, min_length=1)
    user_id: str | None = Field(None, min_length=1)
    rpm_limit: int | None = Field(None, ge=1, le=KEY_LIMIT_MAX, description="Creates per minute.")
    max_parallel_requests: int | None = Field(
        None, ge=1, le=KEY_LIMIT_MAX, description="Jobs in flight."
    )
    drop_params: bool | None = Field(
        None, description="Drop fields a model does not take; null: the gateway's setting."
    )
    end_user_limits: EndUserLimitsBody | None = Field(
        None, description="Defaults for every end user ('user') of the key; null: none."
    )


class KeyGenerate(_KeyFields):
    alias: str | None = Field(None, description="Same as 'key_alias'.")


class KeyUpdate(_KeyFields):
    key: str = Field(description="The key's id, alias or the key itself.")


class KeyDelete(BaseModel):
    keys: list[str] | None = None
    key_aliases: list[str] | None = None


class TeamNew(_Budget):
    team_id: str | None = Field(None, description="Default: a generated id.")


class TeamUpdate(_Budget):
    team_id: str


class UserNew(_Budget):
    user_id: str | None = Field(None, description="Default: a generated id.")


class UserUpdate(_Budget):
    user_id: str


class WebhookCreate(BaseModel):
    model_config = _Strict
    url: str = Field(examples=["https://example.com/hooks/vidgate"])
    events: list[Literal[EVENT_TYPES]] | None = Field(  # type: ignore[valid-type]
        None, min_length=1, description="Default: every event type."
    )
    description: str | None = Field(None, max_length=500)


class WebhookRotate(BaseModel):
    model_config = _Strict
    previous_expires_in: int | None = Field(
        None,
        ge=0,
        le=2_592_000,
        description="Seconds the replaced secret keeps signing beside the new one (default "
        "86400, 24 h; 0 stops it at once).",
    )


# --- replies of the administration, operator and webhook routes ----------------------------
# What the routes build as dicts (they never validate through these); ``tests/api/
# test_openapi.py`` checks real replies against the schemas. A field that may be absent is
# the only kind with a default here.

BudgetKind = Literal["key", "team", "user"]


class BudgetState(BaseModel):
    """A budget row as the admin routes show it (``accounting/budgets.public``)."""

    max_budget: float | None = Field(description="USD per period; null: no limit.")
    spend: float = Field(description="Spent in the current period.")
    reserved: float = Field(description="Held by running jobs.")
    budget_duration: str | None = Field(description="The period: 12h, 1d, 30d; null: none.")
    budget_reset_at: float | None = Field(description="When the period ends, Unix seconds.")


class EndUserLimitsState(BaseModel):
    max_budget: float | None
    budget_duration: str | None
    rpm_limit: int | None
    max_parallel_requests: int | None


class EndUser(BaseModel):
    """One end user of one key: overrides, the limits in force, blocked, its spend."""

    object: Literal["end_user"]
    user_id: str = Field(description="The 'user' its requests carry.")
    key_id: str
    blocked: bool
    overrides: EndUserLimitsState = Field(description="Its own settings; null: the key's.")
    limits: EndUserLimitsState = Field(description="In force: overrides over key defaults.")
    spend: float = Field(description="Spent in the current budget period.")
    reserved: float = Field(description="Held by running jobs.")
    budget_reset_at: float | None
    total_spend: float = Field(description="Spent over all time (the spend logs).")
    created_at: int | None = Field(description="When it was first seen or configured.")


class EndUserList(BaseModel):
    object: Literal["list"]
    data: list[EndUser]
    has_more: bool
    last_id: str | None = Field(description="Pass as 'after' for the next page.")


class EndUsersChanged(BaseModel):
    user_ids: list[str]
    blocked: bool | None = Field(description="Their state now; null: deleted.")


class Key(BudgetState):
    """A virtual key as admin routes show it: never the key itself or its hash."""

    key_id: str
    key_alias: str | None
    key_hint: str = Field(description="The key's last characters, to recognise it.")
    models: list[str] = Field(description="Models the key may use; empty: all.")
    metadata: dict[str, Any]
    created_at: int
    expires: int | None = Field(description="Unix seconds; null: never.")
    revoked: bool
    team_id: str | None
    user_id: str | None
    rpm_limit: int | None
    max_parallel_requests: int | None
    drop_params: bool | None = Field(description="null: the gateway's setting.")
    end_user_limits: EndUserLimitsState = Field(description="Defaults for its end users.")


class KeyGenerated(Key):
    key: str = Field(description="The new key: shown once, store it.")


class BudgetBalance(BaseModel):
    """What a budget a hold meets would let a new hold take now."""

    id: str = Field(examples=["team:research"])
    name: str = Field(description="The id after the colon.")
    budget: BudgetKind
    max_budget: float | None
    spend: float
    reserved: float
    left: float | None = Field(description="What a new hold may take; null without a limit.")


class KeyDetails(Key):
    budgets: list[BudgetBalance] = Field(
        description="The key's own, its team's and its user's budget rows that exist."
    )


class MasterKeyDetails(BaseModel):
    key_id: Literal["master"]
    admin: Literal[True]


class KeyInfo(BaseModel):
    key_id: str
    info: KeyDetails | MasterKeyDetails


class KeyList(BaseModel):
    keys: list[Key]
    total_count: int


class KeysDeleted(BaseModel):
    deleted_keys: list[str] = Field(description="The ids of the keys revoked.")


class Team(BudgetState):
    team_id: str


class User(BudgetState):
    user_id: str


class SpendLogRow(BaseModel):
    """One settled job."""

    job_id: str
    key_id: str
    team_id: str | None
    user_id: str | None
    model: str
    provider: str
    deployment_id: str
    status: Literal["completed", "failed"]
    seconds: float | None
    cost_usd: float
    priced: bool = Field(description="False: the model has no price; cost_usd is 0.")
    created_at: float
    settled_at: float
    end_user: str | None = Field(description="The 'user' the request carried.")


class SpendLogPage(BaseModel):
    """A page of spend rows, newest first (``format=csv``: every matching row as CSV)."""

    object: Literal["list"]
    data: list[SpendLogRow]
    has_more: bool
    next_cursor: str | None = Field(description="The next page's 'after'.")
    total_cost_usd: float = Field(description="Over every matching row, not just this page.")


class SpendTotals(BaseModel):
    jobs: int
    completed: int
    failed: int
    seconds: float
    cost_usd: float


class SpendGroup(SpendTotals):
    group: str | None = Field(description="The key, model, provider, day, team, user or end user.")
    key_id: str | None = Field(
        None, description="With group_by=end_user: the key the end user belongs to."
    )


class SpendReport(BaseModel):
    object: Literal["spend_report"]
    group_by: Literal[GROUP_BY]  # type: ignore[valid-type]
    start: float | None
    end: float | None
    rows: list[SpendGroup]
    totals: SpendTotals


class DeploymentError(BaseModel):
    code: str
    message: str
    at: float


class DeploymentHealth(BaseModel):
    """A deployment as the router sees it; never credentials or upstream URLs."""

    id: str
    model_name: str
    provider: str
    model: str
    healthy: bool
    state: Literal["ok", "cooling_down", "probing"]
    cooling_down_until: float | None
    recent_requests: int = Field(description="Creates within the breaker's window.")
    recent_failures: int
    latency_ms: float | None = Field(description="The average create latency.")
    successes: int
    errors: int
    last_error: DeploymentError | None
    running_jobs: int
    rpm_used: int
    rpm: int | None
    max_concurrent_jobs: int | None
    weight: float


class DeploymentHealthList(BaseModel):
    healthy_count: int
    unhealthy_count: int
    deployments: list[DeploymentHealth]


class Health(BaseModel):
    status: Literal["ok"]
    version: str = Field(examples=["0.1.0"])


class ReadinessCheck(BaseModel):
    ok: bool
    ms: float = Field(description="How long the check took.")
    error: str | None = Field(
        description="What failed: the step and the exception's class (details are logged)."
    )


class Readiness(BaseModel):
    """``/health/ready``: 200 when every check passed, 503 (with ``error``) when one failed."""

    status: Literal["ok", "unavailable"]
    version: str = Field(examples=["0.1.0"])
    checks: dict[str, ReadinessCheck] = Field(
        description="database and storage always; redis when redis_url is set."
    )
    error: ErrorObject | None = Field(
        default=None, description="Only when a check failed: code not_ready, naming it."
    )


class ConfigPricing(BaseModel):
    per_second: dict[str, float] = Field(description="Per output second, by resolution tier.")
    per_second_audio: dict[str, float] | None
    unit: str
    usd_per_unit: float
    source: str


class ConfigDeployment(BaseModel):
    """A deployment of the live routing table."""

    id: str
    model_name: str
    provider: str
    model: str
    api_base: str | None
    api_key: str | None = Field(description="'[redacted]' when set.")
    weight: float
    rpm: int | None
    max_concurrent_jobs: int | None
    max_concurrent_polls: int
    poll_interval_s: float
    timeout_s: float
    idempotent_submit: bool
    options: dict[str, Any] = Field(description="Secret-named options masked.")
    pricing: ConfigPricing | None = Field(description="null: the model's list price.")


class RunningConfig(BaseModel):
    """The configuration in force: every secret-named field ``[redacted]`` (null when unset),
    every other string through the log redactor."""

    object: Literal["config"]
    config_path: str | None
    default_model: str
    model_aliases: dict[str, str]
    model_list: list[ConfigDeployment]
    router: dict[str, Any] = Field(description="The router settings in force.")
    settings: dict[str, Any] = Field(description="The config's settings: section, at start.")
    database_url: str
    redis_url: str | None
    storage_url: str
    storage: dict[str, Any] = Field(description="The config's storage: section, at start.")
    webhooks: list[dict[str, Any]] = Field(description="Endpoints of the config, at start.")


class ConfigReloaded(BaseModel):
    reloaded: Literal[True]
    added: list[str] = Field(description="Deployment ids.")
    changed: list[str]
    removed: list[str] = Field(description="Retired: their running jobs still finish.")


class AttemptError(BaseModel):
    status: int
    code: str
    message: str


class JobAttempt(BaseModel):
    """One upstream create of the job."""

    deployment: str
    model: str
    provider: str
    started_at: float
    latency_ms: float
    error: AttemptError | None


class JobError(BaseModel):
    code: str
    message: str | None


class _JobFields(BaseModel):
    id: str
    owner_key_id: str
    end_user: str | None
    model: str
    deployment_id: str
    provider: str
    upstream_model: str
    operation: str = Field(examples=["create"])
    status: Literal["queued", "in_progress", "completed", "failed"]
    phase: str = Field(description="Where the job is within its status.")
    error: JobError | None
    attempts: list[JobAttempt]
    reserved_usd: float | None = Field(description="Held on the budgets while it runs.")
    cost_usd: float | None
    budget_ids: list[str]
    created_at: float
    started_at: float | None
    completed_at: float | None
    deleted_at: float | None
    deadline_at: float | None = Field(
        description="Still running upstream then, the job fails uncharged (docs/deadlines.md)."
    )


class SentImage(BaseModel):
    role: str | None
    kind: str | None = Field(description="upload, url or file_id.")
    url: str | None = Field(None, description="Redacted; 'data URI' for inline images.")
    file_id: str | None = None
    content_type: str | None


class SentSource(BaseModel):
    video_id: str | None
    seconds: float | None
    upstream_id: str | None = Field(None, description="Master key only.")


class JobRequest(BaseModel):
    """The request as the gateway resolved it: no storage keys or result locations, URLs and
    options redacted."""

    operation: str | None
    prompt: str | None
    seconds: int | None
    size: str | None
    fps: int | None
    seed: int | None
    negative_prompt: str | None
    audio: bool | None
    images: list[SentImage]
    options: dict[str, Any]
    source: SentSource | None = Field(None, description="The video a follow-up continues.")
    upstream_model: str | None = Field(None, description="Master key only.")


class AfterDeadline(BaseModel):
    """What the upstream did with a job after it failed at its deadline (docs/deadlines.md):
    watched every ``settings.overdue_poll_s`` until it ended or ``watch_until``."""

    failed_at: float
    watch_until: float
    outcome: Literal["completed", "failed", "gone", "unknown"] | None = Field(
        None, description="None while still watched."
    )
    completed_at: float | None = None
    cost_usd: float | None = Field(
        None, description="A late completion's list price: the operator's, charged to nobody."
    )
    code: str | None = None
    reason: str | None = None


class JobRecord(_JobFields):
    """A job's full record: its routing history, money and webhook deliveries. The master key
    reads any owner's job, a virtual key only its own, without the upstream fields."""

    upstream_model: str | None = Field(None, description="Master key only.")  # type: ignore[assignment]
    upstream_id: str | None = Field(None, description="Master key only.")
    after_deadline: AfterDeadline | None = Field(
        None, description="Master key only: the upstream task of a job failed at its deadline."
    )
    progress: int
    request: JobRequest
    webhook_deliveries: list[JobDelivery] = Field(
        description="To every endpoint for the master key; to the caller's own otherwise."
    )


class AdminJob(_JobFields):
    prompt: str
    progress: int
    size: str
    seconds: int
    remixed_from: str | None
    updated_at: float
    expires_at: float | None


class AdminJobList(BaseModel):
    """Every key's jobs, newest first."""

    object: Literal["list"]
    data: list[AdminJob]
    first_id: str | None
    last_id: str | None = Field(description="The next page's 'after_id'.")
    has_more: bool


class RequestLogRow(BaseModel):
    seq: int
    at: float
    request_id: str
    method: str
    route: str = Field(examples=["/v1/videos/{id}"])
    status_code: int
    latency_ms: float
    key_id: str | None
    model: str | None
    deployment_id: str | None
    job_id: str | None
    error_code: str | None
    end_user: str | None
    moderation: str | None = Field(
        description="The moderation check's outcome for a create-like request: passed, "
        "blocked: <categories> | term, error: <why> (refused | allowed); null when none ran.",
        examples=["blocked: violence"],
    )


class RequestLogList(BaseModel):
    """The request log, newest first."""

    object: Literal["list"]
    data: list[RequestLogRow]
    first_id: int | None
    last_id: int | None = Field(description="The next page's 'after_id'.")
    has_more: bool


class WebhookSecret(BaseModel):
    """An active signing secret, named without its value."""

    id: str = Field(description="whsk_ + the first 16 hex digits of the secret's SHA-256.")
    object: Literal["webhook_secret"]
    hint: str = Field(description="The secret's first characters, to recognise it.")
    status: Literal["current", "previous"]
    created_at: int
    expires_at: int | None = Field(description="When a previous secret stops signing.")


class WebhookEndpoint(BaseModel):
    id: str
    object: Literal["webhook_endpoint"]
    url: str
    events: list[Literal[EVENT_TYPES]]  # type: ignore[valid-type]
    description: str | None
    status: Literal["enabled", "disabled"]
    disabled_reason: str | None
    source: Literal["api", "config"]
    created_at: int
    secrets: list[WebhookSecret] = Field(
        description="Every secret each delivery is signed with, the current one first."
    )


class WebhookEndpointCreated(WebhookEndpoint):
    secret: str = Field(
        description="The new signing secret: shown once, by the create or rotate that made it."
    )


class WebhookEndpointList(BaseModel):
    object: Literal["list"]
    data: list[WebhookEndpoint]
    first_id: str | None
    last_id: str | None
    has_more: bool


class WebhookEndpointDeleted(BaseModel):
    id: str
    object: Literal["webhook_endpoint.deleted"]
    deleted: bool


class WebhookDelivery(BaseModel):
    id: str
    object: Literal["webhook_delivery"]
    event_id: str = Field(description="The webhook-id header: the same on every redelivery.")
    event_type: Literal[EVENT_TYPES]  # type: ignore[valid-type]
    video_id: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: int | None
    delivered_at: int | None
    created_at: int


class JobDelivery(WebhookDelivery):
    endpoint_id: str


class WebhookDeliveryList(BaseModel):
    object: Literal["list"]
    data: list[WebhookDelivery]
    first_id: str | None
    last_id: str | None
    has_more: bool


class OptionField(BaseModel):
    """An option as a form field: its kind and the values or range it allows."""

    kind: OptionKind
    choices: list[Any]
    minimum: float | None
    maximum: float | None
    max_length: int | None = Field(description="Longest string, or most items of a list.")
    description: str


class ModelCapabilities(BaseModel):
    operations: list[str] = Field(examples=[["create", "remix"]])
    seconds: list[int]
    default_seconds: int
    sizes: list[str]
    default_size: str
    fps: list[int]
    input_reference: bool = Field(description="Takes a first frame.")
    seed: bool
    image_roles: list[str] = Field(examples=[["first_frame", "last_frame"]])
    options: dict[str, str] = Field(description="Each option and the values it takes.")
    option_fields: dict[str, OptionField] = Field(description="The same, as data.")
    any_options: bool = Field(description="Passes options it does not list, unchecked.")


class ModelPrice(BaseModel):
    """A model's list price in USD per output second, by resolution tier (``480p``,
    ``720p``, ``1080p``, ``4k``, or ``*`` for any); what a create holds and, unless the
    upstream reports its own usage, what a completed job is charged."""

    usd_per_second: dict[str, float] = Field(examples=[{"720p": 0.1, "1080p": 0.3}])
    usd_per_second_with_audio: dict[str, float] | None = Field(
        description="The rates when the video has audio, where they differ."
    )
    billed_in: str = Field(description="The unit the upstream bills in (usd, credits, ...).")
    source: str = Field(
        description="Where the price comes from (the provider's price page, "
        "or 'config' for a deployment's own pricing)."
    )


class Model(BaseModel):
    id: str
    alias_for: str | None = Field(description="The model group an alias names.")
    object: Literal["model"]
    created: int
    owned_by: str = Field(description="The provider.")
    description: str
    default: bool = Field(description="Used when a create names no model.")
    pricing: ModelPrice | None = Field(
        description="The list price of the group's first deployment; null when unpriced "
        "(free: the local renderer, or a model without a published price)."
    )
    capabilities: ModelCapabilities


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[Model]
