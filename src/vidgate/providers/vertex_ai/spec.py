"""Google Veo on Vertex AI, as data (``shared/reference/providers/vertex-veo.md``).

Models are the ones the reference lists as current: ``veo-3.0-generate-001`` and
``veo-3.0-fast-generate-001`` were retired on 2026-06-30 (replaced by the 3.1 models), and
the ``-preview`` endpoints were sunset on 2026-04-02, so none of those are offered.

Sizes are the Vertex aspect ratio (``16:9`` / ``9:16``) times the resolution tier
(``720p``, ``1080p``, ``4k``): 1280x720 is 16:9 at 720p, 1080x1920 is 9:16 at 1080p. Vertex
reports no progress and no status field; the adapter names the four states it can observe
(``running``, ``succeeded``, ``failed``, ``content_filtered``), which are mapped here.

The ``metadata`` options are a table (allowed values, the Vertex parameter each becomes) and
the rules across fields (frames, reference images, extensions, 8 s for 1080p and 4k, the
seed's range) are checked while the request is resolved, before a job exists.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from vidgate.errors import InvalidRequest
from vidgate.providers.base import Credential, ProviderSpec
from vidgate.values import ForeignName, ModelCapabilities, OptionSpec, Pricing, ResolvedRequest

SIZE_MAP: dict[str, tuple[str, str]] = {
    "1280x720": ("16:9", "720p"),
    "720x1280": ("9:16", "720p"),
    "1920x1080": ("16:9", "1080p"),
    "1080x1920": ("9:16", "1080p"),
    "3840x2160": ("16:9", "4k"),
    "2160x3840": ("9:16", "4k"),
}
"""Frame size → Vertex ``aspectRatio`` and ``resolution``."""
SIZES_720P = ("1280x720", "720x1280")
SIZES_1080P = ("1920x1080", "1080x1920")
SIZES_4K = ("3840x2160", "2160x3840")

EXTENSION_SECONDS = 8
"""``durationSeconds`` an extension takes; Veo adds 7 s of video to the input."""
MAX_EXTENSION_INPUT_S = 30
MAX_SEED = 0xFFFFFFFF
_TOPIC = re.compile(r"^projects/[^/]+/topics/[^/]+$")
_GCS_URI = re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,221}(/.*)?$")
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def _matching(pattern: re.Pattern[str], expected: str) -> Callable[[Any], Any]:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"expected {expected}")
        return value

    return check


def labels(value: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level billing ``labels``: at most 64 lowercase keys, string values of at most 63."""
    if (
        len(value) > 64
        or not all(isinstance(k, str) and _LABEL_KEY.fullmatch(k) for k in value)
        or not all(isinstance(v, str) and len(v) <= 63 for v in value.values())
    ):
        raise ValueError("expected an object of up to 64 lowercase keys to short strings")
    return dict(value)


OPTIONS: Mapping[str, OptionSpec] = {
    "person_generation": OptionSpec(
        "string",
        choices=("allow_adult", "dont_allow", "allow_all"),
        upstream="parameters.personGeneration",
    ),
    "storage_uri": OptionSpec(
        "string",
        upstream="parameters.storageUri",
        transform=_matching(_GCS_URI, "a Cloud Storage URI such as gs://bucket/prefix/"),
        description="Write the video to Cloud Storage instead of returning it inline.",
    ),
    "compression_quality": OptionSpec(
        "string", choices=("optimized", "lossless"), upstream="parameters.compressionQuality"
    ),
    "enhance_prompt": OptionSpec("boolean", upstream="parameters.enhancePrompt"),
    "resize_mode": OptionSpec(
        "string",
        choices=("pad", "crop"),
        upstream="parameters.resizeMode",
        description="How a first frame of another aspect ratio is fitted (image-to-video).",
    ),
    "pubsub_topic": OptionSpec(
        "string",
        upstream="parameters.pubsubTopic",
        transform=_matching(_TOPIC, "projects/PROJECT/topics/TOPIC"),
    ),
    "labels": OptionSpec(
        "object",
        upstream="",  # top-level, and only when not empty: the adapter writes it
        transform=labels,
        description="Billing labels.",
    ),
}
"""``metadata`` options and the Vertex parameters they become."""
EXP_OPTIONS: Mapping[str, OptionSpec] = {
    **OPTIONS,
    "reference_type": OptionSpec(
        "string",
        choices=("asset", "style"),
        upstream="",  # each reference image's referenceType
        description="asset (default) or style (exactly one image).",
    ),
}


def _references(request: ResolvedRequest) -> list[Any]:
    return [i.asset for i in request.images if i.role == "reference"]


