"""Gateway settings and the YAML config file: the only place environment variables are read.

Settings come from, in order of precedence: CLI flags, ``VIDGATE_*`` environment variables,
the ``settings:`` section of the config file, defaults. Secrets in the config file are
written ``os.environ/NAME`` and resolved here, once, at start.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import secrets
import stat
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from vidgate.netpolicy import OutboundPolicy, entry_problem
from vidgate.webhooks.config import WebhookEndpoints, WebhookSettings, url_problem

Severity = Literal["error", "warning"]
Loc = tuple[str | int, ...]
"""Where in the config file: the keys and list indexes from the top (``("model_list", 2,
"provider")``)."""


def render_loc(loc: Loc) -> str:
    """``("model_list", 2, "provider")`` as ``model_list[2].provider``."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a config file: where, what, and whether it stops the gateway
    (``error``) or would only fail requests later (``warning``, ``vidgate config check``)."""

    loc: Loc
    message: str
    severity: Severity = "error"
    line: int | None = None
    """1-based line in the file (when known)."""
    column: int | None = None

    @property
    def path(self) -> str:
        return render_loc(self.loc)

    def render(self, file: Path | str | None = None) -> str:
        """One line: ``vidgate.yaml: model_list[2].provider: message (line 9)``."""
        parts = [] if file is None else [str(file)]
        if self.loc:
            parts.append(self.path)
        elif self.line is not None:
            parts.append(f"line {self.line}, column {self.column or 1}")
        if self.severity == "warning":
            parts.append("warning")
        text = ": ".join([*parts, self.message])
        if self.loc and self.line is not None:
            text += f" (line {self.line})"
        return " ".join(text.split())  # one problem, one line


class ConfigError(ValueError):
    """A bad config file; the message names the path of the bad entry, one problem a line.

    Raised with a message, or with the problems (``problems``) found in ``file``."""

    def __init__(
        self, message: str | Sequence[ConfigProblem], *, file: Path | str | None = None
    ) -> None:
        if isinstance(message, str):
            problems: tuple[ConfigProblem, ...] = (ConfigProblem((), message),)
            text = message
        else:
            problems = tuple(message)
            text = "\n".join(problem.render(file) for problem in problems)
        super().__init__(text)
        self.problems = problems
        self.file = file


class PricingConfig(BaseModel):
    """A deployment's own price, replacing its model's list price (``pricing:``)."""

    model_config = ConfigDict(extra="forbid")

    per_second: dict[str, float] = Field(min_length=1)
    """Price per output second by resolution tier (``480p``, ``720p``, ``1080p``, ``4k``) or
    ``"*"`` for any, in ``unit``."""
    per_second_audio: dict[str, float] | None = None
    """The same when the video has generated audio."""
    unit: str = "usd"
    """``usd``, or the unit the upstream reports usage in (credits, units, tokens...)."""
    usd_per_unit: float = Field(default=1.0, ge=0)


DEFAULT_JOB_DEADLINE_S = 3600.0
"""A job's deadline when neither its deployment, the config nor its provider gives one."""
MAX_JOB_DEADLINE_S = 7 * 86400.0
"""The longest deadline a config may give (Vidu's off-peak jobs take up to 48 h)."""


class DeploymentEntry(BaseModel):
    """One ``model_list`` entry: a public model name served by one upstream deployment."""

    model_config = ConfigDict(extra="forbid")

    model_name: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    model: str = Field(min_length=1)
    api_base: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    id: str | None = None
    weight: float = Field(default=1.0, ge=0)
    """Share of the group's traffic under the ``weighted`` strategy (0: only as a spare)."""
    rpm: int | None = Field(default=None, ge=1)
    """Creates per minute this deployment accepts; more are routed elsewhere or get 429."""
    max_concurrent_jobs: int | None = Field(default=None, ge=1)
    """Jobs submitting or running on this deployment at once."""
    max_concurrent_polls: int = Field(default=64, ge=1, le=1000)
    """Polls of this deployment's jobs in flight at once per process. Slots never add polls
    (each job is polled once per interval); they let a process keep up when the upstream
    answers slowly: ~polls/s x latency are needed (16 held one process to ~110 polls/s on
    PostgreSQL, 64 kept 415, bench/poll10k.py)."""
    poll_interval_s: float | None = Field(default=None, gt=0, le=600)
    timeout_s: float | None = Field(default=None, gt=0, le=600)
    """Per upstream call (None: ``router.timeout_s``)."""
    job_deadline_s: float | None = Field(default=None, gt=0, le=MAX_JOB_DEADLINE_S)
    """How long a job may run here before it fails uncharged (None: ``settings.job_timeout_s``
    if the config sets it, else the provider's own deadline; docs/deadlines.md)."""
    idempotent_submit: bool | None = None
    """The upstream honours ``Idempotency-Key`` (None: the provider's default)."""
    options: dict[str, Any] = Field(default_factory=dict)
    pricing: PricingConfig | None = None


