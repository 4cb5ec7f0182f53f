"""``GET /metrics`` in the Prometheus text format (no auth: no secrets or prompts in it).

Counters and histograms are kept as events happen (``observe/metrics.py``); jobs by status
and the reservations outstanding are read from the store at scrape time, one grouped query.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from starlette.responses import Response

from vidgate.api.schema import described
from vidgate.db.tables import jobs
from vidgate.jobs.store import LIVE_PHASES, JobStore
from vidgate.observe import metrics

router = APIRouter()


_TEXT = described(returns_media=("text/plain",), errors=False)  # Prometheus text format


@router.get("/metrics", response_class=Response, openapi_extra=_TEXT)
async def scrape(request: Request) -> Response:
    store: JobStore = request.app.state.jobs.store
    counts, held = await store.db.read(_snapshot)
    metrics.JOBS.clear()
    for status, provider, count in counts:
        metrics.JOBS.labels(status, provider).set(count)
    metrics.RESERVED.set(held[0])
    metrics.RESERVATIONS.set(held[1])
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)


def _snapshot(conn: Connection) -> tuple[list[tuple[str, str, int]], tuple[float, int]]:
    grouped = select(jobs.c.status, jobs.c.provider, func.count()).group_by(
        jobs.c.status, jobs.c.provider
    )
    counts = [(row[0], row[1], int(row[2])) for row in conn.execute(grouped)]
    outstanding = select(func.coalesce(func.sum(jobs.c.reserved_usd), 0.0), func.count()).where(
        jobs.c.phase.in_(LIVE_PHASES), jobs.c.reserved_usd > 0
    )
    row = conn.execute(outstanding).one()
    return counts, (float(row[0]), int(row[1]))
