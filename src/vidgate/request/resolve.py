"""Resolving: a ``VideoRequest`` checked once against one deployment's model.

``resolve`` runs for every candidate deployment before a job row or a budget hold exists:
it fills every default the upstream would apply, checks seconds, size, fps, images and the
model's declarative option table (type, allowed values or range, normalised value) and its
cross-field rules, and returns the ``ResolvedRequest`` that pricing, adapters and the job row
share. Every rejection is a 400 naming the field the client sent and, where there is a list,
the allowed values; a candidate that cannot serve the request is skipped, not fatal.

Under ``drop_params`` (``request/parse.py``) a field this model does not take is dropped
instead, and named in ``ResolvedRequest.dropped`` as the client sent it: ``seed`` where the
model takes none, ``fps`` where it has one fixed frame rate, ``metadata.negative_prompt``,
``metadata.audio`` where it makes no audio, and ``metadata`` options its option table lacks.
A value the model does take but not at that value (``seconds: 7`` where 4, 8 and 12 are
allowed, a size it does not make, ``fps: 13`` where it has several) is still a 400, as are
images it cannot take and its cross-field rules. What is dropped depends on the deployment,
so it is decided here, per candidate.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from vidgate.errors import InvalidRequest, UnsupportedOperation
from vidgate.request.parse import VideoRequest
from vidgate.values import (
    Asset,
    ImageInput,
    ModelCapabilities,
    OptionSpec,
    ResolvedRequest,
    SourceVideo,
)


def resolve(
    request: VideoRequest,
    caps: ModelCapabilities,
    *,
    model_name: str,
    upstream_model: str,
    source: SourceVideo | None = None,
    source_size: tuple[int, int] | None = None,
) -> ResolvedRequest:
    """Check ``request`` against ``caps`` and fill defaults; 400 on anything it cannot take."""
    dropped = list(request.dropped)
    if request.drop_params:
        request, dropped = _lenient(request, caps, dropped)
    if request.operation not in caps.operations:
        raise UnsupportedOperation(
            f"Model '{model_name}' does not support {request.operation} "
            f"(it supports: {', '.join(sorted(caps.operations))}).",
            param="model",
        )
    if len(request.prompt) > caps.max_prompt_chars:
        raise InvalidRequest(
            f"'prompt' is too long: {len(request.prompt)} characters; "
            f"model '{model_name}' allows at most {caps.max_prompt_chars}.",
            param="prompt",
            code="string_above_max_length",
        )
    seconds = _pick(
        request.name("seconds"), request.seconds, caps.seconds, caps.default_seconds, model_name
    )
    width, height = source_size or _resolve_size(request, caps, model_name)
    fps = _pick("fps", request.fps, caps.fps, caps.default_fps, model_name)
    if request.seed is not None and not caps.seed:
        raise InvalidRequest(f"Model '{model_name}' does not accept 'seed'.", param="seed")
    try:
        options = _model_options(request, caps, model_name, dropped)
    except InvalidRequest as exc:
        raise _as_sent(exc, request) from None
    images = _images(request, caps, model_name)
    if request.negative_prompt is not None and not caps.negative_prompt:
        raise InvalidRequest(
            f"Model '{model_name}' does not accept a negative prompt.",
            param="metadata.negative_prompt",
        )
    if request.audio and caps.audio is None:
        raise InvalidRequest(
            f"Model '{model_name}' does not generate audio.", param="metadata.audio"
        )
    resolved = ResolvedRequest(
        operation=request.operation,
        prompt=request.prompt,
        upstream_model=upstream_model,
        seconds=seconds,
        width=width,
        height=height,
        fps=fps,
        seed=request.seed,
        images=images,
        source=source,
        options=options,
        negative_prompt=request.negative_prompt,
        audio=caps.audio if request.audio is None else request.audio,
        dropped=tuple(dropped),
    )
    try:
        _apply_rules(caps, resolved)
    except InvalidRequest as exc:
        raise _as_sent(exc, request) from None
    return resolved


def _lenient(
    request: VideoRequest, caps: ModelCapabilities, dropped: list[str]
) -> tuple[VideoRequest, list[str]]:
    """``request`` without the canonical fields ``caps`` does not take, and their names as
    sent appended to ``dropped`` (``drop_params``)."""
    unwanted: dict[str, Any] = {}
    if request.seed is not None and not caps.seed:
        unwanted["seed"] = None
    if request.fps is not None and len(caps.fps) == 1 and request.fps not in caps.fps:
        unwanted["fps"] = None  # one fixed frame rate: asking for another is not an option
    if request.negative_prompt is not None and not caps.negative_prompt:
        unwanted["negative_prompt"] = None
    if request.audio and caps.audio is None:
        unwanted["audio"] = None
    shown = {"negative_prompt": "metadata.negative_prompt", "audio": "metadata.audio"}
    names = [request.name(shown.get(name, name)) for name in unwanted]
    return replace(request, **unwanted), [*dropped, *names]


def _images(request: VideoRequest, caps: ModelCapabilities, model: str) -> tuple[ImageInput, ...]:
    images = _images_with_roles(request, caps, model)
    if not caps.file_ids:
        for image in images:
            if image.asset.kind == "file_id":
                param = image.asset.param or "input_reference"
                raise InvalidRequest(
                    f"Model '{model}' cannot use a file id for '{param}'; send the image "
                    "itself (an upload or a data: URI) or its URL.",
                    param=param,
                )
    return images


def _images_with_roles(
    request: VideoRequest, caps: ModelCapabilities, model: str
) -> tuple[ImageInput, ...]:
    if request.images:
        param = request.name("images")
        named = _named(request.images, param, indexed=True)
        return _images_by_model(named, caps, model, param)
    images: list[ImageInput] = []
    wanted = (
        ("first_frame", request.name("input_reference"), [request.image]),
        ("last_frame", request.name("metadata.last_frame"), [request.last_frame]),
        ("reference", request.name("metadata.reference_images"), request.reference_images),
    )
    for role, param, assets in wanted:
        given = [a for a in assets if a is not None]
        if given and role not in caps.image_roles:
            raise InvalidRequest(f"Model '{model}' does not accept '{param}'.", param=param)
        if role == "reference" and len(given) > caps.max_reference_images:
            raise InvalidRequest(
                f"Model '{model}' takes at most {caps.max_reference_images} reference images.",
                param=param,
            )
        named = _named(given, param, indexed=role == "reference")
        images += [ImageInput(role, asset) for asset in named]  # type: ignore[arg-type]
    return tuple(images)


def _named(assets: list[Asset], param: str, *, indexed: bool) -> list[Asset]:
    """The assets knowing the field they came in (``images[1]``), for errors about a URL."""
    return [replace(a, param=f"{param}[{i}]" if indexed else param) for i, a in enumerate(assets)]


def _images_by_model(
    assets: list[Asset], caps: ModelCapabilities, model: str, param: str
) -> tuple[ImageInput, ...]:
    """Roles for images the client left to the model: a first frame, first and last frames,
    or references — whichever the model takes for that many images."""
    roles = caps.image_roles
    count = len(assets)
    if count == 1 and "first_frame" in roles:
        return (ImageInput("first_frame", assets[0]),)
    if count == 2 and {"first_frame", "last_frame"} <= roles:
        return ImageInput("first_frame", assets[0]), ImageInput("last_frame", assets[1])
    if "reference" in roles and count <= caps.max_reference_images:
        return tuple(ImageInput("reference", asset) for asset in assets)
    raise InvalidRequest(
        f"Model '{model}' cannot take {count} image(s) in '{param}'; it takes "
        f"{_image_ability(caps)}.",
        param=param,
        code="invalid_value",
    )


def _image_ability(caps: ModelCapabilities) -> str:
    ways = []
    if "first_frame" in caps.image_roles:
        ways.append("1 image (first frame)")
    if {"first_frame", "last_frame"} <= caps.image_roles:
        ways.append("2 images (first and last frames)")
    if "reference" in caps.image_roles and caps.max_reference_images:
        ways.append(f"1 to {caps.max_reference_images} reference images")
    return ", or ".join(ways) or "no images"


def _pick(name: str, value: int | None, allowed: tuple[int, ...], default: int, model: str) -> int:
    if value is None:
        return default
    if value not in allowed:
        raise InvalidRequest(
            f"Invalid value for '{name}': {value}. Model '{model}' allows: "
            f"{', '.join(str(v) for v in allowed)}.",
            param=name,
            code="invalid_value",
        )
    return value


def _resolve_size(request: VideoRequest, caps: ModelCapabilities, model: str) -> tuple[int, int]:
    size = request.size
    if size is None and (request.resolution or request.aspect_ratio):
        return _size_by_tier(request.resolution, request.aspect_ratio, caps, model)
    text = caps.default_size if size is None else f"{size[0]}x{size[1]}"
    if text not in caps.sizes:
        param = request.name("size")
        raise InvalidRequest(
            f"Invalid value for '{param}': '{text}'. Model '{model}' allows: "
            f"{', '.join(caps.sizes)}.",
            param=param,
            code="invalid_value",
        )
    return _dimensions(text)


def _dimensions(text: str) -> tuple[int, int]:
    width, height = text.split("x")
    return int(width), int(height)


def _size_by_tier(
    short_side: int | None, ratio: tuple[int, int] | None, caps: ModelCapabilities, model: str
) -> tuple[int, int]:
    """The model's size with this short side and aspect ratio (each defaulting to the
    default size's), as aggregator APIs ask: ``resolution: 720p, aspect_ratio: 9:16``."""
    sizes = [_dimensions(text) for text in caps.sizes]
    default = _dimensions(caps.default_size)
    short = short_side or min(default)
    aspect = ratio or default
    for width, height in sizes:
        if min(width, height) == short and _same_ratio((width, height), aspect):
            return width, height
    param = "resolution" if short_side else "aspect_ratio"
    tiers = sorted({min(w, h) for w, h in sizes})
    raise InvalidRequest(
        f"Model '{model}' has no {short}p size at {aspect[0]}:{aspect[1]}; it makes: "
        f"{', '.join(caps.sizes)} (resolutions {', '.join(f'{t}p' for t in tiers)}).",
        param=param,
        code="invalid_value",
    )


