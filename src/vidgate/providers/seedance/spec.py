"""ByteDance Seedance on Volcengine Ark and BytePlus ModelArk, as data.

Both platforms serve the same API (``shared/reference/providers/seedance.md``); the
deployment's ``api_base`` picks the platform and the model names differ per platform.
Sizes are the frame sizes Seedance renders for an aspect ``ratio`` at a ``resolution`` tier
(``1280x720`` is sent as ``ratio: "16:9", resolution: "720p"``); ``SIZES`` is the one table
both directions use.

The options are a table per model (``service_tier`` has no ``flex`` on 2.0), and the checks
across fields (frames or references, lite's reference mode without 1080p, the seed's range,
``asset://`` as the only file ids, no ``--flags`` in the prompt) are ``RULES``: all run
while the request is resolved, before a job exists. Where ``camera_fixed`` and
``watermark`` go (body fields or ``--flags``) depends on the deployment, so the adapter
places them.

Prices are per output token: tokens ≈ width * height * fps * seconds / 1024, and the task's
own ``usage.completion_tokens`` settles the real amount. ``Pricing.per_second`` holds the
*tokens* per second of a 16:9 frame at each tier (24 fps), ``usd_per_unit`` the USD per
token. Volcengine list prices are in CNY and converted at ``CNY_PER_USD``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from vidgate.errors import InvalidRequest
from vidgate.providers.base import Credential, ProviderSpec
from vidgate.values import ModelCapabilities, OptionSpec, Pricing, ResolvedRequest

VOLCENGINE_API_BASE = "https://ark.cn-beijing.volces.com/api/v3"
BYTEPLUS_API_BASE = "https://ark.ap-southeast.bytepluses.com/api/v3"
FPS = 24
CNY_PER_USD = 7.2
"""Conversion used for Volcengine's CNY list prices (an assumption, not a published rate)."""

SIZES: Mapping[str, tuple[str, str]] = {
    "864x480": ("16:9", "480p"),
    "480x864": ("9:16", "480p"),
    "640x640": ("1:1", "480p"),
    "736x544": ("4:3", "480p"),
    "544x736": ("3:4", "480p"),
    "960x416": ("21:9", "480p"),
    "1280x720": ("16:9", "720p"),
    "720x1280": ("9:16", "720p"),
    "960x960": ("1:1", "720p"),
    "1112x834": ("4:3", "720p"),
    "834x1112": ("3:4", "720p"),
    "1470x630": ("21:9", "720p"),
    "1920x1080": ("16:9", "1080p"),
    "1080x1920": ("9:16", "1080p"),
    "1440x1440": ("1:1", "1080p"),
    "1664x1248": ("4:3", "1080p"),
    "1248x1664": ("3:4", "1080p"),
    "2206x946": ("21:9", "1080p"),
}
"""Frame size → (``ratio``, ``resolution``) as Seedance takes them."""


def _sizes(*tiers: str) -> tuple[str, ...]:
    return tuple(size for size, (_, tier) in SIZES.items() if tier in tiers)


ALL_SIZES = _sizes("480p", "720p", "1080p")
NO_1080P = _sizes("480p", "720p")
SECONDS_1_0 = tuple(range(3, 13))
SECONDS_1_5 = tuple(range(4, 13))
SECONDS_2_0 = tuple(range(4, 16))
MAX_SEED = 4_294_967_295
SERVICE_TIERS = ("default", "flex")
EXPIRES_RANGE = (3600, 259_200)
LEGACY_FLAG = re.compile(
    r"(?:^|\s)--(?:rs|resolution|rt|ratio|dur|duration|fps|framepersecond|wm|watermark|seed"
    r"|cf|camerafixed)\s+\S+"
)
"""Seedance's inline ``--flags``; the gateway sets them itself, so a prompt may not."""
NO_1080P_REFERENCE = frozenset(
    {"doubao-seedance-1-0-lite-i2v-250428", "seedance-1-0-lite-i2v-250428"}
)
"""Models whose reference-image mode has no 1080p."""


def option_table(*, flex: bool = True) -> Mapping[str, OptionSpec]:
    """The options every Seedance model takes; ``flex`` (offline processing) is not on 2.0."""
    tiers = SERVICE_TIERS if flex else SERVICE_TIERS[:1]
    return {
        "camera_fixed": OptionSpec(
            "boolean", upstream="", description="keep the camera still (camera_fixed / --cf)"
        ),
        "watermark": OptionSpec(
            "boolean", upstream="", description="Seedance's watermark (watermark / --wm)"
        ),
        "return_last_frame": OptionSpec(
            "boolean", description="also return the last frame (content.last_frame_url)"
        ),
        "service_tier": OptionSpec(
            "string",
            choices=tiers,
            description="flex: offline processing" if flex else "no flex (offline) tier here",
        ),
        "execution_expires_after": OptionSpec(
            "integer",
            minimum=EXPIRES_RANGE[0],
            maximum=EXPIRES_RANGE[1],
            description="seconds a task may wait before it expires (default 172800)",
        ),
    }


