"""Replicate predictions API, as data (``shared/reference/providers/replicate.md``).

Replicate hosts thousands of models behind one API, each with its own ``input`` schema. The
deployment's ``model`` is the Replicate reference: ``owner/name`` for an official model
(``POST /models/{owner}/{name}/predictions``), ``owner/name:<version>`` or a bare 64-hex
version id for a pinned version (``POST /predictions`` with ``version``).

Any model works by its name (``any_model``: broad, bounded capabilities; every ``metadata``
key is forwarded into ``input``). A few known video models carry their real input names and
limits from their replicate.com API pages (input schemas read 2026): the input names a
model takes are in ``INPUTS``; a deployment may rename or drop any of them with the option
``input_keys`` (``{"first_frame": "start_image", "resolution": null}``).

vidgate sizes are exact pixel sizes; each maps to one (``aspect_ratio``, ``resolution``)
pair in ``SIZES`` (Replicate video models are asked for the ratio and the tier).

The known models' ``metadata`` keys are typed (``OptionSpec``) and checked before a job
exists; ``any_model`` forwards every key unchecked (``any_options``). What a deployment's
``input_keys`` drop or rename is checked by the adapter when the request is sent.

Prices: the reference gives none (per model, on each model page, mostly per output second);
only ``minimax/video-01`` has a published price we could source ($0.50 per 6 s video). The
others are deliberately absent (unknown rather than wrong); a deployment whose model is billed
by hardware time can set ``hardware_billing: true`` to report ``metrics.predict_time`` as the
cost units.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vidgate.providers.base import Credential, ProviderSpec
from vidgate.values import ModelCapabilities, OptionSpec, Pricing

VERSION_ID = re.compile(r"^[0-9a-f]{64}$")
"""A bare Replicate version id."""

SIZES: Mapping[str, tuple[str, str]] = {
    # 480p tier
    "854x480": ("16:9", "480p"),
    "480x854": ("9:16", "480p"),
    "480x480": ("1:1", "480p"),
    "640x480": ("4:3", "480p"),
    "480x640": ("3:4", "480p"),
    "1120x480": ("21:9", "480p"),
    # 720p tier
    "1280x720": ("16:9", "720p"),
    "720x1280": ("9:16", "720p"),
    "720x720": ("1:1", "720p"),
    "960x720": ("4:3", "720p"),
    "720x960": ("3:4", "720p"),
    "1680x720": ("21:9", "720p"),
    # 1080p tier
    "1920x1080": ("16:9", "1080p"),
    "1080x1920": ("9:16", "1080p"),
    "1080x1080": ("1:1", "1080p"),
    "1440x1080": ("4:3", "1080p"),
    "1080x1440": ("3:4", "1080p"),
    "2520x1080": ("21:9", "1080p"),
}
"""vidgate size -> (Replicate ``aspect_ratio``, Replicate ``resolution``)."""


def sizes(tiers: tuple[str, ...], ratios: tuple[str, ...]) -> tuple[str, ...]:
    """The vidgate sizes of the given tiers and aspect ratios, in ``SIZES`` order."""
    return tuple(s for s, (ratio, tier) in SIZES.items() if tier in tiers and ratio in ratios)


@dataclass(frozen=True)
class InputKeys:
    """The ``input`` field a model takes for each canonical parameter (``None``: not sent)."""

    prompt: str | None = "prompt"
    duration: str | None = "duration"
    aspect_ratio: str | None = "aspect_ratio"
    resolution: str | None = "resolution"
    first_frame: str | None = "image"
    last_frame: str | None = None
    reference: str | None = None
    negative_prompt: str | None = "negative_prompt"
    seed: str | None = "seed"
    audio: str | None = None

    def renamed(self, overrides: Mapping[str, str | None]) -> InputKeys:
        """These keys with a deployment's ``input_keys`` applied (unknown names are ignored)."""
        fields = {k: v for k, v in overrides.items() if k in self.__dataclass_fields__}
        return InputKeys(**{**self.__dict__, **fields})


ALL_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9")
MAX_MEDIA_REFERENCES = 3
"""Seedance 2.0 takes at most 3 reference videos and 3 reference audio clips."""
MEDIA_SCHEMES = ("https://", "http://", "data:")
"""What Replicate fetches or decodes itself for a file input."""


def media_urls(value: list[Any]) -> list[str]:
    """A list of media inputs as Replicate takes files: http(s) URLs or ``data:`` URIs."""
    if not all(isinstance(v, str) and v.startswith(MEDIA_SCHEMES) for v in value):
        raise ValueError("expected a list of http(s) URLs or data: URIs")
    return value