class ModerationEndpoint(BaseModel):
    """An OpenAI-compatible moderation API (``POST {api_base}/moderations``), configured like
    a deployment (``settings.moderation.deployment``)."""

    model_config = ConfigDict(extra="forbid")

    api_base: str = Field(min_length=1)
    """``https://api.openai.com/v1``; reached under ``settings.outbound_allow``'s policy."""
    api_key: str | None = Field(default=None, repr=False)
    model: str | None = "omni-moderation-latest"
    """Sent as ``model`` (``null``: none is sent and the endpoint chooses)."""
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    """The whole call, connect to last byte; past it the check failed (``on_error``)."""
    categories: list[str] | None = Field(default=None, min_length=1)
    """Block only on these categories (``violence``, ``sexual/minors``...); unset: on any
    result the endpoint marks ``flagged``."""

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        problem = url_problem(value)
        if problem:
            raise ValueError(problem)
        return value.rstrip("/")


class ModerationSettings(BaseModel):
    """The check of a create's text before anything is held or sent upstream
    (``settings.moderation``; ``docs/moderation.md``). Off unless one check is set."""

    model_config = ConfigDict(extra="forbid")

    deployment: ModerationEndpoint | None = None
    blocked_terms: list[str] = Field(default_factory=list)
    """Words or phrases refused wherever they stand as whole words, case-insensitive."""
    on_error: Literal["refuse", "allow"] = "refuse"
    """When the endpoint fails (timeout, 5xx, refused connection, a reply it cannot read):
    ``refuse`` answers 503 ``moderation_unavailable``; ``allow`` lets the request through."""

    @field_validator("blocked_terms")
    @classmethod
    def _terms(cls, value: list[str]) -> list[str]:
        for index, term in enumerate(value):
            if not term.strip() or len(term) > 200:
                raise ValueError(f"blocked_terms[{index}]: give 1 to 200 characters of text")
        return value

    @property
    def enabled(self) -> bool:
        return self.deployment is not None or bool(self.blocked_terms)


PreviewTiming = Literal["on_request", "at_archive"]
"""When previews an upstream does not serve are made (``GatewaySettings.previews``)."""


