"""The job service: create, remix, edit, extend, retrieve, list, delete and content.

The API layer hands it a parsed ``VideoRequest`` and the caller's ``Principal``. Creates are
placed by ``jobs/placements.py`` (model group, fallbacks, the request resolved for each
deployment) and run by ``jobs/create.py`` (failover, the row inserted before the first
upstream call); follow-ups always use the deployment stored on the job. Every lookup is
scoped to the caller's key — another key's id is a 404 — but for the master key, which may
read any key's job by id (``visible``); lists are always the caller's own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import time
from typing import Any

from vidgate.accounting.end_users import EndUserStore
from vidgate.accounting.keys import Principal
from vidgate.errors import Conflict, GatewayError, InvalidRequest, NotFound
from vidgate.jobs import lifecycle, listing
from vidgate.jobs.create import Creator, Plan, row_values
from vidgate.jobs.end_users import Admitted, EndUserGate, rate_refusal
from vidgate.jobs.estimate import estimate
from vidgate.jobs.moderation import Moderator
from vidgate.jobs.placements import Placements
from vidgate.jobs.poller import Poller
from vidgate.jobs.previews import PREVIEWS, asset_prefix
from vidgate.jobs.store import Job, JobStore
from vidgate.jobs.submits import Submits
from vidgate.request import (
    VideoRequest,
    resolved_from_json,
    resolved_upload_keys,
    upload_folder,
)
from vidgate.routing.limits import Counters, LimitCounters
from vidgate.routing.live import LiveDeployments
from vidgate.routing.router import Placement
from vidgate.settings import GatewaySettings
from vidgate.storage.base import BlobStore
from vidgate.values import Variant

log = logging.getLogger("vidgate.jobs")


def new_job_id() -> str:
    return "video_" + secrets.token_hex(16)


@dataclasses.dataclass(frozen=True)
class Page:
    jobs: list[Job]
    has_more: bool


class JobService:
    """Everything the video routes do, independent of HTTP."""

    def __init__(
        self,
        store: JobStore,
        live: LiveDeployments,
        placements: Placements,
        creator: Creator,
        submits: Submits,
        storage: BlobStore,
        poller: Poller,
        settings: GatewaySettings,
    ) -> None:
        self.store = store
        self.live = live
        self.placements = placements
        self.creator = creator
        self.submits = submits
        self.storage = storage
        self.poller = poller
        self.settings = settings
        self.key_limits: Counters = LimitCounters()
        """Per-key rpm and jobs in flight; slots are freed when a job ends."""
        self.end_users = EndUserGate(EndUserStore(store.db), lambda: self.key_limits)
        """End users' blocks and limits (their counters are key counters too)."""
        self._background: set[asyncio.Task[None]] = set()
        self.moderator: Moderator | None = None
        """The check of a create's text (``jobs/moderation.py``), when configured."""

    # --- create and its variants --------------------------------------------------------

    async def submit(
        self, principal: Principal, request: VideoRequest, idempotency_key: str | None = None
    ) -> Job:
        """Create a job for any operation and start it upstream."""
        fingerprint = request.fingerprint()
        try:
            if idempotency_key:
                existing = await self.store.find_idempotent(principal.key_id, idempotency_key)
                if existing is not None and not await self._free_refused_key(existing, fingerprint):
                    await self._discard_uploads(request)
                    return _same_request(existing, fingerprint)
            source = await self._source_job(principal, request)
            pinned, groups = await self.placements.groups(principal, request, source)
            if self.moderator is not None:  # valid and placeable: the local terms, free
                self.moderator.check_terms(request)
            plan = Plan(new_job_id(), pinned, skipped=groups.skipped)
            end_user = await self._admit_both(principal, request.user, plan.job_id)
            await self._moderate(principal, request, plan.job_id)
        except GatewayError:
            await self._discard_uploads(request)
            raise

        async def insert(placement: Placement) -> tuple[Job, bool]:
            values = _new_row(
                plan.job_id,
                principal,
                placement,
                source,
                idempotency_key,
                fingerprint,
                request.user,
            )
            values["reserved_usd"] = self.creator.estimate(placement)
            values["budget_ids"] = principal.budget_ids + ([end_user.budget_id] if end_user else [])
            values["lease_owner"] = self.submits.instance
            values["lease_until"] = time.time() + self.settings.submit_lease_s
            return await self.creator.insert_row(values, principal.key_id, idempotency_key)

        try:
            with self.submits.running(plan.job_id):
                job = await self.creator.run(plan, groups, insert)
        except BaseException as exc:
            if plan.job is None:  # no row: nothing will end and free the key's slot
                self._free(principal.key_id, request.user, plan.job_id)
                if isinstance(exc, GatewayError):
                    await self._discard_uploads(request)
            raise
        if job.id != plan.job_id:  # an idempotency race was lost: the winner's job
            self._free(principal.key_id, request.user, plan.job_id)
            await self._discard_uploads(request)
            return _same_request(job, fingerprint)
        return job

    async def estimate(self, principal: Principal, request: VideoRequest) -> dict[str, Any]:
        """A dry run of ``submit`` for a create (``jobs/estimate.py``): no row, no hold, no
        slot, no upstream call; the request's uploads are deleted either way."""
        try:
            return await estimate(
                principal,
                request,
                self.placements,
                self.store,
                self.key_limits,
                self.end_users,
                moderator=self.moderator,
            )
        finally:
            await self._discard_uploads(request)

    async def _admit_both(
        self, principal: Principal, end_user: str | None, job_id: str
    ) -> Admitted | None:
        """The end user's admission (``jobs/end_users.py``), then the key's own limits."""
        admitted = await self.end_users.admit(principal, end_user, job_id)
        try:
            await self._admit(principal, job_id)
        except BaseException:  # a refusal, or a cancellation during the key's take
            self.end_users.release(principal.key_id, end_user, job_id)
            raise
        return admitted

    async def _moderate(self, principal: Principal, request: VideoRequest, job_id: str) -> None:
        """The moderation endpoint, once the slots are taken: a key past its limits is a
        429 without a call. A refusal (or a failure, or a cancellation) gives the jobs-in-
        flight slots back; the rpm tick stays (it was a request, and a refused one still
        cost a moderation call)."""
        if self.moderator is None:
            return
        try:
            await self.moderator.check(request)
        except BaseException:
            self._free(principal.key_id, request.user, job_id)
            raise

    def _free(self, key_id: str, end_user: str | None, job_id: str) -> None:
        """Give back the slots a create took (it made no job, or another job won)."""
        self.key_limits.release(key_id, job_id)
        self.end_users.release(key_id, end_user, job_id)

    def job_ended(self, job: Job) -> None:
        """Free the slots a job held on its key and its end user (an after-end callback)."""
        self._free(job.owner_key_id, job.end_user, job.id)

    async def _admit(self, principal: Principal, job_id: str) -> None:
        """The key's own limits: creates per minute and jobs in flight (429 when full)."""
        rpm, parallel = principal.rpm_limit, principal.max_parallel_jobs
        if rpm is None and parallel is None:
            return
        wait = await self.key_limits.take(principal.key_id, job_id, rpm, parallel)
        if wait > 0:
            raise rate_refusal(self.key_limits, principal.key_id, (rpm, parallel), wait, "this key")

    async def _free_refused_key(self, job: Job, fingerprint: str) -> bool:
        """Retrying a request the upstream refused (429, 5xx...) runs it again: nothing was
        created, so the key has no result to replay; the refused row keeps its history."""
        if job.request_hash != fingerprint or not _refused(job):
            return False
        await self.store.update(job.id, {"idempotency_key": None}, phase="done")
        return True

    async def _discard_uploads(self, request: VideoRequest) -> None:
        for key in request.upload_keys():
            await self.storage.delete_prefix(upload_folder(key))

    async def _source_job(self, principal: Principal, request: VideoRequest) -> Job | None:
        if request.source_video_id is None:
            return None
        source = await self.visible(principal, request.source_video_id)
        if source is None:
            raise NotFound(f"No video found with id '{request.source_video_id}'.", param="video")
        if source.status != "completed":
            raise InvalidRequest(
                f"Video '{source.id}' is {source.status}; only completed videos can be "
                f"used for {request.operation}.",
                param="video",
                code="video_not_ready",
            )
        return source

    # --- reads ----------------------------------------------------------------------------

    async def get(self, principal: Principal, job_id: str) -> Job:
        job = await self.owned(principal, job_id)
        if job.phase == "running" and self._stale(job):
            await self.poller.refresh(job.id, self.settings.refresh_wait_s)
            job = await self.owned(principal, job_id)
        return job

    def cached(self, principal: Principal, job_id: str) -> Job | None:
        """The job from memory if ``get`` would return it unchanged; else ``None``."""
        cache = self.store.cache
        job = cache.get(job_id) if cache is not None else None
        if job is None or job.deleted_at is not None:
            return None
        if job.owner_key_id != principal.key_id and not principal.is_admin:
            return None
        if job.phase == "running" and self._stale(job):
            return None
        return job

    def _stale(self, job: Job) -> bool:
        seen = job.last_polled_at or job.created_at
        due = job.next_poll_at or seen
        return time.time() - max(seen, due) > self.settings.stale_after_s

    async def visible(self, principal: Principal, job_id: str) -> Job | None:
        """A live job the caller may read: its own, or any key's for the master key (which
        still lists only its own in ``GET /v1/videos``; ``/admin/jobs`` lists them all)."""
        if principal.is_admin:
            return await self.store.get_live(job_id)
        return await self.store.get_owned(job_id, principal.key_id)

    async def owned(self, principal: Principal, job_id: str) -> Job:
        job = await self.visible(principal, job_id)
        if job is None:
            raise NotFound(f"No video found with id '{job_id}'.", param="video_id")
        return job

    async def list(
        self,
        principal: Principal,
        *,
        after: str | None,
        limit: int,
        order: str,
        where: listing.JobFilter | None = None,
    ) -> Page:
        """The caller's own jobs; ``where`` filters them (its ``key_id`` is the caller's)."""
        after_seq = None
        if after:
            cursor = await self.store.get_owned(after, principal.key_id)
            if cursor is None:
                raise InvalidRequest(f"No video found with id '{after}'.", param="after")
            after_seq = cursor.seq
        if where is not None:
            own = dataclasses.replace(where, key_id=principal.key_id)
            found, more = await listing.page(
                self.store, own, limit=limit, after_seq=after_seq, descending=order == "desc"
            )
            return Page(found, more)
        rows = await self.store.list_owned(
            principal.key_id, after_seq=after_seq, limit=limit + 1, descending=order == "desc"
        )
        return Page(rows[:limit], len(rows) > limit)

    async def content(self, principal: Principal, job_id: str, variant: Variant) -> dict[str, Any]:
        job = await self.owned(principal, job_id)
        if job.status != "completed":
            detail = f" ({job.error_code})" if job.status == "failed" else f", {job.progress}%"
            raise InvalidRequest(
                f"Video '{job.id}' is {job.status}{detail}; content is available once it "
                "is completed.",
                param="video_id",
                code="video_not_ready",
            )
        asset = (job.assets or {}).get(variant)
        if asset is None and variant in PREVIEWS:
            # a preview the upstream did not serve: made now, once (jobs/previews.py); the
            # archiver's, which owns the media pool, the store's temporary room and the slots
            asset = await self.poller.archiver.on_request.asset(job, variant)
        if asset is None:
            raise NotFound(f"Video '{job.id}' has no {variant}.", param="variant")
        return dict(asset)

    # --- delete ---------------------------------------------------------------------------

    async def delete(self, principal: Principal, job_id: str) -> Job:
        job = await self.owned(principal, job_id)
        now = time.time()
        if job.phase in lifecycle.ENDED_PHASES:
            deleted = await self.store.update(
                job.id, {"deleted_at": now, "updated_at": now}, phase=job.phase
            )
        else:
            deleted = await lifecycle.fail(
                self.store,
                job.id,
                "deleted",
                "The video was deleted before it finished.",
                extra={"deleted_at": now},
            )
        if deleted is None:  # it changed phase under us: try once more with its new state
            return await self.delete(principal, job_id)
        await self.storage.delete_prefix(asset_prefix(job.id))
        for key in resolved_upload_keys(resolved_from_json(job.request)):
            await self.storage.delete_prefix(upload_folder(key))
        self._in_background(self._delete_upstream(job))
        return deleted

    async def _delete_upstream(self, job: Job) -> None:
        client = self.live.client(job.deployment_id, job.created_at)
        if client is None or not job.upstream_id:
            return
        try:
            await client.delete(job.upstream_id)
        except GatewayError as exc:
            log.info("upstream delete of %s failed: %s", job.id, exc.code)

    def _in_background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)


