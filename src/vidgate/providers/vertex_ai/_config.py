"""Deployment options for Vertex AI, checked as data.

Deployment ``options``: ``credentials`` (service-account key: a file path or the JSON
object), ``project`` (default: the key's ``project_id``), ``location`` (default
``us-central1``) and ``gcs_base`` (the Cloud Storage download host; tests point it at the
simulator). Request ``metadata`` options are the spec's option table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vidgate.errors import GatewayError
from vidgate.providers.vertex_ai import _auth
from vidgate.values import Deployment

DEFAULT_LOCATION = "us-central1"
GCS_BASE = "https://storage.googleapis.com"
MULTI_REGIONS = frozenset({"us", "eu"})
DEPLOYMENT_KEYS = frozenset({"credentials", "project", "location", "gcs_base"})
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_PROJECT = re.compile(r"^[a-z0-9][a-z0-9.:-]{2,62}$")


@dataclass(frozen=True)
class Settings:
    """One deployment's resolved Vertex settings."""

    account: _auth.ServiceAccount
    project: str
    location: str


def location_of(options: Mapping[str, Any]) -> str:
    """The configured location (not validated: ``settings`` does that before any call)."""
    value = options.get("location") or DEFAULT_LOCATION
    return value if isinstance(value, str) else DEFAULT_LOCATION


def default_api_base(location: str) -> str:
    """The production base URL for a location (global and multi-region hosts differ)."""
    if location == "global":
        return "https://aiplatform.googleapis.com/v1"
    if location in MULTI_REGIONS:
        return f"https://aiplatform.{location}.rep.googleapis.com/v1"
    return f"https://{location}-aiplatform.googleapis.com/v1"


def gcs_base_of(options: Mapping[str, Any]) -> str:
    value = options.get("gcs_base")
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return value.rstrip("/")
    return GCS_BASE


def settings(deployment: Deployment) -> Settings:
    """Check the deployment options and load its service account."""
    options = deployment.options
    unknown = sorted(set(options) - DEPLOYMENT_KEYS)
    if unknown:
        raise _config(
            f"unknown option(s) {', '.join(unknown)} (known: credentials, project, "
            "location, gcs_base)"
        )
    if "credentials" not in options:
        raise _config("options.credentials (service-account key) is required")
    location = options.get("location", DEFAULT_LOCATION)
    if not isinstance(location, str) or not _NAME.fullmatch(location):
        raise _config("options.location must be a Vertex location such as us-central1")
    gcs = options.get("gcs_base")
    if gcs is not None and (
        not isinstance(gcs, str) or not gcs.startswith(("http://", "https://"))
    ):
        raise _config("options.gcs_base must be an http(s) URL")
    account = _auth.load(options["credentials"])
    project = options.get("project") or account.project_id
    if not isinstance(project, str) or not _PROJECT.fullmatch(project):
        raise _config("options.project is missing (and the key has no project_id) or invalid")
    return Settings(account, project, location)


def _config(why: str) -> GatewayError:
    return GatewayError(f"Vertex AI deployment misconfigured: {why}.", code="deployment_config")