class GatewaySettings(BaseModel):
    """Tunables of the job engine (the ``settings:`` section of the config file)."""

    model_config = ConfigDict(extra="forbid")

    job_timeout_s: float | None = Field(default=None, gt=0, le=MAX_JOB_DEADLINE_S)
    """A deadline for the jobs of every deployment without its own ``job_deadline_s``, in
    place of each provider's; unset: the provider's (``DEFAULT_JOB_DEADLINE_S`` if it has
    none). See docs/deadlines.md."""
    overdue_poll_s: float = Field(default=300.0, gt=0)
    """How often the upstream task of a job failed at its deadline is still looked at."""
    overdue_watch_s: float = Field(default=86400.0, ge=0)
    """How long after its deadline such a task is watched for a late completion."""
    poll_lease_s: float = Field(default=60.0, gt=0)
    submit_lease_s: float = Field(default=30.0, gt=0)
    """A submit in progress holds its job row this long, renewed every third of it by a
    heartbeat thread (so a starved event loop cannot let it lapse); a replica whose lease
    lapsed *and* whose heartbeat is two leases old is taken as dead, and its submits are
    recovered by the others."""
    stale_after_s: float = Field(default=5.0, gt=0)
    refresh_wait_s: float = Field(default=2.0, ge=0)
    max_upload_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    """The largest request body of any kind, counted while it streams in (chunked too)."""
    max_json_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    """The largest JSON body (it is held in memory to parse; a 20 MiB image as base64 fits)."""
    header_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    """A connection's request line and headers must arrive within this (else 408, closed)."""
    body_idle_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    """The longest pause between two pieces of a request body (else 408, closed)."""
    archive_concurrency: int = Field(default=2, ge=1, le=64)
    """Archives (download, probe, previews, store) running at once in this process; more
    finished jobs wait their turn, in order. Bounds the CPU background work can take from
    request handling (docs/configuration.md)."""
    previews: PreviewTiming = "on_request"
    """When the thumbnail and spritesheet an upstream does not serve are made from the
    video: ``on_request``, on the first request for each (an archive then costs a tenth of
    the CPU; ``jobs/previews.py``), or ``at_archive``, both before the job completes
    (docs/configuration.md)."""
    public_url: str | None = Field(default=None, pattern=r"^https?://[^/?#]+(/[^?#]*)?$")
    """The gateway's address as clients reach it (``https://videos.example.com``), for the
    absolute ``url`` in responses; unset: taken from each request's ``Host``."""
    local_workers: int = Field(default=1, ge=1, le=64)
    poll_batch: int = Field(default=200, ge=1, le=10_000)
    max_poll_failures: int = Field(default=30, ge=1)
    poll_hint_floor_s: float = Field(default=1.0, ge=0, le=600)
    """The shortest wait an upstream's poll hint (``openai-poll-after-ms``...) is honoured
    down to: a hint of 0 or 50 ms must not make 10,000 jobs poll 20 times a second. A
    deployment's own ``poll_interval_s`` is not raised to it (docs/configuration.md)."""
    max_inflight_polls: int = Field(default=256, ge=1, le=10_000)
    """Jobs this process polls (or archives) at once; more due jobs wait unclaimed in the
    database, so a burst of them cannot starve the API or hold leases it cannot serve."""
    spend_log_retention_days: float = Field(default=400.0, gt=0)
    """Spend rows (one per settled job) older than this are deleted."""
    request_log_retention_days: float = Field(default=30.0, gt=0)
    """Request log rows (one per API request) older than this are deleted."""
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    register_from_env: bool | None = None
    """Register ``<provider>/<model>`` deployments for every provider whose credentials are
    in the environment (``GEMINI_API_KEY``...). Unset: yes without a config file, no with one
    (a config file's ``model_list`` is then all there is)."""
    drop_params: bool = False
    """LiteLLM's convention: fields the chosen model does not take are dropped (and named in
    ``x-vidgate-dropped-params``) instead of refused; a key's or a request's ``drop_params``
    overrides it (``docs/api.md``)."""
    outbound_allow: list[str] = Field(default_factory=list)
    """Networks (``10.0.0.0/8``, ``127.0.0.1/32``) and host names that client-supplied URLs
    (input images, webhooks) may reach besides public addresses (``vidgate.netpolicy``)."""
    moderation: ModerationSettings = Field(default_factory=ModerationSettings)

    @field_validator("outbound_allow")
    @classmethod
    def _outbound_allow(cls, value: list[str]) -> list[str]:
        for entry in value:
            problem = entry_problem(entry)
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("moderation")
    @classmethod
    def _moderation_reachable(
        cls, value: ModerationSettings, info: ValidationInfo
    ) -> ModerationSettings:
        endpoint = value.deployment
        if endpoint is not None:
            policy = OutboundPolicy.from_entries(info.data.get("outbound_allow") or [])
            problem = url_problem(endpoint.api_base, policy)
            if problem:
                raise ValueError(f"deployment.api_base: {problem} (see settings.outbound_allow)")
        return value


Strategy = Literal["weighted", "least-busy", "latency", "cost", "usage"]