def _same_ratio(size: tuple[int, int], ratio: tuple[int, int]) -> bool:
    """Within 1%: published sizes round (1366x768 is 16:9)."""
    return abs(size[0] * ratio[1] / (size[1] * ratio[0]) - 1) <= 0.01


def _model_options(
    request: VideoRequest, caps: ModelCapabilities, model: str, dropped: list[str]
) -> dict[str, Any]:
    """The options under the names this model uses, checked and normalised by its option
    table; 400 on one it does not take (dropped into ``dropped`` under ``drop_params``) or
    a value it does not allow."""
    # a table option sent as null is not given (the upstream's default applies)
    options = {k: v for k, v in request.options.items() if v is not None or k not in caps.options}
    for name in sorted(set(options) - set(caps.options)):
        synonym = _synonym(name, frozenset(caps.options))
        if synonym is not None and synonym not in options:
            options[synonym] = options.pop(name)
    unknown = sorted(set(options) - set(caps.options))
    if unknown and not caps.any_options and request.drop_params:
        dropped += [request.name(f"metadata.{name}") for name in unknown]
        options = {k: v for k, v in options.items() if k not in unknown}
    elif unknown and not caps.any_options:
        allowed = ", ".join(sorted(caps.options)) or "none"
        raise InvalidRequest(
            f"Unsupported option(s) for model '{model}': {', '.join(unknown)}. Allowed: {allowed}.",
            param=request.name(f"metadata.{unknown[0]}"),
            code="unknown_parameter",
        )
    for name, spec in caps.options.items():
        if name in options:
            options[name] = _checked(spec, options[name], f"metadata.{name}")
    return options


