"""Gateway settings and the YAML config file: the only place environment variables are read.

Settings come from, in order of precedence: CLI flags, ``VIDGATE_*`` environment variables,
the ``settings:`` section of the config file, defaults. Secrets in the config file are
written ``os.environ/NAME`` and resolved here, once, at start.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ConfigError(ValueError):
    """A bad config file; the message names the path of the bad entry."""


class DeploymentEntry(BaseModel):
    """One ``model_list`` entry: a public model name served by one upstream deployment."""

    model_config = ConfigDict(extra="forbid")

    model_name: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    model: str = Field(min_length=1)
    api_base: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    id: str | None = None
    max_concurrent_polls: int = Field(default=16, ge=1, le=1000)
    poll_interval_s: float | None = Field(default=None, gt=0, le=600)
    timeout_s: float = Field(default=60.0, gt=0, le=600)
    idempotent_submit: bool | None = None
    """The upstream honours ``Idempotency-Key`` (None: the provider's default)."""
    options: dict[str, Any] = Field(default_factory=dict)


class GatewaySettings(BaseModel):
    """Tunables of the job engine (the ``settings:`` section of the config file)."""

    model_config = ConfigDict(extra="forbid")

    job_timeout_s: float = Field(default=3600.0, gt=0)
    poll_lease_s: float = Field(default=60.0, gt=0)
    stale_after_s: float = Field(default=5.0, gt=0)
    refresh_wait_s: float = Field(default=2.0, ge=0)
    max_upload_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    local_workers: int = Field(default=1, ge=1, le=64)
    poll_batch: int = Field(default=200, ge=1, le=10_000)
    max_poll_failures: int = Field(default=30, ge=1)


class FileConfig(BaseModel):
    """The whole config file. ``router`` is reserved for the routing settings."""

    model_config = ConfigDict(extra="forbid")

    model_list: list[DeploymentEntry] = Field(default_factory=list)
    default_model: str | None = None
    settings: GatewaySettings = Field(default_factory=GatewaySettings)
    router: dict[str, Any] = Field(default_factory=dict)
    database_url: str | None = None

    @field_validator("model_list")
    @classmethod
    def _unique_ids(cls, value: list[DeploymentEntry]) -> list[DeploymentEntry]:
        ids = [entry.id for entry in value if entry.id]
        if len(ids) != len(set(ids)):
            raise ValueError("deployment ids must be unique")
        return value


class Settings(BaseModel):
    """Everything the app factory needs, resolved."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    host: str = "127.0.0.1"
    port: int = 4000
    data_dir: Path
    master_key: str = Field(repr=False)
    master_key_generated: bool = False
    database_url: str
    config: FileConfig
    config_path: Path | None = None
    run_poller: bool = True
    environment: dict[str, str] = Field(default_factory=dict, repr=False)
    """A snapshot of the environment, for providers registered by their credentials."""

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "blobs"


def resolve_env_refs(value: Any, path: str = "") -> Any:
    """Replace ``os.environ/NAME`` strings anywhere in ``value`` with the variable's value."""
    if isinstance(value, dict):
        return {k: resolve_env_refs(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_env_refs(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str) and value.startswith("os.environ/"):
        name = value.removeprefix("os.environ/")
        if name not in os.environ:
            raise ConfigError(f"{path}: environment variable {name} is not set")
        return os.environ[name]
    return value


def load_config_file(path: Path | None) -> FileConfig:
    """Parse and validate a config file; errors name the path of the bad entry."""
    if path is None:
        return FileConfig()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    try:
        return FileConfig.model_validate(resolve_env_refs(raw))
    except ValidationError as exc:
        raise ConfigError(_format_validation(path, exc)) from None


def _format_validation(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        lines.append(f"{path}: {loc or '(top)'}: {err['msg']}")
    return "\n".join(lines)


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
    return Settings(
        host=host or env.get("VIDGATE_HOST", "127.0.0.1"),
        port=port if port is not None else int(env.get("VIDGATE_PORT", "4000")),
        data_dir=data,
        master_key=master_key,
        master_key_generated=generated,
        database_url=database_url,
        config=config,
        config_path=cfg_path,
        run_poller=run_poller,
        environment=dict(env),
    )


def cli_env(name: str) -> str | None:
    """Read a ``VIDGATE_*`` variable for the CLI client commands (base URL, API key)."""
    return os.environ.get(name)