class CooldownSettings(BaseModel):
    """The circuit breaker: when at least ``min_requests`` creates were sent to a deployment
    within ``window_s`` and an ``error_rate`` share of them failed, it cools for
    ``cooldown_s``, after which one probe request decides whether it is healthy again."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """``false``: never skip a deployment for its failures or ``Retry-After``."""
    min_requests: int = Field(default=20, ge=1)
    """Creates within the window before the error rate is judged."""
    error_rate: float = Field(default=0.5, gt=0, le=1)
    """Share of failed creates within the window that opens the breaker."""
    window_s: float = Field(default=60.0, gt=0)
    cooldown_s: float = Field(default=30.0, ge=0)
    failures: int | None = Field(default=None, ge=1)
    """Older configs' name of ``min_requests`` (once: failures in a row); used when
    ``min_requests`` is not set."""

    @property
    def min_attempts(self) -> int:
        """``min_requests``, or ``failures`` when only that is set."""
        if self.failures is not None and "min_requests" not in self.model_fields_set:
            return self.failures
        return self.min_requests


class RouterSettings(BaseModel):
    """How a create picks a deployment and what it does when one fails (``router:``)."""

    model_config = ConfigDict(extra="forbid")

    strategy: Strategy = "weighted"
    num_retries: int = Field(default=4, ge=0, le=10)
    """After a retryable error, how many more attempts to make in the group (each group,
    fallbacks too): round the group's deployments in strategy order, then round again."""
    timeout_s: float = Field(default=60.0, gt=0, le=600)
    """Per upstream call, unless a deployment sets its own ``timeout_s``."""
    retry_backoff_s: float = Field(default=0.1, ge=0, le=60)
    """Wait before the first retry; doubles with every further one."""
    max_retry_wait_s: float = Field(default=2.0, ge=0, le=60)
    """The longest wait between two attempts."""
    retry_unknown_outcome: bool = False
    """Fail over after a create whose outcome is unknown (sent, never answered) on an upstream
    without idempotency keys: faster recovery, but the first upstream may have started (and
    will bill) a video nobody follows. Off by default."""
    cooldown: CooldownSettings = Field(default_factory=CooldownSettings)
    fallbacks: list[dict[str, list[str]]] = Field(default_factory=list)
    """``[{group: [fallback group, ...]}, ...]``: tried in order once a group is exhausted."""

    def fallbacks_for(self, group: str) -> list[str]:
        for entry in self.fallbacks:
            if group in entry:
                return entry[group]
        return []


STORAGE_URL = r"^(file://.+|s3://[^/]+(/.*)?)$"


class StorageOptions(BaseModel):
    """How to reach an S3-compatible ``storage_url`` (the ``storage:`` section).

    Unset fields fall back to the standard AWS environment (``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL``) and credential
    files.
    """

    model_config = ConfigDict(extra="forbid")

    endpoint_url: str | None = None
    """``https://s3.eu-west-1.amazonaws.com``, ``http://minio:9000``, ..."""
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = Field(default=None, repr=False)
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    """``path`` for most self-hosted servers (MinIO); ``auto`` for AWS."""
    part_size_mb: int = Field(default=16, ge=5, le=512)
    """Multipart upload part size (S3 allows at most 10,000 parts: 16 MiB parts cover
    156 GiB). Parts are streamed from the file, so memory does not grow with it."""


class FileConfig(BaseModel):
    """The whole config file."""

    model_config = ConfigDict(extra="forbid")

    model_list: list[DeploymentEntry] = Field(default_factory=list)
    default_model: str | None = None
    model_aliases: dict[str, str] = Field(default_factory=dict)
    """Extra names for model groups (``{veo: veo-3}``), besides the built-in ones."""
    settings: GatewaySettings = Field(default_factory=GatewaySettings)
    router: RouterSettings = Field(default_factory=RouterSettings)
    database_url: str | None = None
    """``sqlite:///path`` (default: ``<data dir>/vidgate.db``) or ``postgresql+asyncpg://...``."""
    redis_url: str | None = None
    """``redis://host:6379/0``: limits, cooldowns and cache invalidation shared by replicas."""
    storage_url: str | None = Field(default=None, pattern=STORAGE_URL)
    """``file:///path`` (default: ``<data dir>/blobs``) or ``s3://bucket/prefix``."""
    storage: StorageOptions = Field(default_factory=StorageOptions)
    webhooks: WebhookEndpoints = Field(default_factory=list)

    @field_validator("model_list")
    @classmethod
    def _unique_ids(cls, value: list[DeploymentEntry]) -> list[DeploymentEntry]:
        ids = [entry.id for entry in value if entry.id]
        if len(ids) != len(set(ids)):
            raise ValueError("deployment ids must be unique")
        return value

    @model_validator(mode="after")
    def _webhooks_reachable(self) -> FileConfig:
        policy = OutboundPolicy.from_entries(self.settings.outbound_allow)
        for index, endpoint in enumerate(self.webhooks):
            problem = url_problem(endpoint.url, policy)
            if problem:
                raise ValueError(f"webhooks[{index}].url: {problem} (see settings.outbound_allow)")
        return self


