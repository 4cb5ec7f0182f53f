"""Health for load balancers, orchestrators and the CLI; no key needed, no secrets shown.

- ``GET /health`` and ``GET /health/live`` (liveness): the process answers HTTP. Nothing
  else is looked at, so a database outage never gets a healthy process restarted.
- ``GET /health/ready`` (readiness): the process can serve requests now. It runs a trivial
  query on the database, pings Redis when ``redis_url`` is set, and writes, reads back and
  deletes a tiny blob in the storage; 200 with each check's result when all pass, else 503
  with the same body naming the failing check, and an OpenAI error envelope. Each check has
  ``CHECK_TIMEOUT_S``. A result is reused for ``REUSE_S`` and concurrent probes share one run,
  so probing it hard costs the stores nothing more. Failures are logged with their details;
  the answer names only the step and the exception class (it needs no key).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text
from starlette.responses import JSONResponse

from vidgate import __version__
from vidgate.api import openapi_models as m
from vidgate.api.schema import described, ref
from vidgate.db.engine import Database
from vidgate.storage.base import BlobStore

router = APIRouter()
log = logging.getLogger("vidgate.health")

CHECK_TIMEOUT_S = 5.0
"""A check that has not answered by then fails ("no answer within 5 s")."""
REUSE_S = 1.0
"""A readiness result is served again for this long (probes from several balancers)."""
PROBE = b"vidgate readiness probe\n"


@router.get("/health", openapi_extra=described(returns=m.Health, errors=False))
async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "version": __version__})


@router.get("/health/live", openapi_extra=described(returns=m.Health, errors=False))
async def live(request: Request) -> JSONResponse:
    """Liveness: the process answers (the same reply as ``/health``)."""
    return JSONResponse({"status": "ok", "version": __version__})


def _ready_doc() -> dict[str, Any]:
    doc = described(returns=m.Readiness, errors=False)
    doc["responses"]["503"] = {
        "description": "A check failed: the same body, naming it, with an error envelope.",
        "content": {"application/json": {"schema": ref(m.Readiness)}},
    }
    return doc


@router.get("/health/ready", openapi_extra=_ready_doc())
async def ready(request: Request) -> JSONResponse:
    """Readiness: the database, Redis (when configured) and the storage answer."""
    state = request.app.state
    readiness: Readiness | None = getattr(state, "readiness", None)
    if readiness is None:
        readiness = state.readiness = Readiness(_checks(state))
    body = await readiness.result()
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)


Check = Callable[[], Awaitable[None]]


def _checks(state: Any) -> dict[str, Check]:
    """The checks this gateway needs: database and storage always, Redis when configured."""
    checks: dict[str, Check] = {
        "database": lambda: _database(state.jobs.store.db),
        "storage": lambda: _storage(state.storage),
    }
    redis = getattr(state, "redis", None)
    if redis is not None:
        checks = {"database": checks["database"], "redis": lambda: _redis(redis), **checks}
    return checks


async def _database(db: Database) -> None:
    def query(conn: Any) -> None:
        conn.execute(text("SELECT 1")).scalar_one()

    await _step("the query SELECT 1 failed", db.read(query))


async def _redis(redis: Any) -> None:
    await _step("PING failed", redis.ping())


async def _storage(storage: BlobStore) -> None:
    folder = f"health/{secrets.token_hex(8)}/"
    key = folder + "probe"
    failure: CheckFailed | None = None
    try:
        await _step("could not write a probe blob", storage.put_bytes(key, PROBE, "text/plain"))
        read = await _step("could not read the probe blob back", storage.read_all(key))
        if read != PROBE:
            raise CheckFailed("the probe blob read back differs from what was written")
    except CheckFailed as exc:
        failure = exc
    try:
        await _step("could not delete the probe blob", storage.delete_prefix(folder))
    except CheckFailed as exc:
        failure = failure or exc
    if failure is not None:
        raise failure


class CheckFailed(Exception):
    """A check's failure, in words a client may see (the step, the exception's class)."""


async def _step(what: str, work: Awaitable[Any]) -> Any:
    try:
        return await work
    except Exception as exc:
        log.warning("readiness: %s: %s", what, exc, exc_info=exc)
        raise CheckFailed(f"{what} ({type(exc).__name__})") from exc


@dataclass
class Readiness:
    """Runs the checks, at most once per ``REUSE_S``, one run at a time."""

    checks: dict[str, Check]
    _last: dict[str, Any] | None = None
    _at: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def result(self) -> dict[str, Any]:
        async with self._lock:
            if self._last is None or time.monotonic() - self._at >= REUSE_S:
                self._last = await self._run()
                self._at = time.monotonic()
            return self._last

    async def _run(self) -> dict[str, Any]:
        names = list(self.checks)
        results = await asyncio.gather(*(_timed(self.checks[name]) for name in names))
        checks = dict(zip(names, results, strict=True))
        failed = [name for name, result in checks.items() if not result["ok"]]
        body: dict[str, Any] = {
            "status": "unavailable" if failed else "ok",
            "version": __version__,
            "checks": checks,
        }
        if failed:
            reasons = "; ".join(f"{name}: {checks[name]['error']}" for name in failed)
            body["error"] = {
                "message": f"Not ready: {reasons}.",
                "type": "server_error",
                "param": None,
                "code": "not_ready",
            }
        return body


async def _timed(check: Check) -> dict[str, Any]:
    started = time.perf_counter()
    error: str | None = None
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
    except CheckFailed as exc:
        error = str(exc)
    except TimeoutError:
        log.warning("readiness: a check gave no answer within %.0f s", CHECK_TIMEOUT_S)
        error = f"no answer within {CHECK_TIMEOUT_S:.0f} s"
    except Exception as exc:  # a failure outside any step
        log.warning("readiness: a check failed: %s", exc, exc_info=exc)
        error = f"failed ({type(exc).__name__})"
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    return {"ok": error is None, "ms": elapsed, "error": error}