def _frames(request: ResolvedRequest) -> None:
    first, last = request.image("first_frame"), request.image("last_frame")
    if last is not None and first is None:
        raise InvalidRequest(
            "Veo takes a last frame only together with a first frame (input_reference).",
            param="metadata.last_frame",
        )
    if _references(request) and first is not None:
        raise InvalidRequest(
            "Veo cannot combine reference images with a first or last frame.",
            param="metadata.reference_images",
        )
    if request.options.get("reference_type") == "style" and len(_references(request)) > 1:
        raise InvalidRequest(
            "A style reference takes exactly one image.", param="metadata.reference_images"
        )


def _extension(request: ResolvedRequest) -> None:
    if request.operation != "extend":
        return
    source = request.source
    if request.images:
        param = request.images[0].asset.param or "input_reference"
        raise InvalidRequest("Veo extends a video without input images.", param=param)
    if request.seconds != EXTENSION_SECONDS:
        raise InvalidRequest(
            f"Veo extends a video by 7 s per call; send seconds={EXTENSION_SECONDS} "
            "(the durationSeconds Vertex takes for an extension).",
            param="seconds",
        )
    if SIZE_MAP.get(request.size, ("", ""))[1] != "720p":
        raise InvalidRequest("Vertex extends 720p videos only.", param="video")
    if source is None or (source.seconds or 0) > MAX_EXTENSION_INPUT_S:
        raise InvalidRequest("Vertex extends videos of 1 to 30 seconds.", param="video")
    in_storage = source.location is not None and source.location.startswith("gs://")
    if not in_storage and source.asset is None:
        raise InvalidRequest("The source video's bytes are not available.", param="video")


def _lengths(request: ResolvedRequest) -> None:
    aspect, tier = SIZE_MAP.get(request.size, ("16:9", "720p"))
    if tier in ("1080p", "4k") and request.seconds != 8:
        raise InvalidRequest(f"Veo makes {tier} videos of 8 seconds only.", param="seconds")
    if _references(request) and (request.seconds != 8 or aspect != "16:9"):
        raise InvalidRequest(
            "Veo reference-image videos are 8 seconds at 16:9 only.",
            param="metadata.reference_images",
        )


def _seed_and_resize(request: ResolvedRequest) -> None:
    if request.seed is not None and not 0 <= request.seed <= MAX_SEED:
        raise InvalidRequest(f"'seed' must be between 0 and {MAX_SEED}.", param="seed")
    if "resize_mode" in request.options and request.image("first_frame") is None:
        raise InvalidRequest(
            "'metadata.resize_mode' applies to image-to-video only.", param="metadata.resize_mode"
        )


RULES = (_frames, _extension, _lengths, _seed_and_resize)
_VEO3_ROLES = frozenset({"first_frame", "last_frame", "reference"})

VEO_3_1 = ModelCapabilities(
    seconds=(4, 6, 8),
    default_seconds=8,
    sizes=SIZES_720P + SIZES_1080P + SIZES_4K,
    default_size="1280x720",
    fps=(24,),
    image_roles=_VEO3_ROLES,
    operations=frozenset({"create", "extend"}),
    seed=True,
    negative_prompt=True,
    audio=True,
    max_reference_images=3,
    options=OPTIONS,
    rules=RULES,
    description="Veo 3.1 on Vertex AI: 4/6/8 s, 720p/1080p/4k, audio, extension (+7 s).",
)
VEO_3_1_FAST = ModelCapabilities(
    seconds=(4, 6, 8),
    default_seconds=8,
    sizes=SIZES_720P + SIZES_1080P + SIZES_4K,
    default_size="1280x720",
    fps=(24,),
    image_roles=_VEO3_ROLES,
    operations=frozenset({"create", "extend"}),
    seed=True,
    negative_prompt=True,
    audio=True,
    max_reference_images=3,
    options=OPTIONS,
    rules=RULES,
    description="Veo 3.1 Fast on Vertex AI: cheaper and quicker Veo 3.1.",
)
VEO_3_1_LITE = ModelCapabilities(
    seconds=(4, 6, 8),
    default_seconds=8,
    sizes=SIZES_720P + SIZES_1080P,
    default_size="1280x720",
    fps=(24,),
    image_roles=frozenset({"first_frame", "last_frame"}),
    operations=frozenset({"create"}),
    seed=True,
    negative_prompt=True,
    audio=True,
    options=OPTIONS,
    rules=RULES,
    description="Veo 3.1 Lite on Vertex AI (preview): 720p/1080p, audio.",
)
VEO_2 = ModelCapabilities(
    seconds=(5, 6, 7, 8),
    default_seconds=8,
    sizes=SIZES_720P,
    default_size="1280x720",
    fps=(24,),
    image_roles=frozenset({"first_frame", "last_frame"}),
    operations=frozenset({"create"}),
    seed=True,
    negative_prompt=True,
    audio=None,
    options=OPTIONS,
    rules=RULES,
    description="Veo 2 on Vertex AI: 5-8 s at 720p, no audio.",
)
VEO_2_EXP = ModelCapabilities(
    seconds=(5, 6, 7, 8),
    default_seconds=8,
    sizes=SIZES_720P,
    default_size="1280x720",
    fps=(24,),
    image_roles=frozenset({"first_frame", "last_frame", "reference"}),
    operations=frozenset({"create"}),
    seed=True,
    negative_prompt=True,
    audio=None,
    max_reference_images=3,
    options=EXP_OPTIONS,
    rules=RULES,
    description="Veo 2 experimental on Vertex AI: reference images (asset or style).",
)

