"""``create_app(settings)``: wiring and lifespan only.

Start-up applies migrations, builds the deployment table from config (failing fast with the
path of a bad entry), recovers jobs a crash left in ``submitting``, and starts the poller.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from vidgate import __version__
from vidgate.accounting.budgets import BudgetStore
from vidgate.accounting.keys import KeyStore
from vidgate.accounting.retention import Retention
from vidgate.accounting.spend import SpendStore
from vidgate.api import admin, aimlapi, health, models, newapi, operations, videos
from vidgate.api import errors as api_errors
from vidgate.api import metrics as metrics_api
from vidgate.api import schema as api_schema
from vidgate.api import spend as spend_api
from vidgate.api import webhooks as webhook_api
from vidgate.api.bodylimit import BodyLimit
from vidgate.api.fastpath import RetrieveFastPath
from vidgate.api.urlguard import UrlTextGuard
from vidgate.cluster.share import share_through_redis
from vidgate.db.engine import migrate, open_database
from vidgate.jobs import money
from vidgate.jobs.archive import Archiver
from vidgate.jobs.create import Creator
from vidgate.jobs.placements import Placements
from vidgate.jobs.poller import Poller
from vidgate.jobs.service import JobService
from vidgate.jobs.store import Job, JobStore
from vidgate.jobs.submits import Submits
from vidgate.media.pool import MediaPool
from vidgate.netpolicy import OutboundPolicy
from vidgate.observe import metrics
from vidgate.observe.requests import RequestLogWriter, RequestObserver
from vidgate.providers.base import RuntimeContext
from vidgate.providers.registry import PROVIDERS
from vidgate.redact import REDACTOR, known_secrets, url_passwords
from vidgate.routing.config import build_table
from vidgate.routing.dispatch import make_client
from vidgate.routing.imagefetch import ImageFetcher
from vidgate.routing.live import LiveDeployments
from vidgate.routing.reload import reload_config
from vidgate.routing.router import Router
from vidgate.settings import ConfigError, Settings
from vidgate.storage.open import open_storage
from vidgate.webhooks.service import Webhooks

log = logging.getLogger("vidgate")


def create_app(settings: Settings) -> FastAPI:
    """The gateway as an ASGI app; config errors raise ``ConfigError`` here, before serving."""
    table = build_table(settings.config, PROVIDERS, settings.environment)
    REDACTOR.add(known_secrets(settings.config, settings.master_key, table))
    REDACTOR.add(url_passwords(settings.database_url, settings.redis_url))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = open_database(settings.database_url)
        await migrate(db)
        storage = open_storage(settings)
        check_storage = getattr(storage, "check", None)
        if check_storage is not None:  # a missing bucket or bad credentials fail the start
            await check_storage()
        http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=512, max_keepalive_connections=128)
        )
        context = RuntimeContext(settings.data_dir, storage, settings.config.settings.local_workers)
        outbound = OutboundPolicy.from_entries(settings.config.settings.outbound_allow)
        images = ImageFetcher(outbound)  # client-supplied URLs: not through ``http``
        live = LiveDeployments(
            table, lambda dep: make_client(PROVIDERS[dep.provider], dep, context, http, images)
        )
        router = Router(live, settings.config.router, PROVIDERS)
        sqlite = settings.database_url.startswith("sqlite")
        store = JobStore(db, sole_writer=sqlite)  # one process owns a SQLite file
        store.insert_hooks.append(money.hold)
        store.terminal_hooks.append(money.Settlement(live.deployment, PROVIDERS))
        store.after_end.append(lambda job: router.job_ended(job.deployment_id, job.id))
        store.after_end.append(_job_ended)
        gateway = settings.config.settings
        webhooks = Webhooks(
            db, gateway.webhooks, settings.config.webhooks, sole_writer=sqlite, policy=outbound
        )
        await webhooks.start(store)  # before recovery, which may end jobs
        app.state.webhooks = webhooks
        media = MediaPool()
        archiver = Archiver(store, storage, settings.data_dir / "tmp", media)
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
        store.after_end.append(lambda job: service.key_limits.release(job.owner_key_id, job.id))
        app.state.settings = settings
        app.state.live = live
        app.state.router = router
        app.state.storage = storage
        app.state.keys = KeyStore(db, settings.master_key)
        app.state.budgets = BudgetStore(db)
        app.state.spend = SpendStore(db)
        app.state.jobs = service
        app.state.started_at = time.time()
        app.state.request_log = RequestLogWriter(db)
        app.state.request_log.start()
        link = None
        if settings.redis_url:  # replicas share limits, cooldowns and key changes
            max_job_s = gateway.job_timeout_s + gateway.poll_lease_s
            link = await share_through_redis(
                settings.redis_url, router, service, app.state.keys, max_job_s
            )
        retention = Retention.for_settings(db, gateway)  # old spend/request log rows
        retention.start()
        app.state.reload = lambda: reload_config(router, settings.config_path, PROVIDERS)
        if sqlite:
            await store.release_all_leases()
        in_flight = await store.live_jobs()
        router.limits.seed((deployment, job) for deployment, _, job in in_flight)
        service.key_limits.seed((owner, job) for _, owner, job in in_flight)
        recovered = await submits.recover()
        if recovered:
            log.info("recovered %d job(s) interrupted while submitting", recovered)
        task = asyncio.create_task(poller.run()) if settings.run_poller else None
        maintenance = asyncio.gather(submits.maintain(), poller.keep_leases())
        hangup = _on_sighup(app.state.reload)
        try:
            yield
        finally:
            hangup()
            maintenance.cancel()
            if task is not None:
                task.cancel()
            await asyncio.gather(maintenance, *([task] if task else []), return_exceptions=True)
            await poller.aclose()
            await service.aclose()
            await webhooks.aclose()
            await app.state.request_log.aclose()
            await retention.aclose()
            for client in live.all_clients():
                close = getattr(client, "aclose", None)
                if close is not None:
                    await close()
            await http.aclose()
            await images.aclose()
            if link is not None:
                await link.aclose()
            await media.aclose()
            close_storage = getattr(storage, "aclose", None)
            if close_storage is not None:
                await close_storage()
            await db.dispose()

    app = FastAPI(title="vidgate", version=__version__, lifespan=lifespan)
    api_errors.install(app)
    api_schema.install(app)
    app.add_middleware(BodyLimit, limit=settings.config.settings.max_upload_bytes)
    app.add_middleware(RetrieveFastPath)
    app.add_middleware(UrlTextGuard)  # before any route or the fast path reads the URL
    app.add_middleware(RequestObserver)  # outermost: sees the fast path too
    for router in (videos.router, models.router, webhook_api.router):
        app.include_router(router, prefix="/v1")
        app.include_router(router)
    app.include_router(aimlapi.router)  # /v2/...: aimlapi-style clients
    app.include_router(newapi.router)  # /v1/video/generations: new-api clients
    app.include_router(admin.router)
    app.include_router(spend_api.router)
    app.include_router(health.router)
    app.include_router(operations.router)
    app.include_router(metrics_api.router)
    return app


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
