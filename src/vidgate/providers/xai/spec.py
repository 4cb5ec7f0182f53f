"""xAI Grok Imagine video, as data (``shared/reference/providers/xai.md``).

One REST API (``POST /v1/videos/generations``, ``GET /v1/videos/{request_id}``) serves three
models with the same parameters: ``duration`` 1-15 s (default 8), seven aspect ratios at
480p or 720p, and one optional start image. vidgate sizes are exact pixel sizes; each maps
to one ``(aspect_ratio, resolution)`` pair in ``SIZES`` (the pixel sizes are vidgate's
naming of those pairs; xAI itself is only asked for the ratio and the tier).

Edit, extend and reference-to-video endpoints exist upstream but are not documented in the
reference, so only ``create`` is offered. Prices: $0.05/s at 480p (5e8 ticks for a 1 s
480p sample); the 720p price is unverified and deliberately absent, so it is unknown
rather than wrong. Real cost is settled from ``usage.cost_in_usd_ticks`` (1 tick = 1e-10 USD).
"""

from __future__ import annotations

from collections.abc import Mapping

from vidgate.providers.base import Credential, ProviderSpec
from vidgate.values import ModelCapabilities, OptionSpec, Pricing

SIZES: Mapping[str, tuple[str, str]] = {
    # 480p tier
    "854x480": ("16:9", "480p"),
    "480x854": ("9:16", "480p"),
    "480x480": ("1:1", "480p"),
    "640x480": ("4:3", "480p"),
    "480x640": ("3:4", "480p"),
    "720x480": ("3:2", "480p"),
    "480x720": ("2:3", "480p"),
    # 720p tier
    "1280x720": ("16:9", "720p"),
    "720x1280": ("9:16", "720p"),
    "720x720": ("1:1", "720p"),
    "960x720": ("4:3", "720p"),
    "720x960": ("3:4", "720p"),
    "1080x720": ("3:2", "720p"),
    "720x1080": ("2:3", "720p"),
}
"""vidgate size -> (xAI ``aspect_ratio``, xAI ``resolution``)."""

OPTIONS = {
    "user": OptionSpec("string", description="An end-user id, passed to xAI as `user`."),
}
"""``metadata`` keys xAI takes (``output.upload_url`` is never sent: vidgate keeps results)."""

MODEL_NAMES = ("grok-imagine-video", "grok-imagine-video-1.5", "grok-imagine-video-1.5-preview")


def _capabilities(model: str) -> ModelCapabilities:
    return ModelCapabilities(
        seconds=tuple(range(1, 16)),
        default_seconds=8,  # the API default (LiteLLM wrongly assumes 6)
        sizes=tuple(SIZES),
        default_size="854x480",  # 16:9 at 480p, the tier with a published price
        image_roles=frozenset({"first_frame"}),
        operations=frozenset({"create"}),
        options=OPTIONS,
        description=f"xAI {model}: text- or image-to-video, 1-15 s, 480p or 720p, 7 ratios.",
    )


_PRICE = Pricing(
    per_second={"480p": 5e8},  # ticks/s = $0.05/s; 720p: higher, unverified -> no list price
    unit="usd_ticks",
    usd_per_unit=1e-10,
    source="xAI REST reference and 1 s/480p usage sample (5e8 ticks), API of 2026-01-28",
)

SPEC = ProviderSpec(
    name="xai",
    description="xAI Grok Imagine video (REST: /v1/videos/generations).",
    models={name: _capabilities(name) for name in MODEL_NAMES},
    status_map={
        "pending": "in_progress",
        "done": "completed",
        "failed": "failed",
        "expired": "failed",
    },
    idempotent_submit=False,
    poll_interval_s=5.0,
    job_deadline_s=600.0,  # Grok Imagine renders a clip in about a minute
    prices={name: _PRICE for name in MODEL_NAMES},
    env={"api_key": "XAI_API_KEY"},
    credentials=(Credential("api_key"),),
    auto_models=("grok-imagine-video", "grok-imagine-video-1.5"),
    default_api_base="https://api.x.ai/v1",
    aliases={"grok-video": ("grok-imagine-video",)},
)
