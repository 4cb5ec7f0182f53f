"""Google Veo on the Gemini Developer API, as data.

Capabilities and prices follow ``shared/reference/providers/gemini-veo.md``. A ``size`` is
the pair the API takes as ``aspectRatio`` (``16:9`` / ``9:16``) and ``resolution``
(``720p`` / ``1080p`` / ``4k``); ``seconds`` is ``durationSeconds``. Veo 3.x makes audio with
every video and the Gemini API has no switch for it (``generateAudio`` is Vertex-only), so
``audio`` is always on. The option table and the rules below (8 s for 1080p, 4k, reference
images and extensions; frames, references and extensions that exclude each other) are
checked while the request is resolved, before a job exists.

The API reports no status strings, only ``done`` plus ``error`` / ``generatedSamples`` /
RAI fields; the adapter names those outcomes and this map turns them into gateway statuses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from vidgate.errors import InvalidRequest
from vidgate.providers.base import Credential, ProviderSpec
from vidgate.values import ForeignName, ModelCapabilities, OptionSpec, Pricing, ResolvedRequest

SIZES_720P = ("1280x720", "720x1280")
SIZES_1080P = ("1920x1080", "1080x1920")
SIZES_4K = ("3840x2160", "2160x3840")
PERSON_GENERATION = ("allow_all", "allow_adult", "dont_allow")
EIGHT_SECONDS_ONLY = ("1080p", "4k")
_VEO3_SECONDS = (4, 6, 8)
_FRAMES = frozenset({"first_frame", "last_frame"})

OPTIONS: Mapping[str, OptionSpec] = {
    "person_generation": OptionSpec(
        "string",
        choices=PERSON_GENERATION,
        upstream="parameters.personGeneration",
        description="Whether people may be generated.",
    ),
    "enhance_prompt": OptionSpec(
        "boolean", upstream="parameters.enhancePrompt", description="Let Veo rewrite the prompt."
    ),
}
"""``metadata`` options; Vertex-only fields (seed, fps, generateAudio, storageUri, ...) are
not among them because the Gemini API rejects them."""


def resolution(request: ResolvedRequest) -> str:
    """Veo's ``resolution`` tier of the request's size, by its short side."""
    short = min(request.width, request.height)
    return "4k" if short >= 2160 else "1080p" if short >= 1080 else "720p"


def _frames(request: ResolvedRequest) -> None:
    first = request.image("first_frame")
    if request.image("last_frame") is not None and first is None:
        raise InvalidRequest(
            "'metadata.last_frame' needs a first frame ('input_reference') as well.",
            param="metadata.last_frame",
        )
    references = any(i.role == "reference" for i in request.images)
    if references and (first is not None or request.operation == "extend"):
        raise InvalidRequest(
            "'metadata.reference_images' cannot be combined with a first or last frame "
            "or an extension.",
            param="metadata.reference_images",
        )


def _extension(request: ResolvedRequest) -> None:
    if request.operation != "extend":
        return
    source = request.source
    if source is None or not source.location:
        raise InvalidRequest(
            "Veo extends only videos it made: 'video' must be a completed job of this "
            "deployment (uploaded videos cannot be extended).",
            param="video",
        )
    if request.image("first_frame") or request.image("last_frame"):
        raise InvalidRequest(
            "An extension cannot take a first or last frame.", param="metadata.last_frame"
        )
    if resolution(request) != "720p":
        raise InvalidRequest(
            f"Veo extends only 720p videos; the source video is {request.size}.", param="video"
        )


def _eight_seconds(request: ResolvedRequest) -> None:
    """Veo 3.x makes 1080p, 4k, reference-image videos and extensions of 8 s only."""
    if request.seconds == 8:
        return
    reason = None
    tier = resolution(request)
    if tier in EIGHT_SECONDS_ONLY:
        reason = f"{tier} output"
    elif any(i.role == "reference" for i in request.images):
        reason = "reference images"
    elif request.operation == "extend":
        reason = "an extension"
    if reason:
        raise InvalidRequest(
            f"Invalid value for 'seconds': {request.seconds}. Veo needs 8 seconds for "
            f"{reason}; allowed: 8.",
            param="seconds",
            code="invalid_value",
        )


def _audio_always_on(request: ResolvedRequest) -> None:
    if request.audio is False:
        raise InvalidRequest(
            f"Model '{request.upstream_model}' always generates audio on the Gemini API; "
            "'metadata.audio' cannot be false.",
            param="metadata.audio",
        )


Rule = Callable[[ResolvedRequest], None]
RULES: tuple[Rule, ...] = (_frames, _extension)
VEO3_RULES: tuple[Rule, ...] = (*RULES, _eight_seconds, _audio_always_on)

VEO_3_1 = ModelCapabilities(
    seconds=_VEO3_SECONDS,
    default_seconds=8,
    sizes=SIZES_720P + SIZES_1080P + SIZES_4K,
    default_size="1280x720",
    image_roles=_FRAMES | {"reference"},
    operations=frozenset({"create", "extend"}),
    negative_prompt=True,
    audio=True,
    max_reference_images=3,
    options=OPTIONS,
    rules=VEO3_RULES,
    description="Veo 3.1: 720p/1080p/4k, 4-8 s with audio, frames, reference images, extension.",
)
VEO_3_1_FAST = ModelCapabilities(
    seconds=_VEO3_SECONDS,
    default_seconds=8,
    sizes=SIZES_720P + SIZES_1080P,
    default_size="1280x720",
    image_roles=_FRAMES | {"reference"},
    operations=frozenset({"create", "extend"}),
    negative_prompt=True,
    audio=True,
    max_reference_images=3,
    options=OPTIONS,
    rules=VEO3_RULES,
    description="Veo 3.1 Fast: 720p/1080p, 4-8 s with audio, frames, reference images, extension.",
)
VEO_3_1_LITE = ModelCapabilities(
    seconds=_VEO3_SECONDS,
    default_seconds=8,
    sizes=SIZES_720P + SIZES_1080P,
    default_size="1280x720",
    image_roles=_FRAMES,
    negative_prompt=True,
    audio=True,
    options=OPTIONS,
    rules=VEO3_RULES,
    description="Veo 3.1 Lite: 720p/1080p, 4-8 s with audio, first and last frame.",
)
VEO_3 = ModelCapabilities(
    seconds=_VEO3_SECONDS,
    default_seconds=8,
    sizes=SIZES_720P + SIZES_1080P,
    default_size="1280x720",
    image_roles=frozenset({"first_frame"}),
    negative_prompt=True,
    audio=True,
    options=OPTIONS,
    rules=VEO3_RULES,
    description="Veo 3: 720p/1080p, 4-8 s with audio, image-to-video.",
)
VEO_3_FAST = ModelCapabilities(
    seconds=_VEO3_SECONDS,
    default_seconds=8,
    sizes=SIZES_720P + SIZES_1080P,
    default_size="1280x720",
    image_roles=frozenset({"first_frame"}),
    negative_prompt=True,
    audio=True,
    options=OPTIONS,
    rules=VEO3_RULES,
    description="Veo 3 Fast: 720p/1080p, 4-8 s with audio, image-to-video.",
)
VEO_2 = ModelCapabilities(
    seconds=(5, 6, 7, 8),
    default_seconds=8,
    sizes=SIZES_720P,
    default_size="1280x720",
    image_roles=frozenset({"first_frame"}),
    negative_prompt=True,
    audio=None,
    options=OPTIONS,
    rules=RULES,
    description="Veo 2: 720p, 5-8 s, silent, image-to-video.",
)

_PRICE_PAGE = "Gemini API pricing page, transcribed 2026-09-20"
PRICES = {
    "veo-3.1-generate-preview": Pricing(
        {"720p": 0.40, "1080p": 0.40, "4k": 0.60}, source=_PRICE_PAGE
    ),
    "veo-3.1-fast-generate-preview": Pricing(
        {"720p": 0.15, "1080p": 0.15},
        source="Gemini pricing 2025; a 2026-04-07 cut to 0.12 at 1080p is unverified",
    ),
    "veo-3.1-lite-generate-preview": Pricing(
        {"720p": 0.05, "1080p": 0.08}, source="third-party listing, 2026-04"
    ),
    "veo-3.0-generate-001": Pricing({"*": 0.40}, source="Gemini pricing after the 2025-09 cut"),
    "veo-3.0-fast-generate-001": Pricing(
        {"*": 0.15}, source="Gemini pricing after the 2025-09 cut"
    ),
    "veo-2.0-generate-001": Pricing({"720p": 0.35}, source="Gemini pricing (unverified)"),
}

FOREIGN_NAMES: Mapping[str, ForeignName] = {
    "veo2": ForeignName(("veo-2.0-generate-001",)),
    "google/veo2": ForeignName(("veo-2.0-generate-001",)),
    "veo2/image-to-video": ForeignName(("veo-2.0-generate-001",)),
    "veo3": ForeignName(("veo-3.0-generate-001",)),
    "google/veo3": ForeignName(("veo-3.0-generate-001",)),
    "google/veo-3.0-i2v": ForeignName(("veo-3.0-generate-001",)),
    "google/veo-3.0-fast": ForeignName(("veo-3.0-fast-generate-001",)),
    "google/veo-3.0-i2v-fast": ForeignName(("veo-3.0-fast-generate-001",)),
    "google/veo-3.1-t2v": ForeignName(("veo-3.1-generate-preview",)),
    "google/veo-3.1-i2v": ForeignName(("veo-3.1-generate-preview",)),
    "google/veo-3.1-t2v-fast": ForeignName(("veo-3.1-fast-generate-preview",)),
    "google/veo-3.1-i2v-fast": ForeignName(("veo-3.1-fast-generate-preview",)),
}
"""aimlapi's model names for these models (its ``/v2`` clients send them)."""

