"""Every API request observed once: a request id, a log row, a JSON log line, metrics.

``RequestObserver`` is the outermost ASGI middleware, so it sees requests the retrieve fast
path answers too. It reports the gateway's own share of each request's time: the time until
the response starts less the time spent waiting on upstream calls made for the request
(provider calls, image URL fetches and the moderation endpoint report theirs through
``upstream_time``), as the ``x-vidgate-overhead-ms`` response header and the
``vidgate_gateway_overhead_seconds`` histogram. The request id is the client's
``X-Request-ID`` (if it is a sane token) or a new one, and is echoed on the response. Routes
add what they learn — the key, the model, the deployment, the job, the error code — to
``scope["state"]``.

Request log rows are buffered and written in batches by ``RequestLogWriter`` (one
transaction per second or per thousand rows), so logging costs the hot retrieve path a list
append, not a database write; if the writer falls behind by more than ``MAX_BUFFER`` rows,
rows are dropped and counted rather than growing memory. Rows pass the process's secret
redaction on their way to the database. A batch is one statement of plain tuples compiled
once per dialect (``exec_driver_sql``): SQLAlchemy's ``insert()`` with a list of dicts
compiles and binds every row again, 13 us a row in SQLite against 6-7 us (measured with
batches of 50-1,000 rows; at 4,000 retrieves/s that was 15% of the gateway's CPU).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
import re
import time
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidgate.db.engine import Database
from vidgate.db.tables import request_logs
from vidgate.observe import metrics
from vidgate.observe.logs import info_fields
from vidgate.redact import REDACTOR

access = logging.getLogger("vidgate.access")
log = logging.getLogger("vidgate.observe")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_IDS = re.compile(r"/(?:video|whep|whd|evt|key|req|team|user)_[A-Za-z0-9_\-]+")
_FAST_ROUTES = frozenset({"/v1/videos/{id}", "/videos/{id}"})
"""What the retrieve fast path serves without the router (it sets no ``scope["route"]``)."""
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
FLUSH_S = 1.0
BATCH = 1000
MAX_BUFFER = 50_000
STATE_FIELDS = (
    "key_id",
    "model",
    "deployment_id",
    "job_id",
    "error_code",
    "end_user",
    "moderation",
)
UNLOGGED = frozenset({"/health", "/health/live", "/health/ready", "/metrics"})
"""Probes and scrapes: counted in the metrics, not written to the request log."""


def route_of(path: str) -> str:
    """The path with ids replaced, for grouping (``/v1/videos/{id}``); a NUL as the client
    wrote it (``%00``), since PostgreSQL text cannot hold one."""
    return _IDS.sub("/{id}", path).replace("\x00", "%00")[:200]


def metric_labels(scope: Scope, route: str) -> tuple[str, str]:
    """Route and method labels from a bounded set, whatever paths and methods clients send:
    the matched route's template, the fast path's, or ``(unmatched)``; ``OTHER`` for
    methods HTTP does not define (each label value is a time series kept forever)."""
    template = getattr(scope.get("route"), "path", None)
    if template is None:
        template = route if route in _FAST_ROUTES else "(unmatched)"
    else:
        template = _mounted_at(scope, template) + template
    method = scope["method"]
    return template, method if method in _METHODS else "OTHER"


def _mounted_at(scope: Scope, template: str) -> str:
    """The prefix a router was included under (``/v1``): the request path less the route's
    own path with its parameters filled in."""
    try:
        own = template.format(**scope.get("path_params", {}))
    except (KeyError, IndexError, ValueError):
        return ""
    path: str = scope["path"]
    return path[: -len(own)] if own and path.endswith(own) else ""


def note(scope: Scope, **fields: Any) -> None:
    """Record what a route learned about the request, for its log row."""
    scope.setdefault("state", {}).update(fields)


_CURRENT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "vidgate_request_state", default=None
)
"""The state of the request being served (set by ``RequestObserver``), for code below the
routes that has no scope (the job service's moderation check)."""


def upstream_time(seconds: float) -> None:
    """Count ``seconds`` spent waiting on an upstream toward the current request (if any):
    the gateway's overhead excludes it."""
    state = _CURRENT.get()
    if state is not None:
        state[_UPSTREAM] = state.get(_UPSTREAM, 0.0) + seconds


_UPSTREAM = "_upstream_s"
OVERHEAD_HEADER = b"x-vidgate-overhead-ms"


def note_current(**fields: Any) -> None:
    """``note`` for the request being served; nothing outside a request."""
    state = _CURRENT.get()
    if state is not None:
        state.update(fields)


class RequestLogWriter:
    """Buffers request log rows and writes them in batches."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._rows: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def add(self, row: dict[str, Any]) -> None:
        if len(self._rows) >= MAX_BUFFER:
            metrics.REQUEST_LOG_DROPPED.inc()
            return
        self._rows.append(row)
        if len(self._rows) >= BATCH:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_S)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("writing request logs failed")

    async def flush(self) -> None:
        rows, self._rows = self._rows, []
        if rows:
            await self.db.write_bulk(lambda conn: _insert_rows(conn, _redacted(rows)))

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush()


_PRIVATE = ((b"cache-control", b"private, no-store"), (b"x-content-type-options", b"nosniff"))
"""Sent with every reply to a request marked ``private`` (``state["private"]``): one a browser
made with the console's session cookie, which no cache may keep — unless the reply says its
own caching (a video's assets: ``private, max-age``, so the browser keeps thumbnails)."""


def _private(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _ in headers}
    return [(name, value) for name, value in _PRIVATE if name not in present]


class RequestObserver:
    """ASGI middleware: request id, timing, log row, access log line and metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        current = _CURRENT.set(state)
        status = 500
        overhead: float | None = None
        header = (b"x-request-id", request_id.encode())

        async def observed(message: Message) -> None:
            nonlocal status, overhead
            if message["type"] == "http.response.start":
                status = message["status"]
                overhead = time.perf_counter() - started - state.get(_UPSTREAM, 0.0)
                overhead = max(overhead, 0.0)
                timing = (OVERHEAD_HEADER, f"{overhead * 1000:.2f}".encode())
                headers = [*message.get("headers", []), header, timing]
                if state.get("private"):
                    headers += _private(headers)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            _CURRENT.reset(current)
            self._record(scope, state, status, time.perf_counter() - started, overhead)

    def _record(
        self,
        scope: Scope,
        state: dict[str, Any],
        status: int,
        elapsed: float,
        overhead: float | None,
    ) -> None:
        route = route_of(scope["path"])
        method = scope["method"][:8]  # the column's size (MKCALENDAR is 10 letters)
        counted, timed, overhead_timed = _series(*metric_labels(scope, route), status)
        counted.inc()
        timed.observe(elapsed)
        if overhead is not None:
            overhead_timed.observe(overhead)
        row = {
            "at": time.time(),
            "request_id": state["request_id"],
            "method": method,
            "route": route,
            "status_code": status,
            "latency_ms": round(elapsed * 1000, 3),
            **{name: state.get(name) for name in STATE_FIELDS},
        }
        app_state = getattr(scope.get("app"), "state", None)
        writer = getattr(app_state, "request_log", None)
        if writer is not None and route not in UNLOGGED:
            writer.add(row)
        if access.isEnabledFor(logging.INFO):
            extra = {"event": "request", **row}
            if overhead is not None:
                extra["overhead_ms"] = round(overhead * 1000, 3)
            info_fields(access, "request", extra)


_SERIES: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}
"""Each label set's metric children, looked up once (``labels()`` cost ~2 us each, three a
request); bounded like the label values themselves."""


def _series(route: str, method: str, status: int) -> tuple[Any, Any, Any]:
    """The request counter, latency and overhead histograms of one route, method and status."""
    found = _SERIES.get((route, method, status))
    if found is None:
        found = (
            metrics.REQUESTS.labels(route, method, str(status)),
            metrics.REQUEST_SECONDS.labels(route, method),
            metrics.GATEWAY_OVERHEAD.labels(route, method),
        )
        _SERIES[(route, method, status)] = found
    return found


_COLUMNS = tuple(column.name for column in request_logs.columns if column.name != "seq")
_INSERTS: dict[tuple[str, str], str] = {}
"""The batch insert's SQL for each dialect and driver (their parameter styles differ),
compiled once; ``inline``: no ``RETURNING`` of the new keys nobody reads."""


def _insert_rows(conn: Connection, rows: list[dict[str, Any]]) -> None:
    dialect = conn.dialect
    sql = _INSERTS.get((dialect.name, dialect.driver))
    if sql is None:
        statement = insert(request_logs).inline().values({name: None for name in _COLUMNS})
        sql = _INSERTS[dialect.name, dialect.driver] = str(statement.compile(dialect=dialect))
    if dialect.positional:
        conn.exec_driver_sql(sql, [tuple(row.get(name) for name in _COLUMNS) for row in rows])
    else:
        conn.exec_driver_sql(sql, [{name: row.get(name) for name in _COLUMNS} for row in rows])


def _redacted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without secrets: the path, model, user and request id are the client's text (a
    key pasted into a path). One check of all the batch's text first, in the writer thread:
    rows with nothing to hide, nearly all of them, are written as they are."""
    text = "\n".join(v for row in rows for v in row.values() if isinstance(v, str))
    if REDACTOR(text) == text:
        return rows
    return [{k: REDACTOR(v) if isinstance(v, str) else v for k, v in r.items()} for r in rows]


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = str(value.decode("latin-1")).strip()
            if _REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return f"req_{int(time.time() * 1000):011x}{_IDS_RANDOM.getrandbits(52):013x}"


_IDS_RANDOM = random.Random()
"""Request ids need to be unique, not unguessable (they are echoed to the client and logged,
never trusted): a generator seeded once from the OS, instead of ``secrets`` reading the
OS's random source for every request — a system call that also releases the GIL, so a
retrieve could wait behind the request log's writer thread to get it back.

An id starts with the time in milliseconds (then 52 random bits), so ids sort by time and
each new row of ``request_logs`` lands at the end of its ``request_id`` index instead of on
a random page of it: measured in SQLite at 250,000-300,000 rows, 30 us a row with random
ids against 8.9 us (and random ids cost more as the table grows)."""