def _checked(spec: OptionSpec, value: Any, param: str) -> Any:
    try:
        return spec.check(value)
    except ValueError as exc:
        shown = json.dumps(value, default=str)  # as the client wrote it: true, null, "x"
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise InvalidRequest(
            f"Invalid value for '{param}': {shown}; {exc}.", param=param, code="invalid_value"
        ) from None


def _apply_rules(caps: ModelCapabilities, resolved: ResolvedRequest) -> None:
    """The model's cross-field rules, each raising ``InvalidRequest`` naming a field."""
    for rule in caps.rules:
        rule(resolved)


def _as_sent(exc: InvalidRequest, request: VideoRequest) -> InvalidRequest:
    """``exc`` naming the field as the client sent it (``parameters.mode`` for
    ``metadata.mode``, ``mode`` for a top-level field folded into ``metadata``)."""
    param = exc.param or ""
    canonical = next(
        (
            name
            for name in sorted(request.names, key=len, reverse=True)
            if param == name or param.startswith(name + ".")
        ),
        None,
    )
    if canonical is None or request.names[canonical] == canonical:
        return exc
    sent = request.names[canonical]
    renamed = InvalidRequest(
        exc.message.replace(f"'{canonical}", f"'{sent}"),
        param=sent + param[len(canonical) :],
        code=exc.code,
    )
    return renamed


OPTION_SYNONYMS = (frozenset({"enhance_prompt", "prompt_optimizer", "prompt_extend"}),)
"""Options providers name differently (prompt rewriting: Veo, MiniMax, Wan)."""


def _synonym(name: str, keys: frozenset[str]) -> str | None:
    for group in OPTION_SYNONYMS:
        if name in group:
            return next(iter(sorted(group & keys)), None)
    return None