SPEC = ProviderSpec(
    name="gemini",
    description="Google Veo on the Gemini Developer API (generativelanguage.googleapis.com).",
    models={
        "veo-3.1-generate-preview": VEO_3_1,
        "veo-3.1-fast-generate-preview": VEO_3_1_FAST,
        "veo-3.1-lite-generate-preview": VEO_3_1_LITE,
        "veo-3.0-generate-001": VEO_3,
        "veo-3.0-fast-generate-001": VEO_3_FAST,
        "veo-2.0-generate-001": VEO_2,
    },
    status_map={
        "pending": "in_progress",  # `done` absent or false (no progress is reported)
        "succeeded": "completed",  # done + generatedSamples with a video uri
        "error": "failed",  # done + error (a google.rpc.Status)
        "filtered": "failed",  # done, no samples, raiMediaFilteredCount/Reasons
        "empty": "failed",  # done with neither samples, error nor RAI fields
    },
    idempotent_submit=False,
    poll_interval_s=10.0,
    job_deadline_s=900.0,  # Veo takes 11 s to 6 min (gemini-veo.md): a slow one with margin
    prices=PRICES,
    env={"api_key": "GEMINI_API_KEY"},
    credentials=(Credential("api_key"),),
    auto_models=(
        "veo-3.1-generate-preview",
        "veo-3.1-fast-generate-preview",
        "veo-3.1-lite-generate-preview",
    ),
    default_api_base="https://generativelanguage.googleapis.com/v1beta",
    aliases={"veo3": ("veo-3.1-generate-preview",), "veo-3": ("veo-3.1-generate-preview",)},
    foreign_names=FOREIGN_NAMES,
    vendor_paths={"google": "veo3"},
)
