"""``create_app(settings)``: wiring and lifespan only.

Start-up applies migrations, builds the deployment table from config (failing fast with the
path of a bad entry), recovers jobs a crash left in ``submitting``, and starts the poller.
Each part registers its stop on an ``AsyncExitStack`` when it starts, so shutdown runs in the
reverse order of start-up and a start that fails part-way stops what had started.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from vidgate import __version__, ui
from vidgate.accounting.budgets import BudgetStore
from vidgate.accounting.keys import KeyStore
from vidgate.accounting.pricing import pricing_for
from vidgate.accounting.retention import Retention
from vidgate.accounting.sessions import SessionStore
from vidgate.accounting.spend import SpendStore
from vidgate.api import (
    admin,
    aimlapi,
    config_view,
    docs,
    health,
    models,
    newapi,
    operations,
    videos,
)
from vidgate.api import end_users as end_users_api
from vidgate.api import errors as api_errors
from vidgate.api import metrics as metrics_api
from vidgate.api import schema as api_schema
from vidgate.api import spend as spend_api
from vidgate.api import webhooks as webhook_api
from vidgate.api.front import GatewayApp
from vidgate.db.engine import Database, migrate, open_database
from vidgate.jobs import money
from vidgate.jobs.archive import Archiver
from vidgate.jobs.create import Creator
from vidgate.jobs.moderation import Moderator
from vidgate.jobs.placements import Placements
from vidgate.jobs.poller import Poller
from vidgate.jobs.service import JobService
from vidgate.jobs.store import Job, JobStore
from vidgate.jobs.submits import Submits
from vidgate.media.pool import MediaPool
from vidgate.netpolicy import OutboundPolicy
from vidgate.observe import metrics
from vidgate.observe.requests import RequestLogWriter
from vidgate.providers.base import RuntimeContext
from vidgate.providers.registry import PROVIDERS
from vidgate.redact import REDACTOR, known_secrets, url_passwords
from vidgate.routing.config import DeploymentTable, build_table
from vidgate.routing.dispatch import make_client
from vidgate.routing.imagefetch import ImageFetcher
from vidgate.routing.live import LiveDeployments
from vidgate.routing.reload import reload_config
from vidgate.routing.router import Router
from vidgate.routing.upstream_http import UpstreamHttp
from vidgate.settings import MAX_JOB_DEADLINE_S, ConfigError, GatewaySettings, Settings
from vidgate.storage.base import BlobStore
from vidgate.storage.open import open_storage
from vidgate.webhooks.service import Webhooks

log = logging.getLogger("vidgate")


def create_app(settings: Settings, *, migrate_apart: bool = False) -> FastAPI:
    """The gateway as an ASGI app; config errors raise ``ConfigError`` here, before serving.

    ``migrate_apart``: a schema migration at start-up runs in a child process, so this one
    never loads Alembic (``db.engine.migrate``); ``vidgate serve`` sets it."""
    table = build_table(settings.config, PROVIDERS, settings.environment)
    REDACTOR.add(known_secrets(settings.config, settings.master_key, table))
    REDACTOR.add(url_passwords(settings.database_url, settings.redis_url))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            await _start(app, settings, table, stack, migrate_apart)
            yield

    app = GatewayApp(
        upload_limit=settings.config.settings.max_upload_bytes,  # and the front's layers
        title="vidgate",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # api/docs.py serves /docs offline; no /redoc
        redoc_url=None,
        # FastAPI 0.163 looks for an OpenTelemetry set-up on every request (~6% of a
        # retrieve's CPU, bench/serve_paths.py); vidgate reports through /metrics and logs
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    api_errors.install(app)
    api_schema.install(app)
    for router in (videos.router, models.router, webhook_api.router):
        app.include_router(router, prefix="/v1")
        app.include_router(router)
    app.include_router(aimlapi.router)  # /v2/...: aimlapi-style clients
    app.include_router(newapi.router)  # /v1/video/generations: new-api clients
    app.include_router(admin.router)
    app.include_router(end_users_api.router)  # /customer/*, /end_user/*
    app.include_router(spend_api.router)
    app.include_router(health.router)
    app.include_router(operations.router)
    app.include_router(config_view.router)
    app.include_router(metrics_api.router)
    docs.install(app)
    ui.install(app)
    return app


async def _start(
    app: FastAPI,
    settings: Settings,
    table: DeploymentTable,
    stack: AsyncExitStack,
    migrate_apart: bool,
) -> None:
    """Start the gateway's parts in order. Each part registers its stop on ``stack`` as soon
    as it exists, so the parts stop in the reverse order, and a start that fails part-way
    stops what had started."""
    gateway = settings.config.settings
    sqlite = settings.database_url.startswith("sqlite")  # one process owns a SQLite file
    db = await _database(stack, settings.database_url, migrate_apart)
    storage = await _storage(stack, settings)
    outbound = OutboundPolicy.from_entries(gateway.outbound_allow)
    live = _deployments(stack, settings, table, storage, outbound)
    router = Router(live, settings.config.router, PROVIDERS)
    store = _job_store(db, sqlite, live, router)
    webhooks = Webhooks(
        db, gateway.webhooks, settings.config.webhooks, sole_writer=sqlite, policy=outbound
    )
    stack.push_async_callback(webhooks.aclose)
    await webhooks.start(store)  # before recovery, which may end jobs
    media = MediaPool()
    stack.push_async_callback(media.aclose)
    archiver = Archiver(
        store,
        storage,
        settings.data_dir / "tmp",
        media,
        gateway.archive_concurrency,
        previews=gateway.previews,
    )
    poller = Poller(store, live, PROVIDERS, archiver, gateway)
    placements = Placements(router, storage, media)
    creator = Creator(store, router, poller)
    submits = Submits(
        store,
        live,
        creator,
        gateway,
        poller.owner,
        lambda: (service.key_limits, router.limits),  # scale-out wiring replaces both
    )
    service = JobService(store, live, placements, creator, submits, storage, poller, gateway)
    service.moderator = _moderator(stack, gateway, outbound)
    store.after_end.append(service.job_ended)  # the key's and the end user's slots
    keys = KeyStore(db, settings.master_key)
    request_log = RequestLogWriter(db)
    request_log.start()
    stack.push_async_callback(request_log.aclose)
    if settings.redis_url:  # replicas share limits, cooldowns and key changes
        # the scaleout extra (redis) is imported only when configured: a plain install serves
        from vidgate.cluster.share import share_through_redis

        # A slot is purged by age only past the longest deadline any job may have (a reload
        # may give one up to MAX_JOB_DEADLINE_S, and a job keeps the deadline it was given),
        # plus a poll lease for the look that fails it, so no live job's slot stops counting.
        # Slots a crashed replica leaves behind do not wait that long: every replica frees
        # the slots of jobs no longer live in the database each minute (cluster/redis.py).
        max_job_s = MAX_JOB_DEADLINE_S + gateway.poll_lease_s
        link = await share_through_redis(settings.redis_url, router, service, keys, max_job_s)
        stack.push_async_callback(link.aclose)
        app.state.redis = link.redis  # pinged by /health/ready
    retention = Retention.for_settings(db, gateway)  # old spend/request log rows
    retention.start()
    stack.push_async_callback(retention.aclose)
    reload = functools.partial(reload_config, router, settings.config_path, PROVIDERS)
    _publish(app, settings, live, router, storage, keys, db, service, webhooks, request_log)
    app.state.reload = reload
    # Work that uses everything above: the service's background deletes and the poller's
    # polls and archives stop before any of it (the poller first).
    stack.push_async_callback(service.aclose)
    stack.push_async_callback(poller.aclose)
    await _recover(store, sqlite, router, service, submits)
    _run_in_background(stack, settings.run_poller, poller, submits)
    stack.callback(_on_sighup(reload))


def _moderator(
    stack: AsyncExitStack, gateway: GatewaySettings, outbound: OutboundPolicy
) -> Moderator | None:
    """The check of create-like requests' text, when configured; its client closes at stop."""
    if not gateway.moderation.enabled:
        return None
    moderator = Moderator(gateway.moderation, outbound)
    stack.push_async_callback(moderator.aclose)
    return moderator