class Settings(BaseModel):
    """Everything the app factory needs, resolved."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    host: str = "127.0.0.1"
    port: int = 4000
    data_dir: Path
    master_key: str = Field(repr=False)
    master_key_generated: bool = False
    database_url: str
    redis_url: str | None = Field(default=None, repr=False)
    storage_url: str
    config: FileConfig
    config_path: Path | None = None
    run_poller: bool = True
    environment: dict[str, str] = Field(default_factory=dict, repr=False)
    """A snapshot of the environment, for providers registered by their credentials."""

    @property
    def storage_dir(self) -> Path:
        """The local blob root (``file://`` storage); other stores use it for nothing."""
        if self.storage_url.startswith("file://"):
            return Path(self.storage_url.removeprefix("file://"))
        return self.data_dir / "blobs"

    @property
    def sole_process(self) -> bool:
        """One process owns the state (SQLite): it may cache and clear leases freely."""
        return self.database_url.startswith("sqlite")


def resolve_env_refs(value: Any, path: str = "", errors: list[str] | None = None) -> Any:
    """Replace ``os.environ/NAME`` strings anywhere in ``value`` with the variable's value.

    Unset variables raise ``ConfigError``, or are appended to ``errors`` when it is given.
    """
    found: list[ConfigProblem] = []
    resolved = _resolve_refs(value, (path,) if path else (), found)
    if errors is None and found:
        raise ConfigError(found[0].render())
    if errors is not None:
        errors.extend(problem.render() for problem in found)
    return resolved


def _resolve_refs(value: Any, loc: Loc, problems: list[ConfigProblem]) -> Any:
    if isinstance(value, dict):
        return {k: _resolve_refs(v, (*loc, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_refs(v, (*loc, i), problems) for i, v in enumerate(value)]
    if isinstance(value, str) and value.startswith("os.environ/"):
        name = value.removeprefix("os.environ/")
        if name not in os.environ:
            problems.append(ConfigProblem(loc, f"environment variable {name} is not set"))
            return ""
        return os.environ[name]
    return value


@dataclass(frozen=True)
class ConfigDocument:
    """A config file as read: its top-level mapping (``None`` when it cannot be used), the
    problems reading it, and its YAML node tree, which knows the line of every path."""

    path: Path
    data: dict[str, Any] | None
    problems: tuple[ConfigProblem, ...] = ()
    root: yaml.Node | None = field(default=None, repr=False)

    def locate(self, problem: ConfigProblem) -> ConfigProblem:
        """``problem`` with the line of its path (or of the nearest enclosing entry)."""
        if problem.line is not None or self.root is None:
            return problem
        node, mark = self.root, None
        for part in problem.loc:
            if isinstance(node, yaml.MappingNode):
                match = [(k, v) for k, v in node.value if str(getattr(k, "value", "")) == str(part)]
                if not match:
                    break
                mark, node = match[-1][0].start_mark, match[-1][1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    break
                node = node.value[part]
                mark = node.start_mark
            else:
                break
        if mark is None:
            return problem
        return ConfigProblem(problem.loc, problem.message, problem.severity, mark.line + 1)


def read_config_document(path: Path) -> ConfigDocument:
    """Read and parse ``path``; a file that cannot be read or parsed is one problem (with the
    line and column of a YAML syntax error)."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return ConfigDocument(path, None, (ConfigProblem((), f"cannot read config: {why}"),))
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        return ConfigDocument(path, None, (_yaml_problem(exc),))
    except yaml.YAMLError as exc:
        return ConfigDocument(path, None, (ConfigProblem((), f"cannot read config: {exc}"),))
    finally:
        loader.dispose()
    if data is None:
        return ConfigDocument(path, {}, (), root)
    if not isinstance(data, dict):
        problem = ConfigProblem((), "the top level must be a mapping (model_list:, router:, ...)")
        return ConfigDocument(path, None, (problem,), root)
    return ConfigDocument(path, data, (), root)


def _yaml_problem(exc: yaml.MarkedYAMLError) -> ConfigProblem:
    mark = exc.problem_mark or exc.context_mark
    message = exc.problem or exc.context or "not valid YAML"
    if exc.problem and exc.context:
        where = exc.context_mark
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        message += f" ({exc.context}{at})"
    line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
    return ConfigProblem((), f"cannot read config: {message}", line=line, column=column)


@dataclass(frozen=True)
class CheckedConfig:
    """A config document validated in one pass: every problem, the config when there is
    none, and ``usable``, the config with each bad part left out (a bad ``model_list`` entry
    becomes a stand-in keeping its ``model_name``), so what refers to other parts (fallbacks,
    the default model, providers and models) can be checked in the same pass."""

    config: FileConfig | None
    usable: FileConfig
    problems: tuple[ConfigProblem, ...]
    stand_ins: frozenset[int] = frozenset()
    """``model_list`` indexes of entries replaced by a stand-in."""


def check_document(data: dict[str, Any]) -> CheckedConfig:
    """Resolve ``os.environ/NAME`` references and validate ``data`` (a config file's
    mapping); every problem once, misspelt keys with the closest real one."""
    problems: list[ConfigProblem] = []
    resolved = _resolve_refs(data, (), problems)
    unresolved = [problem.loc for problem in problems]
    try:
        config = FileConfig.model_validate(resolved)
    except ValidationError as exc:
        problems.extend(_schema_problems(exc, resolved, unresolved))
        usable, stand_ins = _salvage(resolved)
        return CheckedConfig(None, _file_defaults(usable), tuple(problems), stand_ins)
    config = _file_defaults(config)
    return CheckedConfig(None if problems else config, config, tuple(problems))


def _file_defaults(config: FileConfig) -> FileConfig:
    if config.settings.register_from_env is None:  # a file's model_list is all there is
        config.settings.register_from_env = False
    return config


def load_config_file(path: Path | None) -> FileConfig:
    """Parse and validate a config file; ``ConfigError`` lists every problem with its path."""
    if path is None:
        return FileConfig()
    document = read_config_document(path)
    if document.data is None:
        raise ConfigError(document.problems, file=path)
    checked = check_document(document.data)
    if checked.config is None:
        raise ConfigError([document.locate(p) for p in checked.problems], file=path)
    return checked.config


def _schema_problems(
    exc: ValidationError, data: dict[str, Any], unresolved: list[Loc]
) -> list[ConfigProblem]:
    """Pydantic's errors as problems: none under a path whose environment variable is unset
    (that is the one problem there), and a misspelt key is one problem, with a guess, not
    two (an unknown key and a missing one)."""
    errors = exc.errors()
    missing = {tuple(err["loc"]) for err in errors if err["type"] == "missing"}
    guessed: set[Loc] = set()
    problems = []
    for err in errors:
        loc: Loc = tuple(err["loc"])
        if any(loc[: len(bad)] == bad for bad in unresolved):
            continue
        if err["type"] == "extra_forbidden" and loc:
            parent = loc[:-1]
            known = _fields_at(FileConfig, parent)
            present = _value_at(data, parent)
            choices = [
                name for name in known if not isinstance(present, dict) or name not in present
            ]
            guess = difflib.get_close_matches(str(loc[-1]), choices, n=1, cutoff=0.7)
            if guess:
                required = (*parent, guess[0]) in missing
                guessed.add((*parent, guess[0]))
                note = " (required)" if required else ""
                message = f"unknown key; did you mean {guess[0]!r}{note}?"
            else:
                message = (
                    f"unknown key (known here: {', '.join(known)})" if known else "unknown key"
                )
            problems.append(ConfigProblem(loc, message))
        elif err["type"] == "missing":
            if loc not in guessed:
                problems.append(ConfigProblem(loc, "missing (required)"))
        else:
            problems.append(ConfigProblem(loc, err["msg"]))
    return [p for p in problems if not (p.message == "missing (required)" and p.loc in guessed)]


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys the schema allows at ``loc`` (empty when that is not a model)."""
    annotation: Any = model
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            info = annotation.model_fields.get(str(part))
            if info is None:
                return []
            annotation = info.annotation
            continue
        args = get_args(annotation)
        if get_origin(annotation) is list and args and isinstance(part, int):
            annotation = args[0]
        elif get_origin(annotation) is dict and len(args) == 2:
            annotation = args[1]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """``X`` from ``Annotated[X, ...]`` and ``X | None``."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _value_at(data: Any, loc: Loc) -> Any:
    for part in loc:
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if not (in_list or (isinstance(data, dict) and part in data)):
            return None
        data = data[part]
    return data


SECTIONS = ("settings", "router", "storage")
"""Top-level mappings whose keys are independent: a bad key is left out alone."""


def _salvage(data: dict[str, Any]) -> tuple[FileConfig, frozenset[int]]:
    """``data`` without its bad parts, validated: a bad ``model_list`` entry becomes a
    stand-in (``local/preview``, its ``model_name`` kept when it has one), a bad key of a
    section or a bad top-level key is left out (its default applies)."""
    data = copy.deepcopy(data)
    stand_ins: set[int] = set()
    for _ in range(8):
        try:
            return FileConfig.model_validate(data), frozenset(stand_ins)
        except ValidationError as exc:
            for err in exc.errors():
                loc: Loc = tuple(err["loc"])
                parent = _value_at(data, loc[:-1])
                if loc and err["type"] == "extra_forbidden" and isinstance(parent, dict):
                    parent.pop(loc[-1], None)  # a misspelt key: the rest may still be good
                else:
                    _leave_out(data, loc, stand_ins)
    return FileConfig(), frozenset(stand_ins)


def _leave_out(data: dict[str, Any], loc: Loc, stand_ins: set[int]) -> None:
    entries = data.get("model_list")
    if loc[:1] == ("model_list",) and isinstance(entries, list):
        if len(loc) == 1:  # the list as a whole: repeated ids (each entry is checked later)
            for index, entry in enumerate(entries):
                if isinstance(entry, dict) and "id" in entry:
                    entry["id"] = f"{entry['id']}#{index}"
            return
        at = loc[1]
        if isinstance(at, int) and 0 <= at < len(entries):
            entry = entries[at]
            name = entry.get("model_name") if isinstance(entry, dict) else None
            stand_in = f"(model_list[{at}])"
            entries[at] = {
                "model_name": name if isinstance(name, str) and name else stand_in,
                "provider": "local",
                "model": "preview",
                "id": stand_in,
            }
            stand_ins.add(at)
            return
    if not loc:  # the only check of the whole file: webhooks' reachability
        data.pop("webhooks", None)
        return
    section = data.get(str(loc[0]))
    if loc[0] in SECTIONS and len(loc) > 1 and isinstance(section, dict) and loc[1] in section:
        del section[loc[1]]
    else:
        data.pop(str(loc[0]), None)


def ensure_master_key(data_dir: Path) -> tuple[str, bool]:
    """``VIDGATE_MASTER_KEY`` if set, else the stored one, else a new one saved with mode 0600."""
    from_env = os.environ.get("VIDGATE_MASTER_KEY")
    if from_env:
        return from_env, False
    path = data_dir / "master_key"
    if path.exists():
        return path.read_text().strip(), False
    data_dir.mkdir(parents=True, exist_ok=True)
    key = "sk-vg-master-" + secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key, True


def build_settings(
    *,
    host: str | None = None,
    port: int | None = None,
    data_dir: Path | None = None,
    config_path: Path | None = None,
    run_poller: bool = True,
    config: FileConfig | None = None,
) -> Settings:
    """Resolve flags, environment and config file into ``Settings``; ``config``: a config
    already checked (``check_document``), used instead of any file (the in-process
    gateway's config given as a dict)."""
    env = os.environ
    data = (data_dir or Path(env.get("VIDGATE_DATA_DIR", ".vidgate"))).resolve()
    cfg_path = config_path or (Path(env["VIDGATE_CONFIG"]) if env.get("VIDGATE_CONFIG") else None)
    if config is not None:
        cfg_path = config_path
    else:
        config = load_config_file(cfg_path)
    master_key, generated = ensure_master_key(data)
    database_url = (
        env.get("VIDGATE_DATABASE_URL") or config.database_url or f"sqlite:///{data / 'vidgate.db'}"
    )
    storage_url = env.get("VIDGATE_STORAGE_URL") or config.storage_url or f"file://{data / 'blobs'}"
    if not re.match(STORAGE_URL, storage_url):
        raise ConfigError(
            f"storage_url {storage_url!r} is neither file:///path nor s3://bucket[/prefix]"
        )
    return Settings(
        host=host or env.get("VIDGATE_HOST", "127.0.0.1"),
        port=port if port is not None else int(env.get("VIDGATE_PORT", "4000")),
        data_dir=data,
        master_key=master_key,
        master_key_generated=generated,
        database_url=database_url,
        redis_url=env.get("VIDGATE_REDIS_URL") or config.redis_url,
        storage_url=storage_url,
        config=config,
        config_path=cfg_path,
        run_poller=run_poller,
        environment=dict(env),
    )


def cli_env(name: str) -> str | None:
    """Read a ``VIDGATE_*`` variable for the CLI client commands (base URL, API key)."""
    return os.environ.get(name)


def environment_snapshot() -> dict[str, str]:
    """The environment now (a config reload re-reads provider credentials from it)."""
    return dict(os.environ)