def _same_request(job: Job, fingerprint: str) -> Job:
    if job.request_hash != fingerprint:
        raise Conflict(
            "This Idempotency-Key was already used with a different request body.",
            param="Idempotency-Key",
            code="idempotency_key_reused",
        )
    # a deleted failed job: ended, whether or not its upstream task is still watched
    # (``overdue``), so a replay's answer does not change when the watch stops
    ended = job.phase in lifecycle.ENDED_PHASES
    if job.deleted_at is not None and ended and job.status == "failed":
        raise Conflict(
            "The request with this Idempotency-Key was rejected; use a new key to retry.",
            param="Idempotency-Key",
            code="idempotency_key_reused",
        )
    return job


def _refused(job: Job) -> bool:
    """The job was rejected at submit: it ended (hidden) before any upstream task existed."""
    return (
        job.deleted_at is not None
        and job.phase == "done"
        and job.status == "failed"
        and job.upstream_id is None
    )


def _new_row(
    job_id: str,
    principal: Principal,
    placement: Placement,
    source: Job | None,
    idempotency_key: str | None,
    fingerprint: str,
    end_user: str | None,
) -> dict[str, Any]:
    now = time.time()
    operation = placement.resolved.operation
    return {
        "id": job_id,
        "owner_key_id": principal.key_id,
        **row_values(placement),
        "operation": operation,
        "status": "queued",
        "phase": "submitting",
        "progress": 0,
        "remixed_from": source.id if source and operation == "remix" else None,
        "created_at": now,
        "updated_at": now,
        "poll_failures": 0,
        "idempotency_key": idempotency_key,
        "request_hash": fingerprint,
        "end_user": end_user,
    }
