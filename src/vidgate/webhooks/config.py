"""Webhook configuration: global endpoints (top-level ``webhooks:``) and sender tunables.

Kept apart from ``settings.py`` so the webhook package owns its own shapes; ``settings.py``
only mounts them (``FileConfig.webhooks`` and ``GatewaySettings.webhooks``). Secrets arrive
already resolved from ``os.environ/NAME`` by the config loader.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from vidgate.netpolicy import OutboundPolicy, host_problem
from vidgate.webhooks.signing import secret_problem

EventType = Literal["video.completed", "video.failed"]
EVENT_TYPES: tuple[EventType, ...] = ("video.completed", "video.failed")
MAX_SECRETS = 5
"""Active signing secrets per endpoint (each adds a signature to every delivery)."""


class WebhookSettings(BaseModel):
    """How the sender delivers (``settings.webhooks`` in the config file)."""

    model_config = ConfigDict(extra="forbid")

    timeout_s: float = Field(default=10.0, gt=0, le=120)
    """Per delivery attempt, connect to last byte of the response headers."""
    max_attempts: int = Field(default=12, ge=1, le=100)
    """Attempts before a delivery is marked ``failed``."""
    backoff_s: float = Field(default=10.0, ge=0, le=3600)
    """Wait after the first failed attempt; doubles with each further one (with jitter)."""
    max_backoff_s: float = Field(default=3600.0, ge=0, le=86_400)
    """The longest wait between two attempts."""
    concurrency: int = Field(default=8, ge=1, le=256)
    """Deliveries in flight at once (across all endpoints)."""


class WebhookEndpointConfig(BaseModel):
    """One global endpoint from the config file: receives every key's events."""

    model_config = ConfigDict(extra="forbid")

    url: str
    secret: str | None = Field(default=None, repr=False)
    """``whsec_`` + base64 of 24-64 bytes, usually ``os.environ/NAME``."""
    secrets: list[str] = Field(default_factory=list, max_length=MAX_SECRETS, repr=False)
    """More signing secrets, all active at once: list the new one beside the old while
    receivers roll, then remove the old."""
    events: list[EventType] = Field(default_factory=lambda: list(EVENT_TYPES), min_length=1)

    @property
    def signing_secrets(self) -> list[str]:
        """Every secret this endpoint signs with, ``secret`` first, without repeats."""
        listed = [self.secret] if self.secret else []
        return list(dict.fromkeys([*listed, *self.secrets]))

    @model_validator(mode="after")
    def _some_secret(self) -> WebhookEndpointConfig:
        if not self.signing_secrets:
            raise ValueError("give 'secret' or 'secrets' (one or more whsec_ secrets)")
        if len(self.signing_secrets) > MAX_SECRETS:
            raise ValueError(f"an endpoint signs with at most {MAX_SECRETS} secrets")
        return self

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        problem = url_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        problem = None if value is None else secret_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, value: list[str]) -> list[str]:
        for index, secret in enumerate(value):
            problem = secret_problem(secret)
            if problem:
                raise ValueError(f"secrets[{index}]: {problem}")
        return value


def _unique_urls(value: list[WebhookEndpointConfig]) -> list[WebhookEndpointConfig]:
    urls = [entry.url for entry in value]
    if len(urls) != len(set(urls)):
        raise ValueError("webhook URLs must be unique")
    return value


WebhookEndpoints = Annotated[list[WebhookEndpointConfig], AfterValidator(_unique_urls)]
"""The top-level ``webhooks:`` list of the config file."""


def url_problem(url: str, policy: OutboundPolicy | None = None) -> str | None:
    """Why ``url`` cannot be a webhook endpoint, or ``None``; with ``policy``, a host that is
    a refused address (a literal IP, ``localhost``) is a problem too. Names are checked by
    the sender at each attempt, on the addresses they then resolve to."""
    if len(url) > 2048:
        return "the URL is longer than 2048 characters"
    if any(c.isspace() or not c.isprintable() for c in url):
        return "the URL contains whitespace or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        return "the URL cannot be parsed"
    if parts.scheme not in ("http", "https"):
        return "the URL must start with http:// or https://"
    if "@" in parts.netloc:
        return "the URL must not contain a user name or password"
    if not parts.hostname:
        return "the URL has no host"
    if policy is not None:
        return host_problem(parts.hostname, policy)
    return None
