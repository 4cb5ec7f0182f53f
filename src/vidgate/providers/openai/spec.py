"""Any OpenAI-Videos-compatible upstream (OpenAI Sora 2, Azure's v1 path, other gateways).

Sora model capabilities follow ``shared/reference/providers/openai.md``: ``seconds`` 4-20 in
steps of 4 (the enum lists 4/8/12; the API also takes 16 and 20), ``sora-2`` only at
720x1280 / 1280x720, ``sora-2-pro`` also at 1024x1792, 1792x1024, 1080p. Other model names
are passed through (the upstream's schema is free-form) with permissive capabilities, and
the upstream has the last word on what it accepts.
"""

from __future__ import annotations

from vidgate.providers.base import ProviderSpec
from vidgate.values import ModelCapabilities, Pricing

_SECONDS = (4, 8, 12, 16, 20)
_ALL_OPS = frozenset({"create", "remix", "edit", "extend"})

SORA_2 = ModelCapabilities(
    file_ids=True,
    seconds=_SECONDS,
    default_seconds=4,
    sizes=("720x1280", "1280x720"),
    default_size="720x1280",
    image_roles=frozenset({"first_frame"}),
    operations=_ALL_OPS,
    any_options=True,
    description="OpenAI Sora 2 (or a compatible upstream serving that name).",
)
SORA_2_PRO = ModelCapabilities(
    file_ids=True,
    seconds=_SECONDS,
    default_seconds=4,
    sizes=("720x1280", "1280x720", "1024x1792", "1792x1024", "1920x1080", "1080x1920"),
    default_size="720x1280",
    image_roles=frozenset({"first_frame"}),
    operations=_ALL_OPS,
    any_options=True,
    description="OpenAI Sora 2 Pro (or a compatible upstream serving that name).",
)
ANY_MODEL = ModelCapabilities(
    file_ids=True,
    seconds=tuple(range(1, 61)),
    default_seconds=4,
    sizes=(
        "720x1280",
        "1280x720",
        "1024x1792",
        "1792x1024",
        "1920x1080",
        "1080x1920",
        "480x854",
        "854x480",
        "640x360",
        "360x640",
        "720x720",
        "960x960",
        "1024x1024",
        "2160x3840",
        "3840x2160",
    ),
    default_size="720x1280",
    image_roles=frozenset({"first_frame"}),
    operations=_ALL_OPS,
    any_options=True,
    description="A model on an OpenAI-Videos-compatible upstream.",
)

_LAUNCH = "OpenAI launch rates 2025-10-06 (shared/reference/providers/openai.md)"
SORA_2_PRICE = Pricing(per_second={"720p": 0.10}, source=_LAUNCH)
SORA_2_PRO_PRICE = Pricing(
    per_second={"720p": 0.30},
    source=_LAUNCH + "; 1024x1792 is 0.50/s there but shares the 720p tier here",
)

SPEC = ProviderSpec(
    name="openai",
    description="Any upstream speaking the OpenAI Videos API (/v1/videos).",
    models={
        "sora-2": SORA_2,
        "sora-2-2025-10-06": SORA_2,
        "sora-2-2025-12-08": SORA_2,
        "sora-2-pro": SORA_2_PRO,
        "sora-2-pro-2025-10-06": SORA_2_PRO,
    },
    any_model=ANY_MODEL,
    status_map={
        "queued": "queued",
        "in_progress": "in_progress",
        "completed": "completed",
        "failed": "failed",
    },
    idempotent_submit=False,
    poll_interval_s=2.0,
    upstream_previews=frozenset({"thumbnail", "spritesheet"}),
    prices={
        "sora-2": SORA_2_PRICE,
        "sora-2-2025-10-06": SORA_2_PRICE,
        "sora-2-2025-12-08": SORA_2_PRICE,
        "sora-2-pro": SORA_2_PRO_PRICE,
        "sora-2-pro-2025-10-06": SORA_2_PRO_PRICE,
    },
    aliases={"sora": ("sora-2",)},
)
