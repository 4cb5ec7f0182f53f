"""Azure OpenAI video (Sora), as data: models, both status maps, prices, credentials.

Follows ``shared/reference/providers/azure.md`` (MS Learn ``video-generation.md``, ms.date
2025-09-16, the preview REST reference and field reports). Azure serves video on two
incompatible APIs, chosen per deployment with ``options.api``:

- ``v1`` (default): Sora 2 on ``/openai/v1/videos`` — the OpenAI Videos wire format with the
  ``api-key`` header; ``720x1280`` / ``1280x720`` and ``"4"``/``"8"``/``"12"`` seconds only;
  create and remix (Azure lists no edits or extensions).
- ``jobs``: Sora 1 on the legacy preview ``/openai/v1/video/generations/jobs`` API; nine
  frame sizes, 1-20 seconds, create only.

The deployment's ``model`` is the Azure *deployment name*. A deployment takes what its Sora
model takes (``deployment_capabilities``): ``options.base_model``, else its name when that is
one of ``sora-2``, ``sora-2-pro``, ``sora``, else the API's default model — checked while the
request is resolved, before a job exists. A ``base_model`` that is not one keeps the union
of both APIs, and the adapter says what to fix.

Neither API takes provider options (``metadata`` is refused). Rules: a remix needs a source
made on the same deployment (the v1 API remixes by upstream id, as OpenAI's); Sora 1 takes
its first frame only as an uploaded file (the jobs API has multipart ``files`` parts and no
URL or file-id field).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vidgate.errors import InvalidRequest
from vidgate.providers.base import Credential, ProviderSpec
from vidgate.providers.openai.spec import follow_up_source
from vidgate.values import JobStatus, ModelCapabilities, Pricing, ResolvedRequest

V1_SIZES = ("720x1280", "1280x720")
V1_SECONDS = (4, 8, 12)
JOBS_SIZES = (
    "480x480",
    "480x854",
    "854x480",
    "720x720",
    "720x1280",
    "1280x720",
    "1080x1080",
    "1080x1920",
    "1920x1080",
)
JOBS_SECONDS = tuple(range(1, 21))


def uploaded_image(request: ResolvedRequest) -> None:
    """The jobs API reads input images from multipart ``files`` parts only."""
    image = request.image("first_frame")
    if image is not None and image.kind != "blob":
        raise InvalidRequest(
            "Azure Sora 1 takes input images as uploaded files only; upload the image "
            "instead of passing a URL or file id.",
            param=image.param or "input_reference",
        )


SORA_2 = ModelCapabilities(
    file_ids=True,
    seconds=V1_SECONDS,
    default_seconds=4,
    sizes=V1_SIZES,
    default_size="720x1280",
    image_roles=frozenset({"first_frame"}),
    operations=frozenset({"create", "remix"}),
    rules=(follow_up_source,),
    description="Sora 2 on an Azure OpenAI deployment (v1 /videos API).",
)
SORA_2_PRO = ModelCapabilities(
    file_ids=True,
    seconds=V1_SECONDS,
    default_seconds=4,
    sizes=V1_SIZES,
    default_size="720x1280",
    image_roles=frozenset({"first_frame"}),
    operations=frozenset({"create", "remix"}),
    rules=(follow_up_source,),
    description="Sora 2 Pro on Azure (v1 API; Azure documents only the Sora 2 sizes so far).",
)
SORA_1 = ModelCapabilities(
    seconds=JOBS_SECONDS,
    default_seconds=5,
    sizes=JOBS_SIZES,
    default_size="720x1280",
    image_roles=frozenset({"first_frame"}),
    operations=frozenset({"create"}),
    rules=(uploaded_image,),
    description="Sora (1) on an Azure OpenAI deployment (legacy preview jobs API).",
)
ANY_DEPLOYMENT = ModelCapabilities(
    file_ids=True,
    seconds=JOBS_SECONDS,
    default_seconds=4,
    sizes=JOBS_SIZES,
    default_size="720x1280",
    image_roles=frozenset({"first_frame"}),
    operations=frozenset({"create", "remix"}),
    rules=(follow_up_source,),
    description="An Azure deployment of another name; checked against options.base_model.",
)

BASE_MODELS: dict[str, ModelCapabilities] = {
    "sora-2": SORA_2,
    "sora-2-pro": SORA_2_PRO,
    "sora": SORA_1,
}
"""What ``options.base_model`` may name, and the API each one is served by."""
BASE_MODEL_API = {"sora-2": "v1", "sora-2-pro": "v1", "sora": "jobs"}


def deployment_capabilities(model: str, options: Mapping[str, Any]) -> ModelCapabilities:
    """A deployment takes what its Sora model takes: ``options.base_model``, else the
    deployment's own name when it is one, else the API's default model. A base model that
    is not one (a misconfiguration) keeps the union, and the adapter says what to fix."""
    api = options.get("api", "v1")
    base = options.get("base_model") or (model if model in BASE_MODELS else None)
    base = base or ("sora" if api == "jobs" else "sora-2")
    known = isinstance(base, str) and base in BASE_MODELS and BASE_MODEL_API[base] == api
    return BASE_MODELS[base] if known else ANY_DEPLOYMENT


V1_STATUS: dict[str, JobStatus] = {
    "queued": "queued",
    "in_progress": "in_progress",
    "completed": "completed",
    "failed": "failed",
}
JOBS_STATUS: dict[str, JobStatus] = {
    "preprocessing": "queued",
    "queued": "queued",
    "running": "in_progress",
    "processing": "in_progress",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "failed",
}

SPEC = ProviderSpec(
    name="azure",
    description="Azure OpenAI video: Sora 2 (v1 /videos API) and Sora 1 (legacy jobs API).",
    models=BASE_MODELS,
    any_model=ANY_DEPLOYMENT,
    deployment_capabilities=deployment_capabilities,
    status_map={**JOBS_STATUS, **V1_STATUS},
    idempotent_submit=False,
    poll_interval_s=5.0,
    job_deadline_s=1800.0,  # Sora takes minutes, but Azure queues jobs behind a deployment's quota
    upstream_previews=frozenset({"thumbnail"}),
    prices={
        "sora-2": Pricing(
            per_second={"720p": 0.10},
            source=(
                "azure/sora-2 in the LiteLLM price catalogue (secondary), as quoted by "
                "shared/reference/providers/azure.md; capabilities per MS Learn 2025-09-16"
            ),
        ),
    },
    env={"api_key": "AZURE_API_KEY", "api_base": "AZURE_API_BASE"},
    credentials=(Credential("api_key"),),
    auto_models=("sora-2",),
    default_api_base=None,
    aliases={"sora": ("sora-2",)},
)
"""``default_api_base`` is ``None``: every Azure resource has its own endpoint
(``https://{resource}.openai.azure.com``), which ``AZURE_API_BASE`` or ``api_base`` gives."""


def status_map(api: str) -> dict[str, JobStatus]:
    """The status map of one API (``v1`` or ``jobs``)."""
    return JOBS_STATUS if api == "jobs" else V1_STATUS


def map_status(api: str, raw: str) -> JobStatus:
    """Map a raw status of ``api``; unknown values mean the job is still running."""
    return status_map(api).get(raw, "in_progress")