def _no_prompt_flags(request: ResolvedRequest) -> None:
    if LEGACY_FLAG.search(request.prompt):
        raise InvalidRequest(
            "The prompt carries Seedance '--flags'; use 'size', 'seconds', 'seed' and "
            "'metadata' instead (the gateway sets the flags itself).",
            param="prompt",
        )


def _seed_range(request: ResolvedRequest) -> None:
    if request.seed is not None and not -1 <= request.seed <= MAX_SEED:
        raise InvalidRequest(
            f"Invalid value for 'seed': {request.seed}; Seedance takes -1 to {MAX_SEED}.",
            param="seed",
            code="invalid_value",
        )


def _images_fit(request: ResolvedRequest) -> None:
    """A first frame with a last one, references apart from frames (and, on lite, not at
    1080p), and no file ids but Ark's own ``asset://`` ids."""
    first, last = request.image("first_frame"), request.image("last_frame")
    references = any(image.role == "reference" for image in request.images)
    if last is not None and first is None:
        raise InvalidRequest(
            "Seedance needs a first frame ('input_reference') when a last frame is given.",
            param="metadata.last_frame",
        )
    if references and first is not None:
        raise InvalidRequest(
            "Seedance cannot mix reference images with first/last frames in one request.",
            param="metadata.reference_images",
        )
    tier = SIZES[request.size][1] if request.size in SIZES else None
    if references and tier == "1080p" and request.upstream_model in NO_1080P_REFERENCE:
        raise InvalidRequest(
            f"Model '{request.upstream_model}' has no 1080p with reference images.",
            param="size",
        )
    for image in request.images:
        asset = image.asset
        if asset.kind == "file_id" and not asset.value.startswith("asset://"):
            param = asset.param or "input_reference"
            raise InvalidRequest(
                f"Seedance cannot use a file id for '{param}'; send the image, an https URL "
                "or an asset:// id.",
                param=param,
            )


RULES = (_no_prompt_flags, _seed_range, _images_fit)


def _caps(
    seconds: tuple[int, ...],
    sizes: tuple[str, ...],
    roles: frozenset[str],
    description: str,
    *,
    audio: bool | None = None,
    references: int = 0,
    flex: bool = True,
) -> ModelCapabilities:
    return ModelCapabilities(
        seconds=seconds,
        default_seconds=5,
        sizes=sizes,
        default_size="1280x720",
        fps=(FPS,),
        default_fps=FPS,
        image_roles=roles,
        seed=True,
        audio=audio,
        max_reference_images=references,
        file_ids=True,
        options=option_table(flex=flex),
        rules=RULES,
        description=description,
    )


FIRST = frozenset({"first_frame"})
FIRST_LAST = frozenset({"first_frame", "last_frame"})
ALL_ROLES = frozenset({"first_frame", "last_frame", "reference"})

PRO_1_0 = _caps(SECONDS_1_0, ALL_SIZES, FIRST_LAST, "Seedance 1.0 Pro: text or first(+last) frame.")
PRO_FAST_1_0 = _caps(SECONDS_1_0, ALL_SIZES, FIRST, "Seedance 1.0 Pro Fast: text or first frame.")
LITE_T2V = _caps(SECONDS_1_0, ALL_SIZES, frozenset(), "Seedance 1.0 Lite, text-to-video only.")
LITE_I2V = _caps(
    SECONDS_1_0,
    ALL_SIZES,
    ALL_ROLES,
    "Seedance 1.0 Lite, image-to-video: first(+last) frame or 1-4 reference images.",
    references=4,
)
PRO_1_5 = _caps(
    SECONDS_1_5,
    ALL_SIZES,
    FIRST_LAST,
    "Seedance 1.5 Pro: text or first(+last) frame, with generated audio (default on).",
    audio=True,
)
V2_0 = _caps(
    SECONDS_2_0,
    ALL_SIZES,
    ALL_ROLES,
    "Seedance 2.0: first(+last) frame or 1-9 reference images, audio (default on).",
    audio=True,
    references=9,
    flex=False,
)
V2_0_FAST = _caps(
    SECONDS_2_0,
    NO_1080P,
    ALL_ROLES,
    "Seedance 2.0 Fast: like 2.0 without 1080p.",
    audio=True,
    references=9,
    flex=False,
)
ENDPOINT = _caps(
    SECONDS_1_5,
    ALL_SIZES,
    FIRST,
    "An Ark endpoint id (ep-...): the capabilities every Seedance model shares.",
)
"""For ``ep-…`` endpoint ids: what every Seedance model can do (the adapter refuses other
names not in ``models``)."""

VOLCENGINE_MODELS: Mapping[str, ModelCapabilities] = {
    "doubao-seedance-1-0-pro-250528": PRO_1_0,
    "doubao-seedance-1-0-pro-fast-251015": PRO_FAST_1_0,
    "doubao-seedance-1-0-lite-t2v-250428": LITE_T2V,
    "doubao-seedance-1-0-lite-i2v-250428": LITE_I2V,
    "doubao-seedance-1-5-pro-251215": PRO_1_5,
    "doubao-seedance-2-0-260128": V2_0,
    "doubao-seedance-2-0-fast-260128": V2_0_FAST,
}
BYTEPLUS_MODELS: Mapping[str, ModelCapabilities] = {
    "seedance-1-0-pro-250528": PRO_1_0,
    "seedance-1-0-pro-fast-251015": PRO_FAST_1_0,
    "seedance-1-0-lite-t2v-250428": LITE_T2V,
    "seedance-1-0-lite-i2v-250428": LITE_I2V,
    "seedance-1-5-pro-251215": PRO_1_5,
    "dreamina-seedance-2-0-260128": V2_0,
}

