"""Where a new job may run: the placements of a request, group by group.

A placement is a deployment with the request resolved for it (``routing.router.Placement``).
For a create, the requested model group's deployments that can serve the request come first,
in strategy order, then each configured fallback group the key may use, skipping groups
that cannot serve the parameters — also when the requested group itself cannot: a value
its model does not allow moves the request to a fallback that can take it, at no cost. A
follow-up (remix, edit, extend) of a job on the same model is pinned to the deployment that
made the source. Requests are validated here, once per deployment, before any job row or
budget hold exists; ``jobs/create.py`` then runs the attempts over what this yields. A
fallback group passed over is named, with the reason, in the error the request ends with
(``Groups.skipped``), so a fallback that could never serve the request is not a mystery.

A remix keeps its source's length. ``seconds`` on a remix equal to that length changes
nothing (nothing different is sent upstream); another length goes only to a model whose remix
can set one (``ModelCapabilities.remix_seconds``), priced by the length made; elsewhere it is
a 400 naming the source's length, or, under ``drop_params``, dropped and reported.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from vidgate.accounting.keys import Principal
from vidgate.errors import GatewayError, InvalidRequest, NotFound, PermissionDenied, client_text
from vidgate.jobs.store import Job
from vidgate.media.pool import MediaPool
from vidgate.request import VideoRequest, resolve
from vidgate.routing.router import Placement, Router
from vidgate.storage.base import BlobStore
from vidgate.values import Asset, Deployment, ModelCapabilities, SourceVideo


class Groups:
    """A request's groups' placements in the order to try them (an async iterator), and the
    fallback groups the iteration passed over so far, each with its reason (``skipped``)."""

    def __init__(self) -> None:
        self.skipped: list[str] = []
        self._groups: AsyncIterator[list[Placement]] | None = None

    def __aiter__(self) -> Groups:
        return self

    async def __anext__(self) -> list[Placement]:
        if self._groups is None:
            raise StopAsyncIteration
        return await anext(self._groups)

    def over(self, groups: AsyncIterator[list[Placement]]) -> Groups:
        """Iterate ``groups``."""
        self._groups = groups
        return self

    def skip(self, name: str, reason: str) -> None:
        self.skipped.append(f"Fallback '{name}' was skipped: {reason}")


def with_skipped(error: GatewayError, skipped: list[str]) -> GatewayError:
    """``error`` (a copy) with the skipped fallbacks, and why, after its message."""
    if not skipped:
        return error
    noted = copy.copy(error)
    message = error.message.rstrip()
    message += "" if message.endswith(".") else "."
    noted.message = client_text(" ".join([message, *skipped]))
    noted.args = (noted.message,)
    return noted


class Placements:
    """The placements of new jobs: model groups, fallbacks, pinned follow-ups."""

    def __init__(self, router: Router, storage: BlobStore, media: MediaPool) -> None:
        self.router = router
        self.storage = storage
        self.media = media

    async def groups(
        self, principal: Principal, request: VideoRequest, source: Job | None
    ) -> tuple[bool, Groups]:
        """Whether the job is pinned, and its groups' placements in the order to try them.

        Raises at once when the requested model may not be used, or when neither it nor any
        fallback group can serve the request (400 naming what the requested model allows,
        then each fallback and why it cannot).
        """
        live = self.router.live
        probes: dict[str, dict[str, Any]] = {}
        groups = Groups()
        if source is not None and request.model in (None, source.model):
            deployment = live.current(source.deployment_id)
            if deployment is None:
                raise InvalidRequest(
                    f"The deployment that created video '{source.id}' is no longer configured.",
                    param="video",
                    code="deployment_removed",
                )
            placement = await self._placement(request, deployment, source, probes)
            return True, groups.over(_single([placement]))
        model = live.table.resolve(request.model or live.table.default_model)
        group = live.table.group(model)
        if not group:
            raise NotFound(
                f"The model '{model}' does not exist. "
                f"Available: {', '.join(sorted(live.table.groups))}.",
                param="model",
                code="model_not_found",
            )
        if not principal.may_use(model):
            raise PermissionDenied(
                f"This key may not use model '{model}'.", param="model", code="model_not_allowed"
            )
        first = await self._group(request, group, source, probes)
        rest = self._fallbacks(principal, request, model, source, probes, groups)
        if isinstance(first, GatewayError):  # a fallback that can serve it is still tried
            served = await anext(rest, None)
            if served is None:  # names what the requested model allows, and the fallbacks'
                raise with_skipped(first, groups.skipped)
            first = served
        return False, groups.over(_chain(first, rest))

    async def _fallbacks(
        self,
        principal: Principal,
        request: VideoRequest,
        model: str,
        source: Job | None,
        probes: dict[str, dict[str, Any]],
        groups: Groups,
    ) -> AsyncIterator[list[Placement]]:
        """The fallback groups' placements, skipping (and noting in ``groups``) the groups
        that cannot serve the request."""
        for name in self.router.groups(model)[1:]:
            group = self.router.live.table.group(name)
            if not group:
                groups.skip(name, "no such model is configured.")
                continue
            if not principal.may_use(name):  # not named: a key learns no group it may not use
                continue
            placements = await self._group(request, group, source, probes)
            if isinstance(placements, GatewayError):  # it cannot serve these parameters
                groups.skip(name, placements.message)
            else:
                yield placements

    async def _group(
        self,
        request: VideoRequest,
        group: tuple[Deployment, ...],
        source: Job | None,
        probes: dict[str, dict[str, Any]],
    ) -> list[Placement] | GatewayError:
        """The group's deployments that can serve the request, in strategy order."""
        placements, error = [], None
        for deployment in group:
            try:
                placements.append(await self._placement(request, deployment, source, probes))
            except InvalidRequest as exc:
                error = error or exc
        if not placements:
            assert error is not None
            return error
        return self.router.order(placements)

    async def _placement(
        self,
        request: VideoRequest,
        deployment: Deployment,
        source: Job | None,
        probes: dict[str, dict[str, Any]],
    ) -> Placement:
        """The request resolved for ``deployment``, with the job's total seconds there."""
        caps, name, upstream = deployment.capabilities, deployment.model_name, deployment.model
        if request.operation == "create":
            resolved = resolve(request, caps, model_name=name, upstream_model=upstream)
            return Placement(deployment, resolved, resolved.seconds)
        video, (width, height, seconds) = await self._source_video(
            request, deployment, source, probes
        )
        length = seconds
        if request.operation == "remix":
            request, length = _remix_length(request, caps, name, seconds)
        if request.operation != "extend":  # remix and edit keep the source's length
            request = dataclasses.replace(request, seconds=None)
        resolved = resolve(
            request,
            caps,
            model_name=name,
            upstream_model=upstream,
            source=video,
            source_size=(width, height),
        )
        if request.operation == "extend":
            return Placement(deployment, resolved, seconds + resolved.seconds)
        return Placement(deployment, dataclasses.replace(resolved, seconds=length), length)

    async def _source_video(
        self,
        request: VideoRequest,
        deployment: Deployment,
        source: Job | None,
        probes: dict[str, dict[str, Any]],
    ) -> tuple[SourceVideo, tuple[int, int, int]]:
        if source is not None:
            width, height = (int(v) for v in source.size.split("x"))
            video = (source.assets or {}).get("video")
            asset = Asset("blob", video["key"], "video/mp4") if video else None
            same = source.deployment_id == deployment.id
            location = ((source.upstream or {}).get("results") or {}).get("video")
            video = SourceVideo(
                asset,
                source.id,
                source.upstream_id if same else None,
                source.seconds,
                location if same else None,
            )
            return video, (width, height, source.seconds)
        upload = request.source_upload
        if upload is None:
            raise InvalidRequest("Missing required parameter: 'video'.", param="video")
        info = probes.get(upload.blob_key)
        if info is None:
            info = probes[upload.blob_key] = await self._probe_upload(upload.blob_key)
        asset = Asset("blob", upload.blob_key, upload.content_type, upload.filename)
        seconds = max(1, round(info["duration_seconds"]))
        return SourceVideo(asset, seconds=seconds), (info["width"], info["height"], seconds)

    async def _probe_upload(self, key: str) -> dict[str, Any]:
        """Probe an uploaded video; from a remote store it is streamed to a temporary file."""
        path = self.storage.local_path(key)
        if path is not None:
            return await self.media.probe_video(path, "video")
        with tempfile.TemporaryDirectory(prefix="vidgate-probe-") as folder:
            path = Path(folder) / "video"
            with path.open("wb") as handle:
                async for chunk in self.storage.read(key):
                    await asyncio.to_thread(handle.write, chunk)
            return await self.media.probe_video(path, "video")