async def _database(stack: AsyncExitStack, url: str, apart: bool) -> Database:
    """The database, migrated to the newest schema."""
    db = open_database(url)
    stack.push_async_callback(db.dispose)
    await migrate(db, apart=apart)
    return db


async def _storage(stack: AsyncExitStack, settings: Settings) -> BlobStore:
    """The blob store; a missing bucket or bad credentials fail the start."""
    storage = open_storage(settings)
    close = getattr(storage, "aclose", None)
    if close is not None:
        stack.push_async_callback(close)
    check = getattr(storage, "check", None)
    if check is not None:
        await check()
    return storage


def _deployments(
    stack: AsyncExitStack,
    settings: Settings,
    table: DeploymentTable,
    storage: BlobStore,
    outbound: OutboundPolicy,
) -> LiveDeployments:
    """The deployments in force, each with its client: HTTP providers share one connection
    pool; client-supplied image URLs are fetched by a client of their own, under the
    outbound address policy."""
    http = UpstreamHttp(max_connections=512)
    stack.push_async_callback(http.aclose)
    images = ImageFetcher(outbound)  # client-supplied URLs: not through ``http``
    stack.push_async_callback(images.aclose)
    context = RuntimeContext(settings.data_dir, storage, settings.config.settings.local_workers)
    live = LiveDeployments(
        table, lambda dep: make_client(PROVIDERS[dep.provider], dep, context, http, images)
    )
    stack.push_async_callback(_close_clients, live)
    return live