FLAG_MODELS = frozenset(
    name
    for name in (*VOLCENGINE_MODELS, *BYTEPLUS_MODELS)
    if "seedance-1-0-" in name  # the 1.0 family predates the body fields
)
"""Models whose parameters go as ``--flags`` in the prompt text (deployment option
``param_style`` overrides: ``flags`` or ``body``)."""


def _tokens_per_second(width: int, height: int) -> float:
    return width * height * FPS / 1024


TOKENS_PER_SECOND: Mapping[str, float] = {
    "480p": _tokens_per_second(864, 480),
    "720p": _tokens_per_second(1280, 720),
    "1080p": _tokens_per_second(1920, 1080),
}
_VOLC_SOURCE = "new-api constants, 2026-01-28 price table (CNY at 7.2 per USD)"
_VOLC_UNVERIFIED = "new-api README, unverified (CNY at 7.2 per USD)"
_BYTEPLUS_SOURCE = "BytePlus ModelArk portal copy (reference, 2026)"


def _per_token(usd_per_million: float, source: str, audio: float | None = None) -> Pricing:
    rate = usd_per_million / 1e6
    tokens = dict(TOKENS_PER_SECOND)
    audio_tokens = None
    if audio is not None:  # one unit price per Pricing: fold the audio premium into the tokens
        audio_tokens = {tier: n * audio / usd_per_million for tier, n in tokens.items()}
    return Pricing(
        per_second=tokens,
        per_second_audio=audio_tokens,
        unit="tokens",
        usd_per_unit=rate,
        source=source,
    )


def _cny(per_million: float, source: str, p1080: float | None = None) -> Pricing:
    pricing = _per_token(per_million / CNY_PER_USD, source)
    if p1080 is None:
        return pricing
    tokens = dict(pricing.per_second)
    tokens["1080p"] = tokens["1080p"] * p1080 / per_million
    return Pricing(tokens, unit="tokens", usd_per_unit=pricing.usd_per_unit, source=source)


PRICES: Mapping[str, Pricing] = {
    "doubao-seedance-1-0-pro-250528": _cny(15, _VOLC_UNVERIFIED),
    "doubao-seedance-1-0-pro-fast-251015": _cny(4.2, _VOLC_UNVERIFIED),
    "doubao-seedance-1-0-lite-t2v-250428": _cny(10, _VOLC_UNVERIFIED),
    "doubao-seedance-1-0-lite-i2v-250428": _cny(10, _VOLC_UNVERIFIED),
    "doubao-seedance-1-5-pro-251215": _per_token(
        1.2, _BYTEPLUS_SOURCE + "; no Volcengine price in the reference", audio=2.4
    ),
    "doubao-seedance-2-0-260128": _cny(46, _VOLC_SOURCE, p1080=51),
    "doubao-seedance-2-0-fast-260128": _cny(37, _VOLC_SOURCE),
    "seedance-1-0-pro-250528": _per_token(2.5, _BYTEPLUS_SOURCE),
    "seedance-1-0-pro-fast-251015": _cny(4.2, _VOLC_UNVERIFIED + "; no BytePlus price"),
    "seedance-1-0-lite-t2v-250428": _per_token(1.8, _BYTEPLUS_SOURCE),
    "seedance-1-0-lite-i2v-250428": _per_token(1.8, _BYTEPLUS_SOURCE),
    "seedance-1-5-pro-251215": _per_token(1.2, _BYTEPLUS_SOURCE, audio=2.4),
    "dreamina-seedance-2-0-260128": _cny(46, _VOLC_SOURCE + "; no BytePlus price", p1080=51),
}

SPEC = ProviderSpec(
    name="seedance",
    description="ByteDance Seedance on Volcengine Ark / BytePlus ModelArk (content generation).",
    models={**VOLCENGINE_MODELS, **BYTEPLUS_MODELS},
    status_map={
        "queued": "queued",
        "running": "in_progress",
        "succeeded": "completed",
        "failed": "failed",
        "expired": "failed",
        "cancelled": "failed",
    },
    any_model=ENDPOINT,
    idempotent_submit=False,
    poll_interval_s=5.0,
    job_deadline_s=1800.0,  # minutes to render; a queued task waits (expires only at 48 h)
    prices=PRICES,
    env={"api_key": "ARK_API_KEY"},
    credentials=(Credential("api_key"),),
    auto_models=tuple(VOLCENGINE_MODELS),
    default_api_base=VOLCENGINE_API_BASE,
    aliases={
        "seedance-video": (
            "doubao-seedance-1-0-pro-250528",
            "seedance-1-0-pro-250528",
        )
    },
)