def _remix_length(
    request: VideoRequest, caps: ModelCapabilities, model: str, source_seconds: int
) -> tuple[VideoRequest, int]:
    """A remix's ``seconds``: the source's length, or another one the model's remix can
    make (checked against its lengths); else a 400, or dropped under ``drop_params``. The
    request comes back with what was dropped noted."""
    wanted = request.seconds
    if wanted is None or wanted == source_seconds:
        return request, source_seconds
    param = request.name("seconds")
    if caps.remix_seconds:
        if wanted not in caps.seconds:
            raise InvalidRequest(
                f"Invalid value for '{param}': {wanted}. Model '{model}' remixes at: "
                f"{', '.join(str(v) for v in caps.seconds)}.",
                param=param,
                code="invalid_value",
            )
        return request, wanted
    if request.drop_params:
        return dataclasses.replace(request, dropped=[*request.dropped, param]), source_seconds
    raise InvalidRequest(
        f"Invalid value for '{param}': {wanted}. A remix on model '{model}' keeps its source "
        f"video's length; allowed: {source_seconds} (the source video's length).",
        param=param,
        code="invalid_value",
    )


async def _single(placements: list[Placement]) -> AsyncIterator[list[Placement]]:
    yield placements


async def _chain(
    first: list[Placement], rest: AsyncIterator[list[Placement]]
) -> AsyncIterator[list[Placement]]:
    yield first
    async for placements in rest:
        yield placements
