"""Any OpenAI-Videos-compatible upstream (OpenAI Sora 2, Azure's v1 path, other gateways).

Sora model capabilities follow ``shared/reference/providers/openai.md``: ``seconds`` 4-20 in
steps of 4 (the enum lists 4/8/12; the API also takes 16 and 20), ``sora-2`` only at
720x1280 / 1280x720, ``sora-2-pro`` also at 1024x1792, 1792x1024, 1080p. Other model names
are passed through (the upstream's schema is free-form) with permissive capabilities, and
the upstream has the last word on what it accepts.

Options are free-form (``any_options``: ``metadata`` keys are forwarded as extra body fields),
except the fields the gateway writes itself from the request (``RESERVED``); ``RULES`` check
that a follow-up has a source the upstream can use.
"""

from __future__ import annotations

from vidgate.errors import InvalidRequest
from vidgate.providers.base import Credential, ProviderSpec
from vidgate.values import ModelCapabilities, Pricing, ResolvedRequest

_SECONDS = (4, 8, 12, 16, 20)
_ALL_OPS = frozenset({"create", "remix", "edit", "extend"})
RESERVED = frozenset({"prompt", "seconds", "size", "input_reference", "video"})
"""Body fields the gateway writes from the request's own fields: forwarding them from
``metadata`` would run (and bill) another request than the one resolved (another length or
size, or a video the client does not own)."""


def follow_up_source(request: ResolvedRequest) -> None:
    """A remix names the source by its upstream id, so the source must have been made on the
    same deployment; an edit or extension sends that id or, failing it, the source's bytes."""
    source = request.source
    if request.operation == "remix" and (source is None or source.upstream_id is None):
        raise InvalidRequest("Remix needs a video made on the same deployment.", param="video")
    if request.operation in ("edit", "extend") and (
        source is None or (source.upstream_id is None and source.asset is None)
    ):
        raise InvalidRequest("Missing required parameter: 'video'.", param="video")


def no_reserved_options(request: ResolvedRequest) -> None:
    """``metadata`` cannot override what the request's own fields set."""
    clash = sorted(set(request.options) & RESERVED)
    if clash:
        raise InvalidRequest(
            f"'metadata.{clash[0]}' cannot be forwarded: vidgate sends '{clash[0]}' from the "
            "request's own field; set it there.",
            param=f"metadata.{clash[0]}",
        )


RULES = (follow_up_source, no_reserved_options)

SORA_2 = ModelCapabilities(
    file_ids=True,
    seconds=_SECONDS,
    default_seconds=4,
    sizes=("720x1280", "1280x720"),
    default_size="720x1280",
    image_roles=frozenset({"first_frame"}),
    operations=_ALL_OPS,
    any_options=True,
    rules=RULES,
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
    rules=RULES,
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
    rules=RULES,
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
    job_deadline_s=1800.0,  # sora-2 takes minutes; sora-2-pro at 1080p under load far longer
    credentials=(Credential("api_key"),),
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
