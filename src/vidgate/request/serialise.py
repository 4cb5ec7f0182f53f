"""Serialising: a ``ResolvedRequest`` to and from the JSON kept on the job row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from vidgate.values import Asset, ImageInput, ResolvedRequest, SourceVideo


def resolved_upload_keys(request: ResolvedRequest) -> list[str]:
    """Blob keys of uploads a resolved request refers to (not other jobs' archives)."""
    assets = [image.asset for image in request.images]
    if request.source is not None and request.source.asset is not None:
        assets.append(request.source.asset)
    return [a.value for a in assets if a.kind == "blob" and a.value.startswith("inputs/")]


def resolved_to_json(request: ResolvedRequest) -> dict[str, Any]:
    return asdict(request)


def resolved_from_json(data: Mapping[str, Any]) -> ResolvedRequest:
    source = data.get("source")
    return ResolvedRequest(
        operation=data["operation"],
        prompt=data["prompt"],
        upstream_model=data["upstream_model"],
        seconds=data["seconds"],
        width=data["width"],
        height=data["height"],
        fps=data["fps"],
        seed=data.get("seed"),
        images=tuple(
            ImageInput(img["role"], Asset(**img["asset"])) for img in data.get("images", ())
        ),
        source=None
        if source is None
        else SourceVideo(
            asset=Asset(**source["asset"]) if source.get("asset") else None,
            job_id=source.get("job_id"),
            upstream_id=source.get("upstream_id"),
            seconds=source.get("seconds"),
            location=source.get("location"),
        ),
        options=dict(data.get("options") or {}),
        negative_prompt=data.get("negative_prompt"),
        audio=data.get("audio"),
        dropped=tuple(data.get("dropped") or ()),
    )
