"""The shared toolkit of HTTP adapters: pure helpers for what every provider does alike.

Reading replies (``Retry-After``, gRPC codes, digit strings), scrubbing upstream messages
for clients (``scrub``, on top of ``errors.client_text``), placing input images as a URL or
inline bytes (``url_or_inline``), signed-URL downloads (``signed_download``), the
completed / failed / no-output states (``completed``, ``failed``, ``no_output``) and the
option table's values in an upstream body (``put_options``). An adapter keeps only what
its provider does differently.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from vidgate.errors import client_text
from vidgate.providers.base import DownloadCall, HttpCall, Inline
from vidgate.values import Asset, ModelCapabilities, ResolvedRequest, UpstreamState, Variant


def retry_after_s(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """``Retry-After`` (or ``retry-after-ms``) in seconds; delta-seconds or an HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


GRPC_CODE_NAMES = {
    1: "cancelled",
    2: "unknown",
    3: "invalid_argument",
    4: "deadline_exceeded",
    5: "not_found",
    6: "already_exists",
    7: "permission_denied",
    8: "resource_exhausted",
    9: "failed_precondition",
    10: "aborted",
    11: "out_of_range",
    12: "unimplemented",
    13: "internal",
    14: "unavailable",
    15: "data_loss",
    16: "unauthenticated",
}
"""gRPC status codes by number (``google.rpc.Code``), as error codes for clients."""


def is_int_text(text: str | None) -> bool:
    """Digits ``int()`` takes: ASCII only ("²" is a digit to ``isdigit``), and not too many."""
    return text is not None and text.isascii() and text.isdigit() and 0 < len(text) <= 18


# --- messages for clients ----------------------------------------------------------------

UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
"""Upstream task ids of the UUID kind (clients only ever know gateway ids)."""


def scrub(message: Any, *patterns: tuple[re.Pattern[str], str], limit: int = 500) -> str:
    """An upstream message fit for a client: ``errors.client_text`` (no URLs of any scheme,
    no data URIs, no secrets), then the provider's own ``(pattern, replacement)`` pairs
    (upstream ids, resource names, hosts), stripped and cut to ``limit``. Not a string: ""."""
    if not isinstance(message, str):
        return ""
    text = client_text(message)  # URLs first: a provider pattern must not half-match one
    for pattern, replacement in patterns:
        text = pattern.sub(replacement, text)
    return client_text(text.strip(), limit)


# --- requests --------------------------------------------------------------------------


def url_or_inline(
    asset: Asset,
    form: Literal["base64", "data_uri"] = "data_uri",
    as_given: tuple[str, ...] = ("https://", "http://"),
) -> str | Inline:
    """An input image as an upstream takes it: a URL starting with one of ``as_given`` as
    given (the upstream fetches it), anything else — an upload, a ``data:`` URI, a URL the
    upstream would not fetch — as inline bytes in ``form`` (dispatch reads or fetches them).
    File ids never get here: ``resolve`` refuses them for models that cannot take them."""
    if asset.kind == "url" and asset.value.startswith(as_given):
        return asset.value
    return Inline(asset, form)


def put_options(body: dict[str, Any], request: ResolvedRequest, caps: ModelCapabilities) -> None:
    """Write the request's options into ``body`` where the option table says (``upstream``,
    dots for nesting); options the adapter reads itself (``upstream=""``) are skipped, and
    free-form keys (``any_options``) go in under their own names, dots and all."""
    for name, value in request.options.items():
        spec = caps.options.get(name)
        if spec is None:  # a free-form key goes in as sent, never split into a path
            if caps.any_options:
                body[name] = value
            continue
        target = name if spec.upstream is None else spec.upstream
        if not target:
            continue
        *parents, leaf = target.split(".")
        node = body
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value


# --- downloads -------------------------------------------------------------------------


def signed_download(
    variant: Variant, location: str | None, variants: Iterable[str] = ("video",)
) -> DownloadCall | None:
    """Fetching a result from the signed URL the upstream reported: without the
    deployment's auth (a signed URL must not get it); ``None`` for anything else."""
    if variant not in variants or not location or not location.startswith(("https:", "http:")):
        return None
    return DownloadCall(HttpCall("GET", location), auth=False)


# --- states ----------------------------------------------------------------------------


def completed(
    upstream_id: str,
    raw_status: str,
    results: Mapping[str, str],
    cost_units: float | None = None,
) -> UpstreamState:
    """A finished task with its outputs by variant."""
    return UpstreamState(
        upstream_id,
        "completed",
        progress=100,
        raw_status=raw_status,
        results=dict(results),
        cost_units=cost_units,
    )


def failed(
    upstream_id: str,
    raw_status: str,
    provider: str,
    reason: str = "",
    code: str = "upstream_failed",
) -> UpstreamState:
    """A task the upstream failed: ``<Provider>: <reason>`` (already scrubbed), or a plain
    sentence when it gave none."""
    message = f"{provider}: {reason}" if reason else f"{provider} reported the task failed."
    return UpstreamState(
        upstream_id, "failed", raw_status=raw_status, error_code=code, error_message=message
    )


def no_output(upstream_id: str, raw_status: str, provider: str) -> UpstreamState:
    """Success without a usable video: a failure, never charged."""
    return UpstreamState(
        upstream_id,
        "failed",
        raw_status=raw_status,
        error_code="upstream_no_output",
        error_message=f"{provider} reported success but returned no video.",
    )