async def _close_clients(live: LiveDeployments) -> None:
    """Close every deployment's client, retired ones included."""
    for client in live.all_clients():
        close = getattr(client, "aclose", None)
        if close is not None:
            await close()


def _job_store(db: Database, sqlite: bool, live: LiveDeployments, router: Router) -> JobStore:
    """The job rows, with the money moves in their transactions and the bookkeeping after
    a job ends."""
    store = JobStore(db, sole_writer=sqlite)
    store.insert_hooks.append(money.hold)
    store.terminal_hooks.append(money.Settlement(live.deployment, PROVIDERS))
    store.after_end.append(lambda job: router.job_ended(job.deployment_id, job.id))
    store.after_end.append(_job_ended)
    return store


def _publish(
    app: FastAPI,
    settings: Settings,
    live: LiveDeployments,
    router: Router,
    storage: BlobStore,
    keys: KeyStore,
    db: Database,
    service: JobService,
    webhooks: Webhooks,
    request_log: RequestLogWriter,
) -> None:
    """What the routes reach through ``app.state``."""
    app.state.settings = settings
    app.state.live = live
    app.state.router = router
    app.state.storage = storage
    app.state.keys = keys
    app.state.sessions = SessionStore(db)
    app.state.budgets = BudgetStore(db)
    app.state.spend = SpendStore(db)
    app.state.jobs = service
    app.state.webhooks = webhooks
    app.state.request_log = request_log
    app.state.started_at = time.time()
    app.state.price_of = functools.partial(pricing_for, providers=PROVIDERS)  # GET /v1/models


async def _recover(
    store: JobStore, sqlite: bool, router: Router, service: JobService, submits: Submits
) -> None:
    """Count the jobs still running against their limits, and finish the submits a crash
    interrupted (the sole process first forgets the leases its previous run held)."""
    if sqlite:
        await store.release_all_leases()
    in_flight = await store.live_jobs()
    router.limits.seed((job.deployment_id, job.job_id) for job in in_flight)
    service.key_limits.seed((job.owner_key_id, job.job_id) for job in in_flight)
    service.end_users.seed(in_flight)
    recovered = await submits.recover()
    if recovered:
        log.info("recovered %d job(s) interrupted while submitting", recovered)


def _run_in_background(
    stack: AsyncExitStack, run_poller: bool, poller: Poller, submits: Submits
) -> None:
    """Start the poller and the lease upkeep (submit heartbeat and recovery, poll leases);
    they are cancelled at stop, before anything they use stops."""
    tasks: list[asyncio.Future[Any]] = [asyncio.create_task(poller.run())] if run_poller else []
    # Tasks of their own, not one gather: a gather is done as soon as one of its children is
    # cancelled, so the stop did not wait for the submit upkeep's own stop (the heartbeat
    # thread's join) and left it running after the app had stopped.
    tasks += [asyncio.create_task(submits.maintain()), asyncio.create_task(poller.keep_leases())]

    async def cancel() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    stack.push_async_callback(cancel)


def _job_ended(job: Job) -> None:
    """One log line and the metrics for every job that ends."""
    metrics.JOBS_ENDED.labels(job.provider, job.model, job.status).inc()
    if job.cost_usd:
        metrics.SPEND.labels(job.model, job.provider).inc(job.cost_usd)
    log.info(
        "job ended",
        extra={
            "event": f"job.{job.status}",
            "job_id": job.id,
            "key_id": job.owner_key_id,
            "model": job.model,
            "deployment_id": job.deployment_id,
            "status": job.status,
            "error_code": job.error_code,
            "cost_usd": job.cost_usd,
            "seconds": (job.usage or {}).get("duration_seconds"),
        },
    )


def _on_sighup(reload: Callable[[], object]) -> Callable[[], None]:
    """Reload the config on SIGHUP (main thread only); returns the undo."""

    def handle() -> None:
        try:
            reload()
        except ConfigError as exc:
            log.error("config reload failed, keeping the running config:\n%s", exc)

    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGHUP, handle)
    except (NotImplementedError, RuntimeError, ValueError, AttributeError):
        return lambda: None  # not the main thread (embedded in tests) or no SIGHUP here

    def undo() -> None:
        loop.remove_signal_handler(signal.SIGHUP)

    return undo
