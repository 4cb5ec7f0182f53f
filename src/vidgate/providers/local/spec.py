"""The local renderer as data: one model, ``preview``, that takes every operation.

It is an offline renderer for development and demos, not an AI model: it draws the prompt
over a seeded animated scene, so clients can exercise the whole API without credentials.
"""

from __future__ import annotations

from vidgate.errors import InvalidRequest
from vidgate.providers.base import ProviderSpec
from vidgate.values import ModelCapabilities, Pricing, ResolvedRequest


def _inputs_it_holds(request: ResolvedRequest) -> None:
    """The renderer reads inputs it holds: an upload or a ``data:`` URL, not a remote URL
    (it makes no network calls), and a source video the gateway archived."""
    for image in request.images:
        if image.asset.kind == "url" and not image.asset.value.startswith("data:"):
            param = image.asset.param or "input_reference"
            raise InvalidRequest(
                f"The local renderer takes '{param}' as an upload or a base64 data: URL, "
                "not a remote URL (it makes no network calls).",
                param=param,
            )
    if request.source is not None and request.source.asset is None:
        raise InvalidRequest("The source video has no content to render from.", param="video")


PREVIEW = ModelCapabilities(
    seconds=tuple(range(1, 21)),
    default_seconds=4,
    sizes=(
        "1280x720",
        "720x1280",
        "1920x1080",
        "1080x1920",
        "1792x1024",
        "1024x1792",
        "854x480",
        "480x854",
        "640x360",
        "360x640",
        "480x480",
        "320x180",
    ),
    default_size="1280x720",
    fps=(12, 24, 25, 30),
    default_fps=24,
    image_roles=frozenset({"first_frame"}),
    operations=frozenset({"create", "remix", "edit", "extend"}),
    max_prompt_chars=32_000,
    seed=True,
    rules=(_inputs_it_holds,),
    remix_seconds=True,  # a remix renders the source's first frame on, for any length
    description=(
        "Offline renderer for development and demos - not an AI model. Renders an H.264 MP4 "
        "of the requested seconds, size and fps showing the prompt over a seeded animated scene."
    ),
)

SPEC = ProviderSpec(
    name="local",
    description="Built-in offline renderer (no credentials, no network).",
    models={"preview": PREVIEW},
    status_map={
        "queued": "queued",
        "rendering": "in_progress",
        "completed": "completed",
        "failed": "failed",
    },
    idempotent_submit=True,
    poll_interval_s=0.25,
    job_deadline_s=600.0,  # renders take seconds; 10 min covers a queue on one worker
    prices={"preview": Pricing(per_second={"*": 0.0}, source="the built-in renderer is free")},
)