_UNVERIFIED = "vertex-veo.md (unverified secondary/reseller figures), transcribed 2026-09-20"
PRICES = {
    "veo-3.1-generate-001": Pricing(
        per_second={"720p": 0.20, "1080p": 0.20, "4k": 0.30},
        per_second_audio={"720p": 0.40, "1080p": 0.40, "4k": 0.60},
        source=f"{_UNVERIFIED}: $0.40/s with audio (720p/1080p), $0.60/s 4K, video-only ~half",
    ),
    "veo-3.1-fast-generate-001": Pricing(
        per_second={"720p": 0.08, "1080p": 0.08, "4k": 0.28},
        per_second_audio={"720p": 0.15, "1080p": 0.15, "4k": 0.28},
        source=f"{_UNVERIFIED}: Fast $0.15/s with audio (Gemini list 2025); reseller $0.08/s "
        "muted, $0.28/s 4K (qingbo 2026)",
    ),
    "veo-3.1-lite-generate-001": Pricing(
        per_second={"720p": 0.05, "1080p": 0.08},
        source=f"{_UNVERIFIED}: Lite $0.05/s 720p, $0.08/s 1080p (third-party 2026-04)",
    ),
    "veo-2.0-generate-001": Pricing(
        per_second={"720p": 0.35}, source=f"{_UNVERIFIED}: Veo 2 $0.35/s"
    ),
    "veo-2.0-generate-exp": Pricing(
        per_second={"720p": 0.35}, source=f"{_UNVERIFIED}: Veo 2 $0.35/s"
    ),
}

FOREIGN_NAMES: Mapping[str, ForeignName] = {
    "veo2": ForeignName(("veo-2.0-generate-001",)),
    "google/veo2": ForeignName(("veo-2.0-generate-001",)),
    "veo2/image-to-video": ForeignName(("veo-2.0-generate-001",)),
    "google/veo-3.1-t2v": ForeignName(("veo-3.1-generate-001",)),
    "google/veo-3.1-i2v": ForeignName(("veo-3.1-generate-001",)),
    "google/veo-3.1-t2v-fast": ForeignName(("veo-3.1-fast-generate-001",)),
    "google/veo-3.1-i2v-fast": ForeignName(("veo-3.1-fast-generate-001",)),
}
"""aimlapi's model names for these models (its ``/v2`` clients send them)."""

SPEC = ProviderSpec(
    name="vertex_ai",
    description="Google Veo on Vertex AI (service-account OAuth, predictLongRunning).",
    models={
        "veo-3.1-generate-001": VEO_3_1,
        "veo-3.1-fast-generate-001": VEO_3_1_FAST,
        "veo-3.1-lite-generate-001": VEO_3_1_LITE,
        "veo-2.0-generate-001": VEO_2,
        "veo-2.0-generate-exp": VEO_2_EXP,
    },
    status_map={
        "running": "in_progress",
        "succeeded": "completed",
        "failed": "failed",
        "content_filtered": "failed",
    },
    idempotent_submit=False,
    poll_interval_s=10.0,
    job_deadline_s=900.0,  # Veo takes 11 s to 6 min: a slow one with margin
    prices=PRICES,
    env={"options.credentials": "GOOGLE_APPLICATION_CREDENTIALS"},
    credentials=(Credential("options.credentials", required=True, file=True),),
    auto_models=("veo-3.1-generate-001", "veo-3.1-fast-generate-001"),
    default_api_base="https://us-central1-aiplatform.googleapis.com/v1",
    aliases={"veo3": ("veo-3.1-generate-001",), "veo-3": ("veo-3.1-generate-001",)},
    foreign_names=FOREIGN_NAMES,
)
