"""Google Veo on Vertex AI, as data (``shared/reference/providers/vertex-veo.md``).

Models are the ones the reference lists as current: ``veo-3.0-generate-001`` and
``veo-3.0-fast-generate-001`` were retired on 2026-06-30 (replaced by the 3.1 models), and
the ``-preview`` endpoints were sunset on 2026-04-02, so none of those are offered.

Sizes are the Vertex aspect ratio (``16:9`` / ``9:16``) times the resolution tier
(``720p``, ``1080p``, ``4k``): 1280x720 is 16:9 at 720p, 1080x1920 is 9:16 at 1080p. Vertex
reports no progress and no status field; the adapter names the four states it can observe
(``running``, ``succeeded``, ``failed``, ``content_filtered``), which are mapped here.
"""

from __future__ import annotations

from collections.abc import Mapping

from vidgate.providers.base import ProviderSpec
from vidgate.values import ForeignName, ModelCapabilities, Pricing, untyped

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

OPTION_KEYS = frozenset(
    {
        "person_generation",
        "storage_uri",
        "compression_quality",
        "enhance_prompt",
        "resize_mode",
        "pubsub_topic",
        "labels",
    }
)
"""``metadata`` keys forwarded as Vertex parameters (values checked by the adapter)."""

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
    options=untyped(*OPTION_KEYS),
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
    options=untyped(*OPTION_KEYS),
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
    options=untyped(*OPTION_KEYS),
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
    options=untyped(*OPTION_KEYS),
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
    options=untyped(*OPTION_KEYS | {"reference_type"}),
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
    prices=PRICES,
    env={"options.credentials": "GOOGLE_APPLICATION_CREDENTIALS"},
    auto_models=("veo-3.1-generate-001", "veo-3.1-fast-generate-001"),
    default_api_base="https://us-central1-aiplatform.googleapis.com/v1",
    aliases={"veo3": ("veo-3.1-generate-001",), "veo-3": ("veo-3.1-generate-001",)},
    foreign_names=FOREIGN_NAMES,
)