def _media(kind: str) -> OptionSpec:
    return OptionSpec(
        "array",
        max_length=MAX_MEDIA_REFERENCES,
        transform=media_urls,
        description=f"Up to {MAX_MEDIA_REFERENCES} reference {kind} URLs.",
    )


ANY_MODEL = ModelCapabilities(
    seconds=tuple(range(1, 21)),
    default_seconds=5,
    sizes=tuple(SIZES),
    default_size="1280x720",
    image_roles=frozenset({"first_frame"}),
    seed=True,
    negative_prompt=True,
    any_options=True,
    description=(
        "Any Replicate-hosted video model by name (owner/name or owner/name:version): prompt, "
        "duration, aspect_ratio + resolution, image, negative_prompt, seed; other metadata "
        "keys go into input as they are."
    ),
)

SEEDANCE_2 = ModelCapabilities(
    seconds=tuple(range(4, 16)),
    default_seconds=5,
    sizes=sizes(("480p", "720p"), ALL_RATIOS),
    default_size="1280x720",
    image_roles=frozenset({"first_frame", "last_frame", "reference"}),
    max_reference_images=9,
    seed=True,
    audio=True,
    options={"reference_videos": _media("video"), "reference_audios": _media("audio")},
    description="ByteDance Seedance 2.0 on Replicate: 4-15 s, 480p/720p, frames or references.",
)

VIDU_Q3_TURBO = ModelCapabilities(
    seconds=tuple(range(1, 17)),
    default_seconds=5,
    sizes=sizes(("720p", "1080p"), ("16:9", "9:16", "1:1")),
    default_size="1280x720",
    image_roles=frozenset({"first_frame", "last_frame"}),
    seed=True,
    audio=True,
    description="Vidu Q3 Turbo on Replicate: 1-16 s, start/end image, audio on by default.",
)

MINIMAX_VIDEO_01 = ModelCapabilities(
    seconds=(6,),
    default_seconds=6,
    sizes=("1280x720",),
    default_size="1280x720",
    fps=(25,),
    default_fps=25,
    image_roles=frozenset({"first_frame"}),
    max_prompt_chars=2000,
    options={
        "prompt_optimizer": OptionSpec("boolean", description="Let MiniMax rewrite the prompt.")
    },
    description="MiniMax Hailuo video-01 on Replicate: 6 s, 1280x720 at 25 fps.",
)

INPUTS: Mapping[str, InputKeys] = {
    "bytedance/seedance-2.0": InputKeys(
        last_frame="last_frame_image",
        reference="reference_images",
        negative_prompt=None,
        audio="generate_audio",
    ),
    "vidu/q3-turbo": InputKeys(
        first_frame="start_image", last_frame="end_image", negative_prompt=None, audio="audio"
    ),
    "minimax/video-01": InputKeys(
        duration=None,
        aspect_ratio=None,
        resolution=None,
        first_frame="first_frame_image",
        negative_prompt=None,
        seed=None,
    ),
}
"""Input names of the known models; every other model gets ``InputKeys()``."""

PRICES: Mapping[str, Pricing] = {
    "minimax/video-01": Pricing(
        per_second={"720p": 0.5 / 6},
        source="$0.50 per 6 s video, as listed for Replicate's minimax/video-01 (2025-01-05)",
    ),
}


def model_name(reference: str) -> str:
    """``owner/name`` of a model reference (a version suffix dropped)."""
    return reference.split(":", 1)[0]


class ReplicateSpec(ProviderSpec):
    """A spec whose models are also found by ``owner/name:version``."""

    def capabilities(self, upstream_model: str) -> ModelCapabilities | None:
        return self.models.get(model_name(upstream_model), self.any_model)


SPEC = ReplicateSpec(
    name="replicate",
    description="Replicate predictions API (any hosted video model, official or by version).",
    models={
        "bytedance/seedance-2.0": SEEDANCE_2,
        "vidu/q3-turbo": VIDU_Q3_TURBO,
        "minimax/video-01": MINIMAX_VIDEO_01,
    },
    status_map={
        "starting": "queued",
        "processing": "in_progress",
        "succeeded": "completed",
        "failed": "failed",
        "canceled": "failed",
        "aborted": "failed",
    },
    any_model=ANY_MODEL,
    idempotent_submit=False,
    poll_interval_s=5.0,
    job_deadline_s=1800.0,  # a cold boot and the shared queue come before the render
    prices=PRICES,
    env={"api_key": "REPLICATE_API_TOKEN"},
    credentials=(Credential("api_key"),),
    auto_models=("bytedance/seedance-2.0", "vidu/q3-turbo", "minimax/video-01"),
    default_api_base="https://api.replicate.com/v1",
)
