"""Prometheus metrics (``GET /metrics``).

The metric objects live in one registry per process (several gateways in one test process
share it). Hot-path updates are a counter increment and a histogram observation; values that
are cheaper to read than to maintain — jobs by status, reservations outstanding — are read
from the job store when the endpoint is scraped.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "vidgate_requests_total", "API requests.", ("route", "method", "status"), registry=REGISTRY
)
REQUEST_SECONDS = Histogram(
    "vidgate_request_duration_seconds",
    "API request latency.",
    ("route", "method"),
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
GATEWAY_OVERHEAD = Histogram(
    "vidgate_gateway_overhead_seconds",
    "Time an API request spent in the gateway itself until its response started: the "
    "request's time less its upstream calls (also the x-vidgate-overhead-ms header).",
    ("route", "method"),
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
    registry=REGISTRY,
)
UPSTREAM_CALLS = Counter(
    "vidgate_upstream_requests_total",
    "Calls to upstream providers, by deployment and outcome (HTTP status class or error).",
    ("deployment", "provider", "outcome"),
    registry=REGISTRY,
)
UPSTREAM_SECONDS = Histogram(
    "vidgate_upstream_request_duration_seconds",
    "Upstream call latency.",
    ("deployment", "provider"),
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
JOBS_ENDED = Counter(
    "vidgate_jobs_ended_total",
    "Jobs that ended.",
    ("provider", "model", "status"),
    registry=REGISTRY,
)
JOBS = Gauge(
    "vidgate_jobs",
    "Jobs in the store by status and provider (read at scrape).",
    ("status", "provider"),
    registry=REGISTRY,
)
POLL_LAG = Histogram(
    "vidgate_poll_lag_seconds",
    "How late a job was polled after it became due.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
    registry=REGISTRY,
)
SPEND = Counter(
    "vidgate_spend_usd_total", "Settled spend in USD.", ("model", "provider"), registry=REGISTRY
)
JOBS_PAST_DEADLINE = Counter(
    "vidgate_jobs_past_deadline_total",
    "Jobs failed (uncharged) because they ran past their deadline.",
    ("provider", "deployment"),
    registry=REGISTRY,
)
LATE_COMPLETIONS = Counter(
    "vidgate_jobs_late_completions_total",
    "Upstream tasks that completed after their job had failed at its deadline.",
    ("provider", "deployment"),
    registry=REGISTRY,
)
LATE_COMPLETION_COST = Counter(
    "vidgate_late_completion_cost_usd_total",
    "List price of late completions: paid upstream by the operator, charged to no client.",
    ("provider", "deployment"),
    registry=REGISTRY,
)
RESERVED = Gauge(
    "vidgate_reservations_outstanding_usd",
    "USD held on budgets by jobs that have not ended (read at scrape).",
    registry=REGISTRY,
)
RESERVATIONS = Gauge(
    "vidgate_reservations_outstanding",
    "Jobs holding a reservation (read at scrape).",
    registry=REGISTRY,
)
REQUEST_LOG_DROPPED = Counter(
    "vidgate_request_log_dropped_total",
    "Request log rows dropped because the writer fell behind.",
    registry=REGISTRY,
)
MODERATION_CHECKS = Counter(
    "vidgate_moderation_checks_total",
    "Moderation checks of create-like requests, by outcome: passed, blocked_flagged (the "
    "endpoint), blocked_term, error_refused, error_allowed.",
    ("outcome",),
    registry=REGISTRY,
)
MODERATION_SECONDS = Histogram(
    "vidgate_moderation_duration_seconds",
    "Calls to the moderation endpoint.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
