"""Gateway settings and the YAML config file: the only place environment variables are read.

Settings come from, in order of precedence: CLI flags, ``VIDGATE_*`` environment variables,
the ``settings:`` section of the config file, defaults. Secrets in the config file are
written ``os.environ/NAME`` and resolved here, once, at start.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from vidgate.netpolicy import OutboundPolicy, entry_problem
from vidgate.webhooks.config import WebhookEndpoints, WebhookSettings, url_problem


class ConfigError(ValueError):
    """A bad config file; the message names the path of the bad entry."""


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
    max_concurrent_polls: int = Field(default=16, ge=1, le=1000)
    poll_interval_s: float | None = Field(default=None, gt=0, le=600)
    timeout_s: float | None = Field(default=None, gt=0, le=600)
    """Per upstream call (None: ``router.timeout_s``)."""
    idempotent_submit: bool | None = None
    """The upstream honours ``Idempotency-Key`` (None: the provider's default)."""
    options: dict[str, Any] = Field(default_factory=dict)
    pricing: PricingConfig | None = None


class GatewaySettings(BaseModel):
    """Tunables of the job engine (the ``settings:`` section of the config file)."""

    model_config = ConfigDict(extra="forbid")

    job_timeout_s: float = Field(default=3600.0, gt=0)
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
    public_url: str | None = Field(default=None, pattern=r"^https?://[^/?#]+(/[^?#]*)?$")
    """The gateway's address as clients reach it (``https://videos.example.com``), for the
    absolute ``url`` in responses; unset: taken from each request's ``Host``."""
    local_workers: int = Field(default=1, ge=1, le=64)
    poll_batch: int = Field(default=200, ge=1, le=10_000)
    max_poll_failures: int = Field(default=30, ge=1)
    spend_log_retention_days: float = Field(default=400.0, gt=0)
    """Spend rows (one per settled job) older than this are deleted."""
    request_log_retention_days: float = Field(default=30.0, gt=0)
    """Request log rows (one per API request) older than this are deleted."""
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    register_from_env: bool | None = None
    """Register ``<provider>/<model>`` deployments for every provider whose credentials are
    in the environment (``GEMINI_API_KEY``...). Unset: yes without a config file, no with one
    (a config file's ``model_list`` is then all there is)."""
    outbound_allow: list[str] = Field(default_factory=list)
    """Networks (``10.0.0.0/8``, ``127.0.0.1/32``) and host names that client-supplied URLs
    (input images, webhooks) may reach besides public addresses (``vidgate.netpolicy``)."""

    @field_validator("outbound_allow")
    @classmethod
    def _outbound_allow(cls, value: list[str]) -> list[str]:
        for entry in value:
            problem = entry_problem(entry)
            if problem:
                raise ValueError(problem)
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
    collect = errors if errors is not None else []
    resolved = _resolve_refs(value, path, collect)
    if errors is None and collect:
        raise ConfigError(collect[0])
    return resolved


def _resolve_refs(value: Any, path: str, errors: list[str]) -> Any:
    if isinstance(value, dict):
        return {
            k: _resolve_refs(v, f"{path}.{k}" if path else str(k), errors) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_resolve_refs(v, f"{path}[{i}]", errors) for i, v in enumerate(value)]
    if isinstance(value, str) and value.startswith("os.environ/"):
        name = value.removeprefix("os.environ/")
        if name not in os.environ:
            errors.append(f"{path}: environment variable {name} is not set")
            return ""
        return os.environ[name]
    return value


def load_config_file(path: Path | None) -> FileConfig:
    """Parse and validate a config file; errors name the path of every bad entry."""
    if path is None:
        return FileConfig()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    errors: list[str] = []
    resolved = resolve_env_refs(raw, errors=errors)
    lines = [f"{path}: {error}" for error in errors]
    try:
        config = FileConfig.model_validate(resolved)
    except ValidationError as exc:
        lines.extend(_format_validation(path, exc))
    if lines:
        raise ConfigError("\n".join(lines))
    if config.settings.register_from_env is None:  # a file's model_list is all there is
        config.settings.register_from_env = False
    return config


def _format_validation(path: Path, exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        lines.append(f"{path}: {loc or '(top)'}: {err['msg']}")
    return lines


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
) -> Settings:
    """Resolve flags, environment and config file into ``Settings``."""
    env = os.environ
    data = (data_dir or Path(env.get("VIDGATE_DATA_DIR", ".vidgate"))).resolve()
    cfg_path = config_path or (Path(env["VIDGATE_CONFIG"]) if env.get("VIDGATE_CONFIG") else None)
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
